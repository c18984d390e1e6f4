package exec

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// Kernels of session 19 (issue 14 part 3) against the row path, as calc_vec_fn_test.go: random batches
// with NULLs and edge values give the same rows and errors on the row path and both vector paths.

// TestCalcVecRoundPlacesMatchRowPath: ROUND/TRUNCATE of integers and floats with places that are a column
// or an expression (negative, zero, beyond the digits, NULL).
func TestCalcVecRoundPlacesMatchRowPath(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	exprs := map[string]expr.Expr{"flag": e.col(16)}
	var names []string
	places := map[string]expr.Expr{
		"k":    e.col(19),                       // -2..12
		"ti":   e.col(0),                        // -128..127
		"k-18": e.call("-", e.col(19), i32(18)), // -20..-6
		"neg":  e.call("-", i32(0), e.col(19)),  // 2..-12
	}
	for ci := 0; ci <= 5; ci++ {
		for pn, p := range places {
			for _, fn := range []string{"ROUND", "TRUNCATE"} {
				name := fmt.Sprintf("%s(%s,%s)", fn, fnTestNames[ci], pn)
				exprs[name] = e.call(fn, e.col(ci), p)
				names = append(names, name)
			}
		}
	}
	cases := []vecCase{{projects: names}, {filter: "flag", projects: names}}
	checkVecCases(t, fnTestTypes, exprs, nil, cases, fnBatches(4))
}

// TestCalcVecEpochFloatMatchRowPath: TO_TIMESTAMP_LTZ and FROM_UNIXTIME of DECIMAL, FLOAT and DOUBLE
// (fractions of a millisecond, negative values, NaN and infinities, values beyond the years 1..9999).
func TestCalcVecEpochFloatMatchRowPath(t *testing.T) {
	for _, zone := range []string{"UTC", "America/New_York"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.ReplaceAll(zone, "/", "_"), func(t *testing.T) {
			e := fnTestEnv{t, expr.NewEnv(loc)}
			exprs := map[string]expr.Expr{"flag": e.col(16)}
			dbl := func(f float64) expr.Expr {
				return expr.Literal(types.FloatValue(f), types.DoubleType().WithNullable(false))
			}
			recent := e.call("+", e.call("*", e.col(19), dbl(86_399.1237)), dbl(1.7e9)) // never beyond the years 1..9999
			ms := e.call("*", recent, dbl(1000))
			recentDec := e.call("+", e.col(6), expr.Literal(types.DecimalValue(1_700_000_000, 0), types.DecimalType(10, 0).WithNullable(false)))
			var ltz, fmts []string
			for name, x := range map[string]expr.Expr{"fl": e.col(4), "db": e.col(5), "d": e.col(6), "n": e.col(8), "w": e.col(9), "m": e.col(11), "recent": recent, "ms": ms, "recentDec": recentDec} {
				for _, p := range []int64{0, 3, -1} {
					args := []expr.Expr{x}
					if p >= 0 {
						args = append(args, i32(p))
					}
					key := fmt.Sprintf("ltz-%s-%d", name, p)
					exprs[key] = e.call("TO_TIMESTAMP_LTZ", args...)
					ltz = append(ltz, key)
				}
				if name == "ms" {
					continue
				}
				for pn, args := range map[string][]expr.Expr{
					"def": {x},
					"fmt": {x, strLit("yyyy-MM-dd HH:mm:ss.SSS EEE")},
					"col": {x, e.call("IF", e.col(16), strLit("yyyy-MM"), strLit("HH:mm:ss.SSS"))},
				} {
					key := fmt.Sprintf("from-%s-%s", name, pn)
					exprs[key] = e.call("FROM_UNIXTIME", args...)
					fmts = append(fmts, key)
				}
			}
			mayBail := map[string]bool{}
			for _, f := range fmts {
				mayBail[f] = !strings.Contains(f, "recent")
			}
			cases := []vecCase{{projects: ltz}, {filter: "flag", projects: ltz}}
			for _, f := range fmts {
				cases = append(cases, vecCase{projects: []string{f}})
			}
			cases = append(cases, vecCase{filter: "flag", projects: []string{"from-recent-fmt", "from-recentDec-col"}})
			checkVecCases(t, fnTestTypes, exprs, mayBail, cases, fnBatches(5))
		})
	}
}

