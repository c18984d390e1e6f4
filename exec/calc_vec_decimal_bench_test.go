package exec

import (
	"fmt"
	"math/big"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkCalcVecWideDecimal compares the row path and the kernels for DECIMAL(38, 10) × and ÷ over
// 65,536 rows in batches of 1024; a third of the values need more than 64 bits. Reported as ns/row.
func BenchmarkCalcVecWideDecimal(b *testing.B) {
	const rows, batch = 65536, 1024
	env := expr.NewEnv(nil)
	t := types.DecimalType(38, 10)
	x, y := expr.Column(0, "x", t), expr.Column(1, "y", t)
	mul, _ := expr.Call(env, "*", x, y)
	div, _ := expr.Call(env, "/", x, y)
	ts := []types.Type{t, t}
	in := make([]changelog.Row, rows)
	for i := range in {
		u := big.NewInt(int64(i)*7_919_113 + 12_345)
		if i%3 == 0 {
			u.Mul(u, big.NewInt(1_000_000_000_000))
		}
		in[i] = changelog.Row{Vals: []types.Value{types.BigDecimalValue(u, 10), types.DecimalValue(int64(i%977)*1_234_567+1, 10)}}
	}
	cols := benchColumns(in, ts, batch)
	for _, tc := range []struct {
		name string
		x    expr.Expr
	}{{"mul", mul}, {"div", div}} {
		for _, path := range []string{"rows", "vec-rows", "vec-cols"} {
			b.Run(fmt.Sprintf("%s/%s", tc.name, path), func(b *testing.B) {
				c := NewCalc([]expr.Expr{tc.x}, nil, blackholeOut{}).(*calc)
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
