package exec

import (
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkCalcVecLogic compares the row path and the kernels (over columnar input) for lazy AND / OR (a
// guarded division, cheap comparisons, a costly right operand), IN over a list that is not constant, ROW
// equality and IN over ROW lists, and REGEXP_REPLACE, 65,536 rows in batches of 1024. Reported as ns/row;
// a batch that bails takes the row path (counted in bails/op), a Calc without kernels is skipped.
func BenchmarkCalcVecLogic(b *testing.B) {
	const rows, batch = 65536, 1024
	env := expr.NewEnv(nil)
	x := expr.Column(0, "x", types.BigIntType())
	y := expr.Column(1, "y", types.BigIntType())
	s := expr.Column(2, "s", types.StringType())
	call := func(name string, args ...expr.Expr) expr.Expr {
		r, err := expr.Call(env, name, args...)
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	i64 := func(v int64) expr.Expr {
		return expr.Literal(types.IntValue(v), types.BigIntType().WithNullable(false))
	}
	str := func(v string) expr.Expr {
		return expr.Literal(types.StringValue(v), types.StringType().WithNullable(false))
	}
	in := func(v expr.Expr, list ...expr.Expr) expr.Expr {
		r, err := expr.In(v, list, false)
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.StringType()}
	words := []string{"alpha-12", "beta", "gamma 345 x 6", "delta_7777", "epsilon"}
	data := make([]changelog.Row, rows)
	for i := range data {
		data[i] = changelog.Row{Vals: []types.Value{
			types.IntValue(int64(i*7919%1000) - 500),
			types.IntValue(int64(i * 31 % 97)),
			types.StringValue(fmt.Sprintf("%s/%d", words[i%len(words)], i%113)),
		}}
	}
	cols := benchColumns(data, ts, batch)
	cases := []struct {
		name   string
		filter expr.Expr
		proj   []expr.Expr
	}{
		{"and-guarded-div", call("AND", call("<>", x, i64(0)), call(">", call("/", i64(100000), x), i64(300))), nil},
		{"and-cheap", call("AND", call(">", x, i64(0)), call("<", y, i64(50))), nil},
		{"or-cheap", call("OR", call(">", x, i64(0)), call("<", y, i64(50))), nil},
		{"and-like", call("AND", call(">", x, i64(400)), call("LIKE", s, str("%a%7%"))), nil},
		{"in-columns", in(x, y, call("-", y, i64(500)), call("*", y, i64(3))), nil},
		{"row-eq", nil, []expr.Expr{call("=", call("ROW", x, y), call("ROW", y, x))}},
		{"row-in", nil, []expr.Expr{in(call("ROW", x, y), call("ROW", i64(1), i64(2)), call("ROW", y, x), call("ROW", i64(-500), y))}},
		{"regexp_replace", nil, []expr.Expr{call("REGEXP_REPLACE", s, str("[0-9]+"), str("#"))}},
		{"regexp_replace-fast", nil, []expr.Expr{call("REGEXP_REPLACE", s, str("/([0-9]*)"), str("#"))}},
	}
	for _, tc := range cases {
		for _, path := range []string{"rows", "vec-cols"} {
			b.Run(fmt.Sprintf("%s/%s", tc.name, path), func(b *testing.B) {
				projects := tc.proj
				if projects == nil {
					projects = []expr.Expr{x, y}
				}
				c := NewCalc(projects, tc.filter, blackholeOut{}).(*calc)
				if path == "rows" {
					c.vx = nil
				} else if c.vx == nil {
					b.Skip("no kernel: the Calc runs on rows")
				}
				b.ReportAllocs()
				b.ResetTimer()
				for n := 0; n < b.N; n++ {
					for k, lo := 0, 0; lo < len(data); k, lo = k+1, lo+batch {
						var err error
						if path == "vec-cols" {
							err = c.PushColumns(cols[k])
						} else {
							err = c.Push(&changelog.Batch{Rows: data[lo : lo+batch]})
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(data)), "ns/row")
				if c.vx != nil {
					b.ReportMetric(float64(c.vx.bails)/float64(b.N), "bails/op")
				}
			})
		}
	}
}
