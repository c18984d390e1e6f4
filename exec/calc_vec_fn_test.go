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

// The kernels of numeric FLOOR/CEIL/ROUND/TRUNCATE, LPAD/RPAD, GREATEST/LEAST and TIMESTAMPADD /
// TIMESTAMPDIFF against the row path: random batches with NULLs, ties, values at the types' limits (int64,
// 18 and 38 digits), floats whose shortest digits round differently from their binary value, NaN and
// infinities, give the same rows (representation included) and errors on the three paths.

var fnTestTypes = []types.Type{
	types.TinyIntType(),       // 0 ti
	types.SmallIntType(),      // 1 si
	types.IntType(),           // 2 i
	types.BigIntType(),        // 3 a
	types.FloatType(),         // 4 fl
	types.DoubleType(),        // 5 db
	types.DecimalType(10, 2),  // 6 d
	types.DecimalType(18, 0),  // 7 g
	types.DecimalType(18, 4),  // 8 n
	types.DecimalType(38, 10), // 9 w
	types.DecimalType(38, 0),  // 10 z
	types.DecimalType(20, 2),  // 11 m
	types.StringType(),        // 12 s
	types.StringType(),        // 13 p (pad)
	types.TimestampType(3),    // 14 t
	types.TimestampType(9),    // 15 u
	types.BooleanType(),       // 16 flag
	types.DateType(),          // 17 dt
	types.TimestampLTZType(3), // 18 l
	types.IntType(),           // 19 k (a small length or count)
	types.TimeType(3),         // 20 tm
}

var fnTestNames = []string{"ti", "si", "i", "a", "fl", "db", "d", "g", "n", "w", "z", "m", "s", "p", "t", "u", "flag", "dt", "l", "k", "tm"}

func fnTestRows(rng *rand.Rand, n int) []changelog.Row {
	edgeInts := []int64{0, 1, -1, 5, -5, 15, 25, -25, 45, 95, 149, 150, -150, 127, -128, 32767, -32768, math.MaxInt32, math.MinInt32,
		math.MaxInt64, math.MinInt64, 5_000_000_000_000_000_000 - 1, 5_000_000_000_000_000_000, -5_000_000_000_000_000_000, 999_999_999_999_999_999}
	edgeFloats := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1.5, 2.5, -2.5, 0.125, 1.005, 2.675, -2.675, 0.045, 1e20, 1.5e20, -9.5e21,
		123456789.987, 1e-10, 5e-324, math.MaxFloat64, -math.MaxFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 1e300, 0.1 + 0.2, 99.995, 4.35}
	strs := []string{"", "a", "abc", "héllo", "Google", "日本語", "\xff\xfe", "x y"}
	pads := []string{"", "*", "ab", "é-", "\xc3"}
	null := func() bool { return rng.Intn(7) == 0 }
	rows := make([]changelog.Row, n)
	for r := range rows {
		v := make([]types.Value, len(fnTestTypes))
		for j, t := range fnTestTypes {
			if null() {
				continue
			}
			switch {
			case t.IsIntegral() && j != 19:
				x := rng.Int63n(4000) - 2000
				if rng.Intn(3) == 0 {
					x = edgeInts[rng.Intn(len(edgeInts))]
				}
				w := intWidth(t.Kind)
				v[j] = types.IntValue(x << (64 - w) >> (64 - w))
			case j == 19:
				v[j] = types.IntValue(rng.Int63n(15) - 2)
			case isFloat(t):
				f := float64(rng.Int63n(2_000_000)-1_000_000) / []float64{8, 1000, 3, 1e7}[rng.Intn(4)]
				if rng.Intn(3) == 0 {
					f = edgeFloats[rng.Intn(len(edgeFloats))]
				}
				if t.Kind == types.Float {
					f = float64(float32(f))
				}
				v[j] = types.FloatValue(f)
			case t.Kind == types.Decimal:
				u := randUnscaled(rng, t.Precision)
				if rng.Intn(4) == 0 { // a tie at some digit
					u.SetInt64(int64(rng.Intn(2000)-1000)*10 + 5)
				}
				v[j] = types.BigDecimalValue(u, t.Scale)
			case t.IsString():
				if j == 13 {
					v[j] = types.StringValue(pads[rng.Intn(len(pads))])
				} else {
					v[j] = types.StringValue(strs[rng.Intn(len(strs))])
				}
			case t.Kind == types.Timestamp || t.Kind == types.TimestampLTZ:
				ms := 1_700_000_000_000 + rng.Int63n(400*86_400_000) - 200*86_400_000
				if rng.Intn(10) == 0 {
					ms = -rng.Int63n(1 << 40)
				}
				var nanos int32
				if t.Precision > 3 {
					nanos = int32(rng.Intn(1_000_000))
				}
				v[j] = types.TimestampValue(ms, nanos)
			case t.Kind == types.Boolean:
				v[j] = types.BoolValue(rng.Intn(2) == 0)
			case t.Kind == types.Date:
				v[j] = types.DateValue(rng.Int63n(40_000) - 10_000)
			case t.Kind == types.Time:
				v[j] = types.TimeValue(rng.Int63n(86_400_000) * 1_000_000)
			}
		}
		rows[r].Vals = v
	}
	return rows
}

