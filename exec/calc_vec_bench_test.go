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
	cols := benchColumns(in, ts, batch)
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
				benchCalcPush(b, c, path, in, cols, batch)
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

// BenchmarkCalcVecStrings compares the row path and the kernels (over columnar input, as from the nexmark
// source, and over row input) for the string, LIKE, IN and DECIMAL division kernels, 65,536 rows in
// batches of 1024. Reported as ns/row (and allocs/op per 65,536 rows).
func BenchmarkCalcVecStrings(b *testing.B) {
	const rows, batch = 65536, 1024
	env := expr.NewEnv(nil)
	url := expr.Column(0, "url", types.StringType())
	channel := expr.Column(1, "channel", types.StringType())
	auction := expr.Column(2, "auction", types.BigIntType())
	price := expr.Column(3, "price", types.DecimalType(10, 2))
	call := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			b.Fatal(err)
		}
		return x
	}
	str := func(s string) expr.Expr {
		return expr.Literal(types.StringValue(s), types.StringType().WithNullable(false))
	}
	var list []expr.Expr
	for i := int64(0); i < 50; i++ {
		list = append(list, expr.Literal(types.IntValue(1000+i*97), types.BigIntType().WithNullable(false)))
	}
	inLong, _ := expr.In(auction, list, false)
	inShort, _ := expr.In(auction, list[:4], false)
	ts := []types.Type{types.StringType(), types.StringType(), types.BigIntType(), types.DecimalType(10, 2)}
	channels := []string{"Google", "Facebook", "Baidu", "Apple", "channel-1234"}
	in := make([]changelog.Row, rows)
	for i := range in {
		in[i] = changelog.Row{Vals: []types.Value{
			types.StringValue(fmt.Sprintf("https://www.nexmark.com/item.htm?query=1&channel_id=%d", i*7919%10000)),
			types.StringValue(channels[i%len(channels)]),
			types.IntValue(int64(1000 + i*7)),
			types.DecimalValue(int64(100+i*37%1_000_000), 2),
		}}
	}
	cols := benchColumns(in, ts, batch)
	cases := []struct {
		name     string
		projects []expr.Expr
		filter   expr.Expr
	}{
		{"upper", []expr.Expr{auction, call("UPPER", channel)}, nil},
		{"lower-eq-filter", []expr.Expr{auction}, call("=", call("LOWER", channel), str("apple"))},
		{"like-contains-filter", []expr.Expr{auction}, call("LIKE", url, str("%id=1%"))},
		{"like-general-filter", []expr.Expr{auction}, call("LIKE", url, str("https://_%item%=_"))},
		{"in-50-filter", []expr.Expr{auction}, inLong},
		{"in-4-filter", []expr.Expr{auction}, inShort},
		{"substring", []expr.Expr{call("SUBSTRING", url, expr.Literal(types.IntValue(9), types.IntType()), expr.Literal(types.IntValue(16), types.IntType()))}, nil},
		{"concat", []expr.Expr{call("||", channel, url)}, nil},
		{"split-index", []expr.Expr{call("SPLIT_INDEX", url, str("/"), expr.Literal(types.IntValue(3), types.IntType()))}, nil},
		{"char-length", []expr.Expr{call("CHAR_LENGTH", url)}, nil},
		{"decimal-div", []expr.Expr{call("/", price, expr.Literal(types.DecimalValue(7, 0), types.DecimalType(1, 0)))}, nil},
	}
	for _, tc := range cases {
		for _, path := range []string{"rows", "vec-rows", "vec-cols"} {
			b.Run(fmt.Sprintf("%s/%s", tc.name, path), func(b *testing.B) {
				c := NewCalc(tc.projects, tc.filter, blackholeOut{}).(*calc)
				if path == "rows" {
					c.vx = nil
				} else if c.vx == nil {
					b.Fatal("not vectorized")
				} else if path == "vec-rows" {
					c.vx.rowsOnly = false
				}
				benchCalcPush(b, c, path, in, cols, batch)
			})
		}
	}
}

// benchColumns is in as columnar batches of batch rows (the columns the Calc benchmarks push).
func benchColumns(in []changelog.Row, ts []types.Type, batch int) []*vec.Batch {
	var cols []*vec.Batch
	for lo := 0; lo < len(in); lo += batch {
		cb := &vec.Batch{}
		vec.FromRows(cb, in[lo:lo+batch], ts, nil)
		cols = append(cols, cb)
	}
	return cols
}

// benchCalcPush pushes in (path "rows" or "vec-rows": as row batches of batch rows) or cols ("vec-cols") into
// c b.N times, reports ns/row and allocations, and fails if a batch bailed out of the kernels.
func benchCalcPush(b *testing.B, c *calc, path string, in []changelog.Row, cols []*vec.Batch, batch int) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for k, lo := 0, 0; lo < len(in); k, lo = k+1, lo+batch {
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
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(in)), "ns/row")
	if c.vx != nil && c.vx.bails > 0 {
		b.Fatalf("%d batches bailed", c.vx.bails)
	}
}
