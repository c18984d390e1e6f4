package exec

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Property test of the string, LIKE, IN and DECIMAL division kernels against the row path: random batches
// (NULLs, empty strings, multi-byte code points, LIKE metacharacters, zero and extreme divisors) through
// the row path, the kernels over row input and the kernels over columnar input give the same rows, value
// by value, and the same errors.

var strTestTypes = []types.Type{
	types.StringType(),       // 0 s
	types.StringType(),       // 1 u
	types.IntType(),          // 2 p (positions, lengths)
	types.DecimalType(10, 2), // 3 d
	types.DecimalType(5, 3),  // 4 e
	types.BigIntType(),       // 5 a
	types.DecimalType(18, 0), // 6 g
	types.BooleanType(),      // 7 flag
	types.BytesType(),        // 8 bin
}

var strTestNames = []string{"s", "u", "p", "d", "e", "a", "g", "flag", "bin"}

var strTestWords = []string{"", "a", "abc", "ABC", "Google", "  pad  ", " x", "y ", "héllo", "ÄÖü straße", "日本語", "/a/b//c/", "x/y", "ababab",
	"a%b", "a_b", "50%", "_x_", "!%", "xyzabcxyz", "abcabc", "\xff\xfe", "ǅ", "ab!%c", " \t "}

// zeros says whether the batch may hold zero divisors (a division by zero fails the whole batch).
func strTestRows(rng *rand.Rand, n int, kinds, zeros bool) []changelog.Row {
	null := func() bool { return rng.Intn(7) == 0 }
	word := func() string {
		if rng.Intn(4) == 0 {
			return strTestWords[rng.Intn(len(strTestWords))] + strTestWords[rng.Intn(len(strTestWords))]
		}
		return strTestWords[rng.Intn(len(strTestWords))]
	}
	bigs := []int64{0, 1, -1, 3, 7, math.MaxInt64, math.MinInt64, 999_999_999_999_999_999, -999_999_999_999_999_999, 1 << 40}
	rows := make([]changelog.Row, n)
	for i := range rows {
		v := make([]types.Value, len(strTestTypes))
		if !null() {
			v[0] = types.StringValue(word())
		}
		if !null() {
			v[1] = types.StringValue(word())
		}
		if !null() {
			v[2] = types.IntValue(int64(rng.Intn(15) - 5))
		}
		if !null() {
			v[3] = types.DecimalValue(rng.Int63n(20_000_000_000)-10_000_000_000, 2)
			if rng.Intn(8) == 0 {
				v[3] = types.DecimalValue(int64(rng.Intn(3)-1), 2)
			}
		}
		if !null() {
			v[4] = types.DecimalValue(rng.Int63n(200_000)-100_000, 3)
			if zeros && rng.Intn(10) == 0 || v[4].I == 0 && !zeros {
				v[4] = types.DecimalValue(int64(rng.Intn(2))*2-1, 3)
				if zeros {
					v[4] = types.DecimalValue(0, 3)
				}
			}
		}
		if !null() {
			v[5] = types.IntValue(rng.Int63n(2000) - 1000)
			if rng.Intn(4) == 0 {
				v[5] = types.IntValue(bigs[rng.Intn(len(bigs))])
			}
			if v[5].I == 0 && !zeros {
				v[5] = types.IntValue(-2)
			}
		}
		if !null() {
			v[6] = types.DecimalValue(bigs[rng.Intn(len(bigs))]%1_000_000_000_000_000_000, 0)
			if rng.Intn(2) == 0 || v[6].I == 0 && !zeros {
				v[6] = types.DecimalValue(rng.Int63n(2_000_000)-1_000_001, 0)
			}
		}
		if !null() {
			v[7] = types.BoolValue(rng.Intn(2) == 0)
		}
		if !null() {
			v[8] = types.BytesValue([]byte(word()))
		}
		rows[i].Vals = v
		if kinds {
			rows[i].Kind = changelog.Kind(rng.Intn(4))
		}
	}
	return rows
}