type fnTestEnv struct {
	t   *testing.T
	env *expr.Env
}

func (e fnTestEnv) col(i int) expr.Expr { return expr.Column(i, fnTestNames[i], fnTestTypes[i]) }

func (e fnTestEnv) call(name string, args ...expr.Expr) expr.Expr {
	x, err := expr.Call(e.env, name, args...)
	if err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
	return x
}

func i32(v int64) expr.Expr {
	return expr.Literal(types.IntValue(v), types.IntType().WithNullable(false))
}

func strLit(s string) expr.Expr {
	return expr.Literal(types.StringValue(s), types.StringType().WithNullable(false))
}

func fnBatches(seed int64) [][]changelog.Row {
	rng := rand.New(rand.NewSource(seed))
	var batches [][]changelog.Row
	for i := 0; i < 30; i++ {
		batches = append(batches, fnTestRows(rng, 1+rng.Intn(300)))
	}
	return batches
}

func TestCalcVecRoundingMatchesRowPath(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	exprs := map[string]expr.Expr{"flag": e.col(16)}
	var cases []vecCase
	for ci := 0; ci <= 11; ci++ {
		var names []string
		add := func(name string, x expr.Expr) {
			exprs[name] = x
			names = append(names, name)
		}
		c := e.col(ci)
		for _, fn := range []string{"FLOOR", "CEIL", "CEILING", "ROUND", "TRUNCATE"} {
			add(fmt.Sprintf("%s(%s)", fn, fnTestNames[ci]), e.call(fn, c))
		}
		for _, fn := range []string{"ROUND", "TRUNCATE"} {
			for _, n := range []int64{0, 1, 2, 3, 9, -1, -2, -3, -5, -17, -18, -19, -20, -39, 40} {
				add(fmt.Sprintf("%s(%s,%d)", fn, fnTestNames[ci], n), e.call(fn, c, i32(n)))
			}
		}
		cases = append(cases, vecCase{projects: names}, vecCase{filter: "flag", projects: names[:8]})
	}
	checkVecCases(t, fnTestTypes, exprs, nil, cases, fnBatches(1))
}

