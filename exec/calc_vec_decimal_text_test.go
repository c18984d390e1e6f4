package exec

import (
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Property test of MOD with wide DECIMALs, unary minus and ABS of numbers, CAST(FLOAT/DOUBLE AS DECIMAL(19..38)) and CAST(string AS
// DECIMAL) against the row path: the wide test's values (precision edges, int64's limits, NULLs), doubles
// and floats from tiny to beyond 10^38 (and NaN, infinities in some batches), and decimal text in every
// form types.ParseDecimal meets (signs, leading points, trailing points, spaces, exponents, 60 digits,
// garbage).

var decTextTypes = append(append([]types.Type{}, wideTestTypes...),
	types.DoubleType(), // 8 dbl
	types.FloatType(),  // 9 flt
	types.StringType(), // 10 s
)

var decTextNames = append(append([]string{}, wideTestNames...), "dbl", "flt", "s")

func decTextRows(rng *rand.Rand, n int, zeros, valid bool) []changelog.Row {
	rows := wideTestRows(rng, n, false, zeros)
	for i := range rows {
		v := append(rows[i].Vals, types.NullValue, types.NullValue, types.NullValue)
		if rng.Intn(8) != 0 {
			f := []float64{0, -0.5, 0.125, 1.0 / 3, 2.5e-11, -123456.789, 1e17, 9.99999999999e27, 1e38, -1.2345678901234567e30,
				float64(1 << 53), 12345678901234567890}[rng.Intn(12)]
			if rng.Intn(2) == 0 {
				f = (rng.Float64() - 0.5) * math.Pow(10, float64(rng.Intn(50)-12))
			}
			if !valid && rng.Intn(15) == 0 {
				f = []float64{math.NaN(), math.Inf(1), math.Inf(-1)}[rng.Intn(3)]
			}
			v[8] = types.FloatValue(f)
			v[9] = types.FloatValue(float64(float32(f)))
		}
		if rng.Intn(8) != 0 {
			var s string
			switch k := rng.Intn(6); {
			case k <= 1:
				if d := v[rng.Intn(8)]; !d.IsNull() {
					s = types.DecimalString(d)
					if d.T == types.TagInt {
						s = strconv.FormatInt(d.I, 10)
					}
				}
			case k == 2:
				s = []string{"0", "-0", "+5", ".5", "5.", "-.05", " 12.345 ", "0.000000000005", "-99999999999999999999.995",
					"1234567890123456789012345678901234567890123456789012345678", "00000000000000000000000000000000000001.5"}[rng.Intn(11)]
			case k == 3 && !valid:
				s = []string{"", "abc", "1.2.3", "--1", "1e5", "-1.5E-3", "1_000", ".", "+", "NaN", "12a"}[rng.Intn(11)]
			default:
				s = types.DecimalString(types.BigDecimalValue(randUnscaled(rng, 1+rng.Intn(38)), rng.Intn(20)))
			}
			v[10] = types.StringValue(s)
		}
		rows[i].Vals = v
	}
	return rows
}

func TestCalcVecDecimalModTextMatchRowPath(t *testing.T) {
	env := expr.NewEnv(nil)
	col := func(i int) expr.Expr { return expr.Column(i, decTextNames[i], decTextTypes[i]) }
	call := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return x
	}
	cast := func(x expr.Expr, to types.Type, try bool) expr.Expr {
		c, err := expr.Cast(env, x, to, try)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	exprs := map[string]expr.Expr{}
	var mods []string
	for _, p := range [][2]int{{0, 1}, {0, 2}, {2, 3}, {3, 4}, {4, 0}, {5, 0}, {0, 5}, {6, 7}, {7, 4}, {7, 7}, {3, 6}, {6, 6}} {
		name := decTextNames[p[0]] + "%" + decTextNames[p[1]]
		exprs[name] = call("MOD", col(p[0]), col(p[1]))
		mods = append(mods, name)
	}
	var signs []string
	for _, ci := range []int{0, 2, 3, 4, 5, 6, 7, 8, 9} {
		for _, fn := range []string{"NEG", "ABS"} {
			name := fn + "-" + decTextNames[ci]
			exprs[name] = call(fn, col(ci))
			signs = append(signs, name)
		}
	}
	dec := types.DecimalType
	for name, x := range map[string]expr.Expr{
		"dbl->(38,10)":    cast(col(8), dec(38, 10), false),
		"dbl->(38,30)":    cast(col(8), dec(38, 30), false),
		"dbl->(20,2)":     cast(col(8), dec(20, 2), false),
		"dbl->(19,0)try":  cast(col(8), dec(19, 0), true),
		"flt->(38,5)":     cast(col(9), dec(38, 5), false),
		"flt->(25,20)try": cast(col(9), dec(25, 20), true),
		"s->(38,10)":      cast(col(10), dec(38, 10), false),
		"s->(20,2)":       cast(col(10), dec(20, 2), false),
		"s->(19,0)try":    cast(col(10), dec(19, 0), true),
		"s->(10,2)try":    cast(col(10), dec(10, 2), true),
		"s->(38,37)try":   cast(col(10), dec(38, 37), true),
		"s->(18,18)try":   cast(col(10), dec(18, 18), true),
		"s->(30,5)nn":     cast(col(10), dec(30, 5).WithNullable(false), false),
	} {
		exprs[name] = x
	}
	mayBail := map[string]bool{"dbl->(38,10)": true, "dbl->(38,30)": true, "dbl->(20,2)": true, "flt->(38,5)": true,
		"s->(38,10)": true, "s->(20,2)": true, "s->(30,5)nn": true}
	for _, m := range mods {
		mayBail[m] = true // a zero divisor: the row path's error
	}
	cases := []vecCase{
		{projects: mods},
		{projects: []string{"dbl->(38,10)", "dbl->(38,30)", "dbl->(20,2)", "dbl->(19,0)try", "flt->(38,5)", "flt->(25,20)try"}},
		{projects: []string{"dbl->(19,0)try", "flt->(25,20)try"}},
		{projects: []string{"s->(38,10)", "s->(20,2)", "s->(19,0)try", "s->(10,2)try", "s->(38,37)try", "s->(18,18)try"}},
		{projects: []string{"s->(19,0)try", "s->(10,2)try", "s->(38,37)try", "s->(18,18)try"}},
		{projects: []string{"s->(30,5)nn"}},
	}
	cases = append(cases, vecCase{projects: signs})
	for _, m := range mods {
		cases = append(cases, vecCase{projects: []string{m}})
	}
	rng := rand.New(rand.NewSource(23))
	var batches [][]changelog.Row
	for i := 0; i < 40; i++ {
		batches = append(batches, decTextRows(rng, 1+rng.Intn(200), i%4 == 3, i%2 == 0))
	}
	checkVecCases(t, decTextTypes, exprs, mayBail, cases, batches)
}

// TestParseDecTextMatchesTypes checks parseDecText against types.ParseDecimal and types.DecimalRescale.
func TestParseDecTextMatchesTypes(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	texts := []string{"0", "-0", "+5", ".5", "5.", "-.05", " 12.345 ", "0.5", "-0.5", "2.4999", "-2.5", "9.95",
		"99999999999999999999999999999999999999", "-0.000000000000000000000000000000000000005"}
	for i := 0; i < 2000; i++ {
		texts = append(texts, types.DecimalString(types.BigDecimalValue(randUnscaled(rng, 1+rng.Intn(38)), rng.Intn(40)-1)))
	}
	for _, s := range texts {
		for _, scale := range []int{0, 1, 2, 5, 10, 18, 30, 38} {
			m, neg, ok := parseDecText(s, scale)
			d, err := types.ParseDecimal(s)
			if !ok {
				if err == nil && !strings.ContainsAny(s, "eE") && len(strings.TrimSpace(s)) < 60 {
					t.Fatalf("%q: not parsed", s)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%q: parsed, types: %v", s, err)
			}
			v := vec.Int128{Hi: int64(m[1]), Lo: m[0]}
			if neg {
				v = v.Neg()
			}
			want := types.DecimalRescale(d, scale)
			if !m.fits128() || m[1] >= 1<<63 {
				continue // beyond DECIMAL(38): the kernel leaves it to types.Cast
			}
			if got := vec.DecimalValue(v, int32(scale)); types.DecimalString(got) != types.DecimalString(want) {
				t.Fatalf("%q at scale %d: %s, types %s", s, scale, types.DecimalString(got), types.DecimalString(want))
			}
		}
	}
}
