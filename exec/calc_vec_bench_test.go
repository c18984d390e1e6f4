package exec

import (
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// BenchmarkCalcVec compares the row path and the vector path of a Calc over 65,536 rows in batches of 1024
// (the nexmark source's batch): Nexmark q2's filter MOD(auction, 123) = 0 and q1's projection
// 0.908 * price (DECIMAL(23, 3)). Paths: rows (today's row path), vec-rows (the kernels over row input,
// converted to columns), vec-cols (the kernels over columnar input, as from the nexmark source).
// Reported as ns/row.
func BenchmarkCalcVec(b *testing.B) {
	const rows, batch = 65536, 1024
	env := expr.NewEnv(nil)
	auction := expr.Column(0, "auction", types.BigIntType())
	price := expr.Column(1, "price", types.BigIntType())
	mod, _ := expr.Call(env, "MOD", auction, expr.Literal(types.IntValue(123), types.IntType()))
	filter, _ := expr.Call(env, "=", mod, expr.Literal(types.IntValue(0), types.IntType()))
	mul, _ := expr.Call(env, "*", expr.Literal(types.DecimalValue(908, 3), types.DecimalType(3, 3)), price)
	ts := []types.Type{types.BigIntType(), types.BigIntType()}
	in := make([]changelog.Row, rows)
	for i := range in {
		in[i] = changelog.Row{Vals: []types.Value{types.IntValue(int64(1000 + i*7)), types.IntValue(int64(100 + i*37%1_000_000))}}
	}
	var cols []*vec.Batch
	for lo := 0; lo < rows; lo += batch {
		cb := &vec.Batch{}
		vec.FromRows(cb, in[lo:lo+batch], ts, nil)
		cols = append(cols, cb)
	}
	cases := []struct {
		name     string
		projects []expr.Expr
		filter   expr.Expr
	}{
		{"mod-filter", []expr.Expr{auction, price}, filter},
		{"decimal-projection", []expr.Expr{auction, mul}, nil},
	}
	for _, tc := range cases {
		for _, path := range []string{"rows", "vec-rows", "vec-cols"} {
			b.Run(fmt.Sprintf("%s/%s", tc.name, path), func(b *testing.B) {
				c := NewCalc(tc.projects, tc.filter, blackholeOut{}).(*calc)
				if path == "rows" {
					c.vx = nil
				} else if c.vx == nil {
					b.Fatal("not vectorized")
				}
				b.ResetTimer()
				for n := 0; n < b.N; n++ {
					for k, lo := 0, 0; lo < rows; k, lo = k+1, lo+batch {
						var err error
						if path == "vec-cols" {
							err = c.PushColumns(cols[k])
						} else {
							err = c.Push(&changelog.Batch{Rows: in[lo : lo+batch]})
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
				if c.vx != nil && c.vx.bails > 0 {
					b.Fatalf("%d batches bailed", c.vx.bails)
				}
			})
		}
	}
}

// blackholeOut discards rows and columns (a sink taking both, as the blackhole connector).
type blackholeOut struct{}

func (blackholeOut) Push(*changelog.Batch) error  { return nil }
func (blackholeOut) PushColumns(*vec.Batch) error { return nil }
func (blackholeOut) AcceptsColumns() bool         { return true }
func (blackholeOut) Watermark(int64) error        { return nil }
func (blackholeOut) End() error                   { return nil }