// TestCalcVecInListMatchRowPath: [NOT] IN over lists that are not constant, of every family of types
// (numerics of mixed kinds compared by value, strings, timestamps of two precisions, booleans, dates),
// with NULL operands and elements, and an element the row path never evaluates that would fail.
func TestCalcVecInListMatchRowPath(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	exprs := map[string]expr.Expr{"flag": e.col(16)}
	in := func(not bool, x expr.Expr, list ...expr.Expr) expr.Expr {
		r, err := expr.In(x, list, not)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	plus1 := func(x expr.Expr) expr.Expr { return e.call("+", x, i32(1)) }
	var names []string
	for _, not := range []bool{false, true} {
		for name, args := range map[string][]expr.Expr{
			"ints":      {e.col(2), e.col(0), plus1(e.col(19)), e.col(1)},
			"bigint":    {e.col(3), e.col(2), i32(5)},
			"int-null":  {e.col(19), e.col(0), expr.Literal(types.NullValue, types.IntType())},
			"floats":    {e.col(5), e.col(4), e.col(2)},
			"float-dec": {e.col(6), e.col(5), e.col(4)},
			"decs":      {e.col(6), e.col(8), e.col(2), e.col(11)},
			"wide":      {e.col(9), e.col(10), e.col(6)},
			"strs":      {e.col(12), e.col(13), strLit("a"), e.call("UPPER", e.col(12))},
			"ts":        {e.col(14), e.col(15), e.call("TIMESTAMPADD", strLit("DAY"), e.col(19), e.col(14))},
			"bool":      {e.col(16), e.call("IS NULL", e.col(2))},
			"date":      {e.col(17), e.call("NULLIF", e.col(17), e.col(17)), e.col(17)},
		} {
			key := fmt.Sprintf("%s-%v", name, not)
			exprs[key] = in(not, args[0], args[1:]...)
			names = append(names, key)
		}
	}
	// a IN (a, 100 / (k + 2)): the row path stops at a (or at a NULL a); the kernels bail where k = -2.
	exprs["never"] = in(false, e.col(3), e.col(3), e.call("/", i32(100), plus1(plus1(e.col(19)))))
	cases := []vecCase{{projects: names}, {filter: "flag", projects: names}, {projects: []string{"never"}}}
	checkVecCases(t, fnTestTypes, exprs, map[string]bool{"never": true}, cases, fnBatches(6))
}

// TestCalcVecParseTsPatternColumnMatchRowPath: TO_TIMESTAMP and UNIX_TIMESTAMP with a pattern column
// (patterns that change from row to row, NULL patterns, texts that do not parse, offsets, a pattern the
// row path refuses), and UNIX_TIMESTAMP() on a clock that moves by a second per reading.
func TestCalcVecParseTsPatternColumnMatchRowPath(t *testing.T) {
	for _, zone := range []string{"UTC", "America/New_York"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.ReplaceAll(zone, "/", "_"), func(t *testing.T) {
			env := expr.NewEnv(loc)
			readings := 0
			env.Now = func() time.Time {
				readings++
				return time.Unix(1_700_000_000, 0)
			}
			e := fnTestEnv{t, env}
			exprs := map[string]expr.Expr{"flag": e.col(16)}
			df := func(x expr.Expr, p string) expr.Expr { return e.call("DATE_FORMAT", x, strLit(p)) }
			pick := func(a, b string) expr.Expr { return e.call("IF", e.col(16), strLit(a), strLit(b)) }
			p1, p2 := "yyyy-MM-dd HH:mm:ss.SSS", "dd/MM/yyyy HH:mm"
			text := e.call("IF", e.col(16), df(e.col(14), p1), df(e.col(15), p2)) // matches pick(p1, p2)
			crossed := e.call("IF", e.col(16), df(e.col(14), p2), df(e.col(15), p1))
			nullPat := e.call("NULLIF", pick(p1, p2), strLit(p2))
			var names []string
			for _, fn := range []string{"TO_TIMESTAMP", "UNIX_TIMESTAMP"} {
				for name, args := range map[string][]expr.Expr{
					"match":   {text, pick(p1, p2)},
					"crossed": {crossed, pick(p1, p2)},
					"nullpat": {text, nullPat},
					"strs":    {e.col(12), pick("yyyy", "a")},
					"offset":  {pick("2024-03-10 02:30:00 +0530", "2024-11-03 01:30:00"), pick("yyyy-MM-dd HH:mm:ss Z", "yyyy-MM-dd HH:mm:ss")},
				} {
					key := fmt.Sprintf("%s-%s", fn, name)
					exprs[key] = e.call(fn, args...)
					names = append(names, key)
				}
			}
			exprs["bad"] = e.call("TO_TIMESTAMP", text, pick(p1, "yyyy-MM-dd qqqq"))
			exprs["now"] = e.call("UNIX_TIMESTAMP")
			exprs["now-diff"] = e.call("-", e.call("UNIX_TIMESTAMP"), e.call("UNIX_TIMESTAMP", df(e.col(14), "yyyy-MM-dd HH:mm:ss")))
			cases := []vecCase{{projects: names}, {filter: "flag", projects: names}, {projects: []string{"bad"}},
				{projects: []string{"now", "now-diff"}}, {filter: "flag", projects: []string{"now"}}}
			checkVecCases(t, fnTestTypes, exprs, map[string]bool{"bad": true}, cases, fnBatches(7))
			// UNIX_TIMESTAMP() reads the clock once per row that passes the filter, on every path.
			for _, rows := range fnBatches(8)[:5] {
				var counts []int
				for _, path := range []string{"rows", "vec-rows", "vec-cols"} {
					readings = 0
					if _, err := runCalcPathTypes(fnTestTypes, []expr.Expr{exprs["now"]}, exprs["flag"], rows, path); err != nil {
						t.Fatal(err)
					}
					counts = append(counts, readings)
				}
				if counts[0] != counts[1] || counts[0] != counts[2] || counts[0] == 0 {
					t.Fatalf("clock readings per path (rows, vec-rows, vec-cols): %v", counts)
				}
			}
		})
	}
}

