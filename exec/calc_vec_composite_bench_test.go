package exec

import (
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkCalcVecComposite compares the row path and the kernels (over columnar input, as the JSON and
// Avro decoders give) for MAP and ARRAY access, CARDINALITY, ROW and ARRAY constructors, a Go UDF (alone,
// and with a filter and arithmetic projections), IF of ROW type, NULLIF of ROW and ARRAY, an ARRAY constant
// in IF, casts of ARRAY and ROW that change values and IN over ARRAYs, each next to an id column and an
// arithmetic projection, 65,536 rows in batches of 1024. Reported as ns/row.
func BenchmarkCalcVecComposite(b *testing.B) {
	const rows, batch = 65536, 1024
	env := expr.NewEnv(nil)
	twice, err := expr.NewUDF("twice", func(x int64) int64 { return 2 * x })
	if err != nil {
		b.Fatal(err)
	}
	env.Functions = map[string]*expr.UDF{twice.Name(): twice}
	ts := []types.Type{types.BigIntType(), types.MapType(types.StringType(), types.StringType()),
		types.ArrayType(types.StringType()), types.DoubleType()}
	id, headers, tags, price := expr.Column(0, "id", ts[0]), expr.Column(1, "headers", ts[1]), expr.Column(2, "tags", ts[2]), expr.Column(3, "price", ts[3])
	call := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			b.Fatal(err)
		}
		return x
	}
	i32 := func(v int64) expr.Expr { return expr.Literal(types.IntValue(v), types.IntType().WithNullable(false)) }
	str := func(s string) expr.Expr {
		return expr.Literal(types.StringValue(s), types.StringType().WithNullable(false))
	}
	in := make([]changelog.Row, rows)
	for i := range in {
		h := &types.MapValue{
			Keys: []types.Value{types.StringValue("content-type"), types.StringValue("trace_id"), types.StringValue("source")},
			Vals: []types.Value{types.StringValue("application/json"), types.StringValue(fmt.Sprintf("t-%08x", i)), types.StringValue("web")},
		}
		tg := []types.Value{types.StringValue([]string{"red", "green", "blue"}[i%3]), types.StringValue("sale")}
		in[i] = changelog.Row{Vals: []types.Value{types.IntValue(int64(i)), types.MapOf(h), types.ArrayValue(tg[:1+i%2]),
			types.FloatValue(float64(i%1000) / 7)}}
	}
	cols := benchColumns(in, ts, batch)
	cast := func(x expr.Expr, t types.Type) expr.Expr {
		y, err := expr.Cast(env, x, t, false)
		if err != nil {
			b.Fatal(err)
		}
		return y
	}
	inList := func(x expr.Expr, list ...expr.Expr) expr.Expr {
		y, err := expr.In(x, list, false)
		if err != nil {
			b.Fatal(err)
		}
		return y
	}
	gt50 := call(">", price, expr.Literal(types.FloatValue(50), types.DoubleType().WithNullable(false)))
	none := expr.Literal(types.ArrayValue([]types.Value{types.StringValue("none")}), types.ArrayType(types.StringType()))
	plus := call("*", price, expr.Literal(types.FloatValue(1.2), types.DoubleType().WithNullable(false)))
	cases := []struct {
		name     string
		projects []expr.Expr
		filter   expr.Expr
	}{
		{"map-key", []expr.Expr{id, call("ITEM", headers, str("trace_id")), plus}, nil},
		{"array-index", []expr.Expr{id, call("ITEM", tags, i32(1)), plus}, nil},
		{"cardinality", []expr.Expr{id, call("CARDINALITY", tags), plus}, nil},
		{"row-ctor", []expr.Expr{id, call("ROW", id, price), plus}, nil},
		{"array-ctor", []expr.Expr{id, call("ARRAY", id, call("+", id, i32(1))), plus}, nil},
		{"udf", []expr.Expr{id, call("twice", id), plus}, nil},
		{"udf-mixed", []expr.Expr{id, call("twice", id), plus, call("+", price, price), call("*", id, i32(3)), call("MOD", id, i32(7))},
			call(">", price, expr.Literal(types.FloatValue(50), types.DoubleType().WithNullable(false)))},
		{"if-row", []expr.Expr{id, call("IF", call(">", price, expr.Literal(types.FloatValue(50), types.DoubleType().WithNullable(false))),
			call("ROW", id, price), call("ROW", call("+", id, i32(1)), plus))}, nil},
		{"nullif-row", []expr.Expr{id, call("NULLIF", call("ROW", id, price), call("ROW", call("*", id, i32(1)), plus)), plus}, nil},
		{"nullif-array", []expr.Expr{id, call("NULLIF", tags, call("ARRAY", str("red"))), plus}, nil},
		{"case-array-const", []expr.Expr{id, call("IF", gt50, tags, none), plus}, nil},
		{"cast-array", []expr.Expr{id, cast(tags, types.ArrayType(types.CharType(3))), plus}, nil},
		{"cast-row", []expr.Expr{id, cast(call("ROW", id, price), types.RowType(types.Field{Name: "a", Type: types.StringType()},
			types.Field{Name: "b", Type: types.DoubleType()})), plus}, nil},
		{"in-array", []expr.Expr{id, inList(tags, call("ARRAY", str("red")), call("ARRAY", str("blue"), str("sale"))), plus}, nil},
	}
	for _, tc := range cases {
		for _, path := range []string{"rows", "vec-cols"} {
			b.Run(fmt.Sprintf("%s/%s", tc.name, path), func(b *testing.B) {
				c := NewCalc(tc.projects, tc.filter, blackholeOut{}).(*calc)
				if path == "rows" {
					c.vx = nil
				} else if c.vx == nil {
					b.Skip("no kernel: the Calc runs on rows")
				}
				benchCalcPush(b, c, path, in, cols, batch)
			})
		}
	}
}