func TestCalcVecStringsMatchRowPath(t *testing.T) {
	env := expr.NewEnv(nil)
	col := func(i int) expr.Expr { return expr.Column(i, strTestNames[i], strTestTypes[i]) }
	str := func(s string) expr.Expr {
		return expr.Literal(types.StringValue(s), types.StringType().WithNullable(false))
	}
	nullStr := expr.Literal(types.NullValue, types.StringType())
	i32 := func(v int64) expr.Expr { return expr.Literal(types.IntValue(v), types.IntType().WithNullable(false)) }
	call := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return x
	}
	in := func(x expr.Expr, not bool, list ...expr.Expr) expr.Expr {
		e, err := expr.In(x, list, not)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	cast := func(x expr.Expr, to types.Type) expr.Expr {
		c, err := expr.Cast(env, x, to, false)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var longInts, longStrs []expr.Expr
	for i := int64(-20); i < 20; i += 3 {
		longInts = append(longInts, expr.Literal(types.IntValue(i*37), types.BigIntType().WithNullable(false)))
	}
	for _, w := range strTestWords {
		longStrs = append(longStrs, str(w))
	}
	exprs := map[string]expr.Expr{
		"upper":       call("UPPER", col(0)),
		"lower":       call("LOWER", col(1)),
		"len":         call("CHAR_LENGTH", col(0)),
		"pos":         call("POSITION", col(1), col(0)),
		"pos-lit":     call("POSITION", str("b"), col(0)),
		"sub2":        call("SUBSTRING", col(0), col(2)),
		"sub3":        call("SUBSTRING", col(0), col(2), col(2)),
		"sub3-lit":    call("SUBSTRING", col(0), i32(2), i32(3)),
		"sub-neg":     call("SUBSTRING", col(1), i32(-3)),
		"concat":      call("CONCAT", col(0), str("-"), col(1)),
		"concat-op":   call("||", col(0), col(1)),
		"concat-bin":  call("||", col(8), col(8)),
		"trim":        call("TRIM", col(0)),
		"trim-lead":   call("TRIM", str("LEADING"), nullStr, col(0)),
		"trim-trail":  call("TRIM", str("TRAILING"), nullStr, col(0)),
		"trim-both-c": call("TRIM", str("BOTH"), str("ax"), col(0)),
		"trim-uni":    call("TRIM", str("LEADING"), str("日h"), col(0)),
		"ltrim":       call("LTRIM", col(1)),
		"rtrim-c":     call("RTRIM", col(1), str("z ")),
		"like-prefix": call("LIKE", col(0), str("a%")),
		"like-suffix": call("LIKE", col(0), str("%c")),
		"like-cont":   call("LIKE", col(0), str("%bc%")),
		"like-exact":  call("LIKE", col(0), str("abc")),
		"like-gen":    call("LIKE", col(0), str("_b%a_c")),
		"like-uni":    call("LIKE", col(1), str("%ö%_")),
		"like-mid":    call("LIKE", col(0), str("_%b%c")),
		"like-mid2":   call("LIKE", col(1), str("%a%%b%_")),
		"like-esc":    call("LIKE", col(0), str("%!%%"), str("!")),
		"not-like":    call("NOT", call("LIKE", col(1), str("%a%"))),
		"in-int":      in(col(5), false, i32(1), i32(-1), i32(7)),
		"in-int-null": in(col(5), false, i32(3), expr.Literal(types.NullValue, types.IntType())),
		"notin-long":  in(col(5), true, longInts...),
		"in-str":      in(col(0), false, str("abc"), str("héllo"), str("")),
		"notin-strs":  in(col(1), true, append(longStrs[3:], nullStr)...),
		"in-bool":     in(col(7), false, expr.Literal(types.BoolValue(true), types.BooleanType())),
		"eq-str-lit":  call("=", col(0), str("abc")),
		"lt-str-lit":  call("<", col(1), str("b")),
		"ne-str":      call("<>", col(0), col(1)),
		"div-dd":      call("/", col(3), col(4)),
		"div-di":      call("/", col(3), col(5)),
		"div-id":      call("/", col(5), col(4)),
		"div-lit":     call("/", col(3), expr.Literal(types.DecimalValue(7, 1), types.DecimalType(2, 1))),
		"div-g":       call("/", col(6), col(4)),
		"div-gg":      call("/", col(6), col(6)),
		"cast-a":      cast(col(5), types.StringType()),
		"cast-d5":     cast(col(3), types.VarCharType(5)),
		"cast-flag":   cast(col(7), types.StringType()),
		"cast-e":      cast(col(4), types.VarCharType(40)),
		"cast-p1":     cast(col(2), types.VarCharType(1)),
		"cast-s":      cast(col(0), types.VarCharType(types.MaxLength)),
		"split":       call("SPLIT_INDEX", col(0), str("b"), col(2)),
		"split-lit":   call("SPLIT_INDEX", col(1), str("/"), i32(1)),
		"split-multi": call("SPLIT_INDEX", col(0), str("ab"), i32(0)),
		"rx":          call("REGEXP_EXTRACT", col(0), str("(a|^)b([^c]*)"), i32(2)),
		"rx-g1":       call("REGEXP_EXTRACT", col(0), str("(a|^)b([^c]*)"), i32(1)),
		"rx-end":      call("REGEXP_EXTRACT", col(0), str("^a([^c]+)$")),
		"rx0":         call("REGEXP_EXTRACT", col(1), str("[ä-ü]+")),
		"rx-nogroup":  call("REGEXP_EXTRACT", col(0), str("a(b)"), i32(3)),
		"rx-opt":      call("REGEXP_EXTRACT", col(1), str("x|(y)"), i32(1)),
		"upper-eq":    call("=", call("UPPER", col(0)), str("ABC")),
		"len-filter":  call(">", call("CHAR_LENGTH", call("TRIM", col(1))), i32(2)),
	}
	mayBail := map[string]bool{"div-dd": true, "div-di": true, "div-id": true, "div-lit": true, "div-g": true, "div-gg": true}
	cases := []vecCase{
		{projects: []string{"upper", "lower", "len", "pos", "pos-lit"}},
		{filter: "flag-x", projects: []string{"sub2", "sub3", "sub3-lit", "sub-neg"}},
		{projects: []string{"concat", "concat-op", "concat-bin"}},
		{projects: []string{"trim", "trim-lead", "trim-trail", "trim-both-c", "trim-uni", "ltrim", "rtrim-c"}},
		{projects: []string{"like-prefix", "like-suffix", "like-cont", "like-exact", "like-gen", "like-mid", "like-mid2", "like-uni", "like-esc", "not-like"}},
		{filter: "like-cont", projects: []string{"upper", "sub3", "concat"}},
		{projects: []string{"in-int", "in-int-null", "notin-long", "in-str", "notin-strs", "in-bool"}},
		{filter: "in-str", projects: []string{"lower", "len"}},
		{projects: []string{"eq-str-lit", "lt-str-lit", "ne-str"}},
		{filter: "upper-eq", projects: []string{"trim"}},
		{projects: []string{"split", "split-lit", "split-multi"}},
		{projects: []string{"rx", "rx0", "rx-nogroup", "rx-opt"}},
		{filter: "rx-isnotnull", projects: []string{"rx"}},
		{filter: "like-cont", projects: []string{"split", "upper"}},
		{projects: []string{"cast-a", "cast-d5", "cast-flag", "cast-e", "cast-p1", "cast-s"}},
		{filter: "flag-x", projects: []string{"cast-a", "concat"}},
		{filter: "len-filter", projects: []string{"sub2", "upper"}},
		{projects: []string{"div-dd"}},
		{projects: []string{"div-di", "div-id", "div-lit"}},
		{projects: []string{"div-g", "div-gg"}},
		{projects: []string{"div-lit"}},
		{projects: []string{"div-id"}},
		{filter: "notin-long", projects: []string{"div-lit", "div-di"}},
	}
	exprs["flag-x"] = col(7)
	exprs["rx-isnotnull"] = call("OR", call("IS NOT NULL", exprs["rx"]), in(call("LOWER", col(1)), false, str("abc"), str("x/y")))
	rng := rand.New(rand.NewSource(11))
	var batches [][]changelog.Row
	for i := 0; i < 40; i++ {
		batches = append(batches, strTestRows(rng, 1+rng.Intn(300), i%3 == 0, i%4 == 0))
	}
	for _, tc := range cases {
		name := tc.filter + ":" + strings.Join(tc.projects, ",")
		t.Run(name, func(t *testing.T) {
			var filter expr.Expr
			if tc.filter != "" {
				filter = exprs[tc.filter]
			}
			var projects []expr.Expr
			bailOK := false
			for _, p := range tc.projects {
				if exprs[p] == nil {
					t.Fatalf("no expression %q", p)
				}
				projects = append(projects, exprs[p])
				bailOK = bailOK || mayBail[p]
			}
			if compileCalc(projects, filter) == nil {
				t.Fatalf("not compiled into kernels")
			}
			outRows, errs, bailed := 0, 0, 0
			for bi, rows := range batches {
				want, werr := runCalcPathTypes(strTestTypes, projects, filter, rows, "rows")
				outRows += strings.Count(want, "\n")
				if werr != nil {
					errs++
				}
				for _, path := range []string{"vec-rows", "vec-cols"} {
					got, gerr := runCalcPathTypes(strTestTypes, projects, filter, rows, path)
					if lastBails > 0 {
						bailed++
						if !bailOK {
							t.Fatalf("batch %d, %s: the kernels bailed", bi, path)
						}
					}
					if fmt.Sprint(werr) != fmt.Sprint(gerr) {
						t.Fatalf("batch %d, %s: error %v, row path %v", bi, path, gerr, werr)
					}
					if got != want {
						t.Fatalf("batch %d, %s:\n%s\nrow path:\n%s", bi, path, diffLines(got, want), want)
					}
				}
			}
			if outRows == 0 {
				t.Fatalf("no output rows: the comparison is vacuous")
			}
			if bailed == 2*len(batches) {
				t.Fatalf("every batch bailed: the kernels were not exercised")
			}
			t.Logf("%d rows out, %d batches failed, %d runs bailed (the same results on every path)", outRows, errs, bailed)
		})
	}
}

// diffLines returns the first differing line of two outputs.
func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d: got %s, row path %s", i, a, b)
		}
	}
	return "(equal)"
}

