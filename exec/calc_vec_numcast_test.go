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
)

// Property test of the kernels that used to send a Calc to the row path: DECIMAL MOD, casts between
// DECIMAL scales, DOUBLE → DECIMAL, DECIMAL → integer/FLOAT/DOUBLE and TIMESTAMP/TIME → VARCHAR. Random
// batches with values at the edges (the precision's largest values, int64's and int32's limits, halves that
// round, -0.0, subnormals, values past int64; in some batches zero divisors, NaN and infinities, which are
// the row path's errors) give the same rows and errors on the row path and on the kernels over rows and
// over columns.

var castTestTypes = []types.Type{
	types.DecimalType(10, 2), // 0 d
	types.DecimalType(18, 4), // 1 e
	types.BigIntType(),       // 2 a
	types.IntType(),          // 3 b
	types.DoubleType(),       // 4 f
	types.TimestampType(3),   // 5 t
	types.TimeType(0),        // 6 tm
	types.TimestampType(9),   // 7 t9
	types.FloatType(),        // 8 g
}

var castTestNames = []string{"d", "e", "a", "b", "f", "t", "tm", "t9", "g"}

// castTestRows makes n rows; edge says whether the batch may hold zero divisors, NaN and infinities.
func castTestRows(rng *rand.Rand, n int, edge bool) []changelog.Row {
	pickOf := func(edges []int64, bound int64) int64 {
		if rng.Intn(3) == 0 {
			return edges[rng.Intn(len(edges))]
		}
		v := rng.Int63n(bound)
		if rng.Intn(2) == 0 {
			v = -v
		}
		if !edge && v == 0 {
			v = 3
		}
		return v
	}
	decEdges := []int64{9_999_999_999, -9_999_999_999, 50, -50, 150, -250, 149, 1, -1, 12_345_678_950, 7}
	e18Edges := []int64{999_999_999_999_999_999, -999_999_999_999_999_999, 5000, -5000, 15_000, 14_999, 1, -1,
		123_456_789_012_345, 99_999_950_000}
	intEdges := []int64{math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, 1, -1, 2, 100, -7, 99_999_999}
	i32Edges := []int64{math.MaxInt32, math.MinInt32, 1, -1, 2, 127, -128, 128}
	floats := []float64{math.Copysign(0, -1), 0.1, 0.125, 2.675, 1.005, 1e-7, 5e-324, 1e20, -1e20, 9.2e18,
		-9.3e18, 123456.785, 99_999_999.995, 0.5, -0.5, 1.5, -2.5, 1 << 53, 1<<53 + 2, 12345678.901234567}
	rows := make([]changelog.Row, n)
	for i := range rows {
		v := make([]types.Value, len(castTestTypes))
		null := func() bool { return rng.Intn(8) == 0 }
		if !null() {
			v[0] = types.DecimalValue(pickOf(decEdges, 10_000_000_000), 2)
			if edge && rng.Intn(15) == 0 {
				v[0] = types.DecimalValue(0, 2)
			}
		}
		if !null() {
			v[1] = types.DecimalValue(pickOf(e18Edges, 1_000_000_000_000_000_000), 4)
			if edge && rng.Intn(15) == 0 {
				v[1] = types.DecimalValue(0, 4)
			}
		}
		if !null() {
			v[2] = types.IntValue(pickOf(intEdges, math.MaxInt64))
		}
		if !null() {
			v[3] = types.IntValue(pickOf(i32Edges, math.MaxInt32))
			if edge && rng.Intn(15) == 0 {
				v[3] = types.IntValue(0)
			}
		}
		if !null() {
			var f float64
			switch rng.Intn(4) {
			case 0:
				f = floats[rng.Intn(len(floats))]
			case 1:
				f = float64(rng.Int63n(2_000_000_000)-1_000_000_000) / 1000 // three decimals: halves at scale 2
			case 2:
				f = (rng.Float64() - 0.5) * math.Pow(10, float64(rng.Intn(24)-6))
			default:
				f = float64(rng.Int63n(2_000_000) - 1_000_000)
			}
			if edge && rng.Intn(40) == 0 {
				f = []float64{math.NaN(), math.Inf(1), math.Inf(-1)}[rng.Intn(3)]
			}
			v[4] = types.FloatValue(f)
		}
		if !null() {
			v[5] = types.TimestampValue(rng.Int63n(4_000_000_000_000)-1_000_000_000_000, 0)
		}
		if !null() {
			v[6] = types.TimeValue(rng.Int63n(86_400) * 1_000_000_000)
		}
		if !null() {
			v[7] = types.TimestampValue(rng.Int63n(4_000_000_000_000)-1_000_000_000_000, int32(rng.Intn(1_000_000)))
		}
		if !null() {
			f := float64(float32(floats[rng.Intn(len(floats))] * float64(1+rng.Intn(1000))))
			if rng.Intn(2) == 0 {
				f = float64(float32(rng.Int63n(100_000_000)) / 100)
			}
			if edge && rng.Intn(40) == 0 {
				f = math.Inf(1)
			}
			v[8] = types.FloatValue(f)
		}
		rows[i].Vals = v
		rows[i].Kind = changelog.Kind(rng.Intn(4))
	}
	return rows
}