// TestCalcVecExtractIntervalMatchRowPath: EXTRACT of every unit from INTERVAL DAY TO SECOND and YEAR TO
// MONTH columns (negative counts, the int64 limits, NULLs).
func TestCalcVecExtractIntervalMatchRowPath(t *testing.T) {
	ts := []types.Type{{Kind: types.IntervalDayTime}, {Kind: types.IntervalYearMonth}, types.BooleanType()}
	for i := range ts[:2] {
		ts[i] = ts[i].WithNullable(true)
	}
	env := expr.NewEnv(nil)
	rng := rand.New(rand.NewSource(9))
	edges := []int64{0, 1, -1, 11, 12, -12, -13, 86_399_999, 86_400_000, -86_400_001, 59_999, 3_599_999, math.MaxInt64, math.MinInt64}
	var batches [][]changelog.Row
	for b := 0; b < 20; b++ {
		rows := make([]changelog.Row, 1+rng.Intn(200))
		for r := range rows {
			v := make([]types.Value, 3)
			for j := 0; j < 2; j++ {
				switch rng.Intn(6) {
				case 0:
				case 1:
					v[j] = types.IntValue(edges[rng.Intn(len(edges))])
				default:
					v[j] = types.IntValue(rng.Int63n(1<<40) - 1<<39)
				}
			}
			v[2] = types.BoolValue(rng.Intn(2) == 0)
			rows[r].Vals = v
		}
		batches = append(batches, rows)
	}
	exprs := map[string]expr.Expr{"flag": expr.Column(2, "flag", ts[2])}
	var names []string
	for j, units := range [][]string{{"DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND"}, {"YEAR", "MONTH"}} {
		for _, u := range units {
			x, err := expr.Call(env, "EXTRACT", strLit(u), expr.Column(j, fmt.Sprint("iv", j), ts[j]))
			if err != nil {
				t.Fatal(err)
			}
			key := fmt.Sprintf("%s-%d", u, j)
			exprs[key] = x
			names = append(names, key)
		}
	}
	checkVecCases(t, ts, exprs, nil, []vecCase{{projects: names}, {filter: "flag", projects: names}}, batches)
}

// TestCalcVecLikeEscapeColumnMatchRowPath: LIKE with an escape that is not a literal (a column, an
// expression, NULL), with patterns that use it and texts holding the escaped characters; escapes the row
// path refuses (” or two characters) bail.
func TestCalcVecLikeEscapeColumnMatchRowPath(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	pick := func(a, b string) expr.Expr { return e.call("IF", e.col(16), strLit(a), strLit(b)) }
	small := e.call(">", e.col(19), i32(5))
	text := e.call("CONCAT", e.col(12), e.call("IF", small, strLit("%"), strLit("_x")))
	escCol := e.call("IF", small, strLit("!"), strLit("\\"))
	exprs := map[string]expr.Expr{
		"flag":    e.col(16),
		"col":     e.call("LIKE", text, pick("%!%", "%\\_x"), escCol),
		"litpat":  e.call("LIKE", text, strLit("a%!%"), escCol),
		"nullesc": e.call("LIKE", text, pick("%!%", "a%"), e.call("NULLIF", escCol, strLit("!"))),
		"pcol":    e.call("LIKE", e.col(12), e.col(13), escCol),
		"empty":   e.call("LIKE", text, pick("%!%", "%"), e.call("IF", e.call("=", e.col(19), i32(-2)), strLit(""), strLit("!"))),
		"two":     e.call("LIKE", text, pick("%!%", "%"), e.call("IF", e.call("=", e.col(19), i32(-2)), strLit("!!"), strLit("!"))),
		"badpat":  e.call("LIKE", text, e.call("IF", e.call("=", e.col(19), i32(-2)), strLit("a!"), strLit("a%")), escCol),
	}
	ok := []string{"col", "litpat", "nullesc", "pcol"}
	cases := []vecCase{{projects: ok}, {filter: "flag", projects: ok}, {projects: []string{"empty"}}, {projects: []string{"two"}}, {projects: []string{"badpat"}}}
	checkVecCases(t, fnTestTypes, exprs, map[string]bool{"empty": true, "two": true, "badpat": true}, cases, fnBatches(10))
}