// TestDecDivNoBailOnOrdinaryValues checks that DECIMAL division of ordinary values (no zero divisor, no
// overflow) stays in the kernel: a numerator scaled beyond int64 is handled in 128 bits.
func TestDecDivNoBailOnOrdinaryValues(t *testing.T) {
	env := expr.NewEnv(nil)
	d := expr.Column(0, "d", types.DecimalType(10, 2))
	e := expr.Column(1, "e", types.DecimalType(5, 3))
	div, err := expr.Call(env, "/", d, e)
	if err != nil {
		t.Fatal(err)
	}
	ts := []types.Type{types.DecimalType(10, 2), types.DecimalType(5, 3)}
	rows := make([]changelog.Row, 512)
	for i := range rows {
		rows[i].Vals = []types.Value{types.DecimalValue(int64(i)*123_456_789-31_000_000_000, 2), types.DecimalValue(int64(i%97)*13+10, 3)}
	}
	want, werr := runCalcPathTypes(ts, []expr.Expr{div}, nil, rows, "rows")
	got, gerr := runCalcPathTypes(ts, []expr.Expr{div}, nil, rows, "vec-cols")
	if werr != nil || gerr != nil {
		t.Fatalf("errors: %v, %v", werr, gerr)
	}
	if lastBails != 0 {
		t.Fatalf("the kernel bailed on ordinary values (type %s)", div.Type())
	}
	if got != want {
		t.Fatalf("%s", diffLines(got, want))
	}
	var b vec.Batch
	vec.FromRows(&b, rows, ts, nil)
	if !strings.Contains(div.Type().String(), "DECIMAL") {
		t.Fatalf("type %s", div.Type())
	}
}
