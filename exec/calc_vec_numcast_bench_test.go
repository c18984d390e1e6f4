package exec

import (
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkCalcVecCasts compares the row path and the kernels (over row input converted to columns, and
// over columnar input) for the kernels that used to send the whole Calc to the row path: DECIMAL MOD, the
// casts DECIMAL → DOUBLE/BIGINT/DECIMAL(p, 0), DOUBLE → DECIMAL and TIMESTAMP → VARCHAR, and comparisons of a DECIMAL with a literal of
// another scale and with a DOUBLE, over 65,536 rows
// in batches of 1024. Reported as ns/row (and allocs/op per 65,536 rows).
func BenchmarkCalcVecCasts(b *testing.B) {
	const rows, batch = 65536, 1024
	env := expr.NewEnv(nil)
	price := expr.Column(0, "price", types.DecimalType(10, 2))
	f := expr.Column(1, "f", types.DoubleType())
	ts := expr.Column(2, "ts", types.TimestampType(3))
	call := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			b.Fatal(err)
		}
		return x
	}
	cast := func(x expr.Expr, to types.Type) expr.Expr {
		c, err := expr.Cast(env, x, to, false)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	dlit := func(unscaled int64, p, s int) expr.Expr {
		return expr.Literal(types.DecimalValue(unscaled, s), types.DecimalType(p, s).WithNullable(false))
	}
	colTypes := []types.Type{types.DecimalType(10, 2), types.DoubleType(), types.TimestampType(3)}
	in := make([]changelog.Row, rows)
	for i := range in {
		in[i] = changelog.Row{Vals: []types.Value{
			types.DecimalValue(int64(100+i*37%1_000_000), 2),
			types.FloatValue(float64(i*7919%1_000_000) / 1000),
			types.TimestampValue(1_700_000_000_000+int64(i)*1_237, 0),
		}}
	}
	cols := benchColumns(in, colTypes, batch)
	cases := []struct {
		name     string
		projects []expr.Expr
		filter   expr.Expr
	}{
		{"decimal-mod", []expr.Expr{call("MOD", price, dlit(7, 3, 2))}, nil},
		{"decimal-mod-filter", []expr.Expr{price}, call("=", call("MOD", price, dlit(250, 3, 2)), expr.Literal(types.IntValue(0), types.IntType().WithNullable(false)))},
		{"decimal-to-double", []expr.Expr{cast(price, types.DoubleType())}, nil},
		{"decimal-to-bigint", []expr.Expr{cast(price, types.BigIntType())}, nil},
		{"decimal-round", []expr.Expr{cast(price, types.DecimalType(10, 0))}, nil},
		{"double-to-decimal", []expr.Expr{cast(f, types.DecimalType(12, 2))}, nil},
		{"decimal-gt-literal-filter", []expr.Expr{price}, call(">", price, dlit(50005, 5, 1))},
		{"decimal-lt-double-filter", []expr.Expr{price}, call("<", price, f)},
		{"double-to-bigint", []expr.Expr{cast(f, types.BigIntType())}, nil},
		{"decimal-times-double", []expr.Expr{call("*", price, f)}, nil},
		{"timestamp-to-date", []expr.Expr{cast(ts, types.DateType())}, nil},
		{"timestamp-to-string", []expr.Expr{cast(ts, types.StringType())}, nil},
	}
	for _, tc := range cases {
		for _, path := range []string{"rows", "vec-rows", "vec-cols"} {
			b.Run(fmt.Sprintf("%s/%s", tc.name, path), func(b *testing.B) {
				c := NewCalc(tc.projects, tc.filter, blackholeOut{}).(*calc)
				if path == "rows" {
					c.vx = nil
				} else if c.vx == nil {
					b.Fatal("not vectorized")
				} else {
					c.vx.rowsOnly = false
				}
				benchCalcPush(b, c, path, in, cols, batch)
			})
		}
	}
}