func TestCalcVecPadGreatestMatchRowPath(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	exprs := map[string]expr.Expr{"flag": e.col(16)}
	var pads, picks []string
	cast := func(x expr.Expr, to types.Type) expr.Expr {
		c, err := expr.Cast(e.env, x, to, false)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, fn := range []string{"LPAD", "RPAD"} {
		for name, args := range map[string][]expr.Expr{
			"cols":    {e.col(12), e.col(19), e.col(13)},
			"lit":     {e.col(12), i32(7), strLit("é*")},
			"zero":    {e.col(12), i32(0), strLit("-")},
			"neg":     {e.col(12), i32(-1), strLit("-")},
			"empty":   {e.col(12), i32(4), strLit("")},
			"litpad":  {e.col(12), e.col(19), strLit("xy")},
			"bigint":  {e.col(13), expr.Literal(types.IntValue(3), types.BigIntType().WithNullable(false)), e.col(12)},
			"nullpad": {e.col(12), i32(3), expr.Literal(types.NullValue, types.StringType())},
		} {
			key := fn + "-" + name
			exprs[key] = e.call(fn, args...)
			pads = append(pads, key)
		}
	}
	for _, fn := range []string{"GREATEST", "LEAST"} {
		for name, args := range map[string][]expr.Expr{
			"ints":    {e.col(0), e.col(2), e.col(3)},
			"tiny":    {e.col(0), e.col(1)},
			"one":     {e.col(2)},
			"lit":     {e.col(2), i32(100)},
			"floats":  {e.col(4), e.col(5)},
			"nan":     {e.col(5), e.col(4), e.col(5)},
			"fl-int":  {e.col(4), e.col(2)},
			"dec":     {e.col(6), e.col(8)},
			"dec-int": {e.col(6), e.col(2)},
			"wide":    {e.col(9), e.col(8), e.col(6)},
			"wide0":   {e.col(10), e.col(7), e.col(3)},
			"wide2":   {e.col(11), e.col(7)},
			"str":     {e.col(12), e.col(13), strLit("b")},
			"ts":      {e.col(14), e.col(15)},
			"ts-tie":  {cast(cast(e.col(15), types.TimestampType(3)), types.TimestampType(9)), e.col(15)}, // one millisecond, other nanos
			"ts3":     {e.col(14), e.col(14)},
			"ltz":     {e.col(18), e.col(18)},
			"date":    {e.col(17), e.col(17)},
			"time":    {e.col(20), e.col(20)},
			"bool":    {e.col(16), e.col(16)},
		} {
			key := fn + "-" + name
			if name == "ts3" || name == "date" || name == "time" || name == "bool" || name == "ltz" {
				args[1] = e.call("NULLIF", args[1], args[1]) // NULL where the first is not: the NULL rule
				args[1] = e.call("COALESCE", args[1], args[0])
			}
			exprs[key] = e.call(fn, args...)
			picks = append(picks, key)
		}
	}
	cases := []vecCase{{projects: pads}, {filter: "flag", projects: pads}, {projects: picks}, {filter: "flag", projects: picks}}
	checkVecCases(t, fnTestTypes, exprs, nil, cases, fnBatches(2))
}

func TestCalcVecTimestampAddDiffMatchRowPath(t *testing.T) {
	for _, zone := range []string{"UTC", "America/New_York", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.ReplaceAll(zone, "/", "_"), func(t *testing.T) {
			e := fnTestEnv{t, expr.NewEnv(loc)}
			exprs := map[string]expr.Expr{"flag": e.col(16)}
			var cases []vecCase
			for _, unit := range []string{"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND", "SQL_TSI_DAY"} {
				var names []string
				add := func(name string, x expr.Expr) {
					exprs[name] = x
					names = append(names, name)
				}
				counts := []int{19, 2}
				if !strings.Contains("YEAR QUARTER MONTH", unit) {
					counts = append(counts, 3) // BIGINT counts wrap in the millisecond arithmetic
				}
				for _, ci := range counts {
					for _, ti := range []int{17, 20, 14, 15, 18} {
						if ti == 20 && (strings.Contains("YEAR QUARTER MONTH WEEK", unit) || strings.HasSuffix(unit, "DAY")) {
							continue
						}
						add(fmt.Sprintf("add-%s-%s-%s", unit, fnTestNames[ci], fnTestNames[ti]), e.call("TIMESTAMPADD", strLit(unit), e.col(ci), e.col(ti)))
					}
				}
				later := e.call("TIMESTAMPADD", strLit("DAY"), e.col(19), e.col(18))
				for _, p := range [][2]expr.Expr{{e.col(14), e.col(15)}, {e.col(17), e.col(14)}, {e.col(18), later}, {e.col(14), e.col(18)}, {e.col(17), e.col(17)}} {
					add(fmt.Sprintf("diff-%s-%s-%s", unit, p[0], p[1]), e.call("TIMESTAMPDIFF", strLit(unit), p[0], p[1]))
				}
				cases = append(cases, vecCase{projects: names}, vecCase{filter: "flag", projects: names[:4]})
			}
			var fromUnix []string
			for name, args := range map[string][]expr.Expr{
				"int":     {e.col(2)},
				"bigint":  {e.col(3)},
				"pattern": {e.col(2), strLit("yyyy/MM/dd HH:mm:ss.SSS EEE a")},
				"column":  {e.col(19), e.call("IF", e.col(16), strLit("yyyy-MM"), strLit("HH:mm:ss"))},
			} {
				key := "from_unixtime-" + name
				exprs[key] = e.call("FROM_UNIXTIME", args...)
				fromUnix = append(fromUnix, key)
			}
			cases = append(cases, vecCase{projects: fromUnix[:2]}, vecCase{projects: fromUnix[2:]}, vecCase{filter: "flag", projects: fromUnix})
			df := func(x expr.Expr, p string) expr.Expr { return e.call("DATE_FORMAT", x, strLit(p)) }
			pick := func(a, b string) expr.Expr { return e.call("IF", e.col(16), strLit(a), strLit(b)) }
			var parses []string
			for name, x := range map[string]expr.Expr{
				"to_ts":       e.call("TO_TIMESTAMP", df(e.col(14), "yyyy-MM-dd HH:mm:ss.SSS")),
				"to_ts-s":     e.call("TO_TIMESTAMP", e.col(12)),
				"to_ts-fmt":   e.call("TO_TIMESTAMP", df(e.col(15), "dd/MM/yyyy HH:mm"), strLit("dd/MM/yyyy HH:mm")),
				"to_ts-fmt-s": e.call("TO_TIMESTAMP", e.col(12), strLit("yyyy")),
				"to_ts-off":   e.call("TO_TIMESTAMP", pick("2024-03-10 02:30:00 +0530", "2024-11-03 01:30:00 -0800"), strLit("yyyy-MM-dd HH:mm:ss Z")),
				"unix":        e.call("UNIX_TIMESTAMP", df(e.col(14), "yyyy-MM-dd HH:mm:ss")),
				"unix-s":      e.call("UNIX_TIMESTAMP", e.col(12)),
				"unix-fmt":    e.call("UNIX_TIMESTAMP", df(e.col(15), "yyyy/MM/dd HH:mm:ss.SSS"), strLit("yyyy/MM/dd HH:mm:ss.SSS")),
				"unix-off":    e.call("UNIX_TIMESTAMP", pick("2024-03-10 02:30:00 +0530", "2024-11-03 01:30:00 -0800"), strLit("yyyy-MM-dd HH:mm:ss Z")),
				"unix-gap":    e.call("UNIX_TIMESTAMP", pick("2024-03-10 02:30:00", "2024-11-03 01:30:00")),
			} {
				exprs[name] = x
				parses = append(parses, name)
			}
			cases = append(cases, vecCase{projects: parses}, vecCase{filter: "flag", projects: parses})
			// BIGINT seconds beyond the years 1..9999 bail.
			mayBail := map[string]bool{"from_unixtime-bigint": true}
			checkVecCases(t, fnTestTypes, exprs, mayBail, cases, fnBatches(3))
		})
	}
}