func TestCalcVecCastsAndModMatchRowPath(t *testing.T) {
	env := expr.NewEnv(nil)
	col := func(i int) expr.Expr { return expr.Column(i, castTestNames[i], castTestTypes[i]) }
	call := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return x
	}
	castOf := func(x expr.Expr, to types.Type, try bool) expr.Expr {
		c, err := expr.Cast(env, x, to, try)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cast := func(x expr.Expr, to types.Type) expr.Expr { return castOf(x, to, false) }
	dlit := func(unscaled int64, p, s int) expr.Expr {
		return expr.Literal(types.DecimalValue(unscaled, s), types.DecimalType(p, s).WithNullable(false))
	}
	notNull := func(t types.Type) types.Type { return t.WithNullable(false) }
	exprs := map[string]expr.Expr{
		// MOD / %
		"d%e":      call("MOD", col(0), col(1)),
		"e%d":      call("%", col(1), col(0)),
		"d%b":      call("MOD", col(0), col(3)),
		"b%e":      call("MOD", col(3), col(1)),
		"a%d":      call("MOD", col(2), col(0)), // BIGINT scaled by 100 can overflow int64: bails
		"d%lit":    call("MOD", col(0), dlit(7, 3, 2)),
		"e%lit":    call("MOD", col(1), dlit(-3, 2, 1)),
		"d%0":      call("MOD", col(0), dlit(0, 3, 2)),
		"mod-eq-0": call("=", call("MOD", col(0), dlit(25, 3, 2)), dlit(0, 3, 2)),
		// DECIMAL → DECIMAL
		"d->dec0":    cast(col(0), types.DecimalType(10, 0)),
		"e->dec1":    cast(col(1), types.DecimalType(16, 1)),
		"e->dec6-1":  cast(col(1), types.DecimalType(6, 1)), // overflow: NULL
		"e->dec6-1!": cast(col(1), notNull(types.DecimalType(6, 1))),
		"d->dec18-6": cast(col(0), types.DecimalType(18, 6)),
		"d->dec9-2":  cast(col(0), types.DecimalType(9, 2)),
		"e->try3-2":  castOf(col(1), types.DecimalType(3, 2), true),
		// DOUBLE → DECIMAL
		"f->dec10-3":  cast(col(4), types.DecimalType(10, 3)),
		"f->dec18-2":  cast(col(4), types.DecimalType(18, 2)),
		"f->dec5-2":   cast(col(4), types.DecimalType(5, 2)),
		"f->dec18-0":  cast(col(4), types.DecimalType(18, 0)),
		"f->dec12-2!": cast(col(4), notNull(types.DecimalType(12, 2))),
		"f->try6-1":   castOf(col(4), types.DecimalType(6, 1), true),
		// DECIMAL → numbers
		"d->dbl":  cast(col(0), types.DoubleType()),
		"e->dbl":  cast(col(1), types.DoubleType()),
		"e->flt":  cast(col(1), types.FloatType()),
		"d->int":  cast(col(0), types.IntType()),
		"e->big":  cast(col(1), types.BigIntType()),
		"e->int":  cast(col(1), types.IntType()), // out of range: the row path's error
		"d->tiny": castOf(col(0), types.TinyIntType(), true),
		// comparisons of exact numerics of different scales, and of DECIMAL with DOUBLE
		"d<e":       call("<", col(0), col(1)),
		"e=d":       call("=", col(1), col(0)),
		"d>=b":      call(">=", col(0), col(3)),
		"a<>e":      call("<>", col(2), col(1)),
		"d>10.5":    call(">", col(0), dlit(105, 3, 1)),
		"d<=100":    call("<=", col(0), expr.Literal(types.IntValue(100), types.IntType().WithNullable(false))),
		"d=0.125":   call("=", col(0), dlit(125, 3, 3)),
		"e>maxlong": call(">", col(1), expr.Literal(types.IntValue(math.MaxInt64), types.BigIntType().WithNullable(false))),
		"d<f":       call("<", col(0), col(4)),
		"f>=e":      call(">=", col(4), col(1)),
		"e=0.5d":    call("=", col(1), expr.Literal(types.FloatValue(0.5), types.DoubleType().WithNullable(false))),
		// DECIMAL with DOUBLE arithmetic
		"d*f":   call("*", col(0), col(4)),
		"f-e":   call("-", col(4), col(1)),
		"e/f":   call("/", col(1), col(4)),
		"d+1.5": call("+", col(0), expr.Literal(types.FloatValue(1.5), types.DoubleType().WithNullable(false))),
		// DOUBLE → integers
		"f->big":     cast(col(4), types.BigIntType()),
		"f->int":     cast(col(4), types.IntType()),
		"f->trytiny": castOf(col(4), types.TinyIntType(), true),
		"f->trybig":  castOf(col(4), types.BigIntType(), true),
		// FLOAT → DECIMAL, DOUBLE → FLOAT
		"g->dec12-3": cast(col(8), types.DecimalType(12, 3)),
		"g->dec18-0": cast(col(8), types.DecimalType(18, 0)),
		"g->try6-2":  castOf(col(8), types.DecimalType(6, 2), true),
		"f->flt":     cast(col(4), types.FloatType()),
		// TIMESTAMP → DATE/TIME, DATE → TIMESTAMP
		"t->date":   cast(col(5), types.DateType()),
		"t9->date":  cast(col(7), types.DateType()),
		"t9->time0": cast(col(7), types.TimeType(0)),
		"t9->time3": cast(col(7), types.TimeType(3)),
		"t9->time9": cast(col(7), types.TimeType(9)),
		"t->time":   cast(col(5), types.TimeType(3)),
		"date->ts":  cast(cast(col(5), types.DateType()), types.TimestampType(3)),
		// TIMESTAMP / TIME → VARCHAR
		"t->str":   cast(col(5), types.StringType()),
		"t->vc10":  cast(col(5), types.VarCharType(10)),
		"t9->str":  cast(col(7), types.StringType()),
		"tm->str":  cast(col(6), types.StringType()),
		"d":        col(0),
		"t-filter": call("LIKE", cast(col(5), types.StringType()), expr.Literal(types.StringValue("19%"), types.StringType())),
	}
	// Kernels that may leave a batch to the row path: a zero divisor, an int64 overflow, a value out of a
	// target's range where the row path raises an error (or makes it NULL for TRY_CAST of an integer), NaN.
	mayBail := map[string]bool{"d%e": true, "e%d": true, "d%b": true, "b%e": true, "a%d": true, "d%0": true,
		"e->dec6-1!": true, "f->dec10-3": true, "f->dec18-2": true, "f->dec5-2": true, "f->dec18-0": true,
		"f->dec12-2!": true, "f->try6-1": true, "e->int": true, "f->big": true, "f->int": true,
		"g->dec12-3": true, "g->dec18-0": true, "g->try6-2": true}
	// Cases that end on the row path in every batch (each batch has a row the row path fails on); they
	// still compare the errors.
	alwaysRows := map[string]bool{"a%d": true, "d%0": true, "e->dec6-1!": true, "e->int": true, "f->int": true, "f->dec12-2!": true}
	cases := []vecCase{
		{projects: []string{"d%e", "e%d"}},
		{projects: []string{"d%b", "b%e", "d%lit", "e%lit"}},
		{projects: []string{"a%d"}},
		{projects: []string{"d%0"}},
		{filter: "mod-eq-0", projects: []string{"d%lit"}},
		{projects: []string{"d->dec0", "e->dec1", "e->dec6-1", "d->dec18-6", "d->dec9-2", "e->try3-2"}},
		{projects: []string{"e->dec6-1!"}},
		{projects: []string{"f->dec10-3", "f->dec18-2", "f->dec5-2", "f->dec18-0", "f->try6-1"}},
		{projects: []string{"f->dec12-2!"}},
		{projects: []string{"d->dbl", "e->dbl", "e->flt", "d->int", "e->big"}},
		{projects: []string{"e->int"}},
		{projects: []string{"d->tiny"}},
		{projects: []string{"t->str", "t->vc10", "t9->str", "tm->str"}},
		{projects: []string{"d<e", "e=d", "d>=b", "a<>e", "d>10.5", "d<=100", "d=0.125", "e>maxlong"}},
		{filter: "d>10.5", projects: []string{"d<f", "f>=e", "e=0.5d"}},
		{filter: "a<>e", projects: []string{"d"}},
		{projects: []string{"d*f", "f-e", "e/f", "d+1.5"}},
		{projects: []string{"g->dec12-3", "g->dec18-0", "g->try6-2", "f->flt"}},
		{projects: []string{"t->date", "t9->date", "t9->time0", "t9->time3", "t9->time9", "t->time", "date->ts"}},
		{projects: []string{"f->big"}},
		{projects: []string{"f->int"}},
		{projects: []string{"f->trytiny", "f->trybig"}},
		{filter: "t-filter", projects: []string{"t->vc10", "e->dbl"}},
	}
	rng := rand.New(rand.NewSource(11))
	var batches [][]changelog.Row
	for i := 0; i < 40; i++ {
		batches = append(batches, castTestRows(rng, 1+rng.Intn(300), i%4 == 3))
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
			outRows, errs, kernelBatches := 0, 0, 0
			for bi, rows := range batches {
				want, werr := runCalcPathTypes(castTestTypes, projects, filter, rows, "rows")
				outRows += strings.Count(want, "\n")
				if werr != nil {
					errs++
				}
				for _, path := range []string{"vec-rows", "vec-cols"} {
					got, gerr := runCalcPathTypes(castTestTypes, projects, filter, rows, path)
					if lastBails > 0 && !bailOK {
						t.Fatalf("batch %d, %s: the kernels bailed", bi, path)
					}
					if lastBails == 0 && path == "vec-cols" {
						kernelBatches++
					}
					if fmt.Sprint(werr) != fmt.Sprint(gerr) {
						t.Fatalf("batch %d, %s: error %v, row path %v", bi, path, gerr, werr)
					}
					if got != want {
						t.Fatalf("batch %d, %s:\n%s\nrow path:\n%s", bi, path, got, want)
					}
				}
			}
			if outRows == 0 && errs < len(batches) {
				t.Fatalf("no output rows: the comparison is vacuous")
			}
			if kernelBatches == 0 && !alwaysRows[tc.projects[0]] {
				t.Fatalf("every batch bailed to the row path: the kernels were never compared")
			}
			t.Logf("%d rows out, %d batches failed (the same way on every path), %d of %d batches on the kernels",
				outRows, errs, kernelBatches, len(batches))
		})
	}
}

// A literal of a smaller scale than the DECIMAL it is compared with is scaled up at compile time (the int64
// order); one of a larger scale, or a column, compares through vwideCmp.
func TestCalcVecDecimalCompareShapes(t *testing.T) {
	env := expr.NewEnv(nil)
	d := expr.Column(0, "d", types.DecimalType(10, 2))
	for _, tc := range []struct {
		lit  expr.Expr
		want string
	}{
		{expr.Literal(types.DecimalValue(105, 1), types.DecimalType(3, 1).WithNullable(false)), "*exec.vcompare"},
		{expr.Literal(types.IntValue(100), types.IntType().WithNullable(false)), "*exec.vcompare"},
		{expr.Literal(types.DecimalValue(125, 3), types.DecimalType(3, 3).WithNullable(false)), "*exec.vwideCmp"},
		{expr.Column(1, "e", types.DecimalType(18, 4)), "*exec.vwideCmp"},
	} {
		x, err := expr.Call(env, ">", d, tc.lit)
		if err != nil {
			t.Fatal(err)
		}
		k := (&vcompiler{}).compile(x)
		if got := fmt.Sprintf("%T", k); got != tc.want {
			t.Errorf("%v: kernel %s, want %s", x, got, tc.want)
		}
	}
}
