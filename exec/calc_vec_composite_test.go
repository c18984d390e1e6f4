package exec

import (
	"errors"
	"math/big"
	"math/rand"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// ARRAY/MAP access, CARDINALITY, ARRAY/MAP/ROW constructors and user functions against the row path:
// NULL containers, NULL elements, NULL map keys, indexes out of range and NULL, repeated map keys (the
// first wins), absent keys, wide decimals (held as big integers: bail), nested containers.

var compTestTypes = []types.Type{
	types.ArrayType(types.IntType()),                      // 0 arr
	types.ArrayType(types.StringType()),                   // 1 arrs
	types.MapType(types.StringType(), types.StringType()), // 2 m
	types.MapType(types.IntType(), types.BigIntType()),    // 3 mi
	types.IntType(),     // 4 idx
	types.StringType(),  // 5 s
	types.BooleanType(), // 6 flag
	types.MapType(types.StringType(), types.ArrayType(types.IntType())),                                            // 7 nest
	types.ArrayType(types.DecimalType(38, 2)),                                                                      // 8 arrd
	types.MapType(types.StringType(), types.TimestampType(9).WithNullable(true)),                                   // 9 mts
	types.RowType(types.Field{Name: "x", Type: types.IntType()}, types.Field{Name: "y", Type: types.StringType()}), // 10 r
}

var compTestNames = []string{"arr", "arrs", "m", "mi", "idx", "s", "flag", "nest", "arrd", "mts", "r"}

func compTestRows(rng *rand.Rand, n int) []changelog.Row {
	null := func() bool { return rng.Intn(7) == 0 }
	keys := []string{"a", "b", "", "zz"}
	intArr := func() types.Value {
		if null() {
			return types.NullValue
		}
		v := make([]types.Value, rng.Intn(4))
		for i := range v {
			if !null() {
				v[i] = types.IntValue(int64(rng.Intn(100) - 50))
			}
		}
		return types.ArrayValue(v)
	}
	strMap := func(val func() types.Value) types.Value {
		if null() {
			return types.NullValue
		}
		m := &types.MapValue{}
		for range rng.Intn(4) {
			k := types.StringValue(keys[rng.Intn(len(keys))])
			if rng.Intn(10) == 0 {
				k = types.NullValue
			}
			m.Keys, m.Vals = append(m.Keys, k), append(m.Vals, val())
		}
		return types.MapOf(m)
	}
	str := func() types.Value {
		if null() {
			return types.NullValue
		}
		return types.StringValue(keys[rng.Intn(len(keys))] + "x")
	}
	rowVal := func() types.Value {
		if null() {
			return types.NullValue
		}
		x := types.NullValue
		if !null() {
			x = types.IntValue(int64(rng.Intn(5)))
		}
		return types.RowValue([]types.Value{x, str()})
	}
	rows := make([]changelog.Row, n)
	for r := range rows {
		arrs := types.NullValue
		if !null() {
			v := make([]types.Value, rng.Intn(3))
			for i := range v {
				v[i] = str()
			}
			arrs = types.ArrayValue(v)
		}
		mi := types.NullValue
		if !null() {
			m := &types.MapValue{}
			for range rng.Intn(4) {
				m.Keys, m.Vals = append(m.Keys, types.IntValue(int64(rng.Intn(3)))), append(m.Vals, types.IntValue(rng.Int63()))
			}
			mi = types.MapOf(m)
		}
		idx := types.NullValue
		if !null() {
			idx = types.IntValue(int64(rng.Intn(6) - 1))
		}
		s := types.NullValue
		if !null() {
			s = types.StringValue(keys[rng.Intn(len(keys))])
			if rng.Intn(400) == 0 {
				s = types.StringValue("boom") // picky fails
			}
		}
		arrd := types.NullValue
		if !null() {
			v := []types.Value{types.DecimalValue(int64(rng.Intn(1000)), 2)}
			if rng.Intn(20) == 0 {
				v = append(v, types.BigDecimalValue(new(big.Int).Lsh(big.NewInt(1), 80), 2))
			}
			arrd = types.ArrayValue(v)
		}
		rows[r].Vals = []types.Value{
			intArr(), arrs, strMap(str), mi, idx, s, types.BoolValue(rng.Intn(2) == 0),
			strMap(intArr), arrd,
			strMap(func() types.Value {
				if null() {
					return types.NullValue
				}
				return types.TimestampValue(int64(rng.Intn(1e6)), int32(rng.Intn(2)*777))
			}),
			rowVal(),
		}
	}
	return rows
}

func TestCalcVecCompositeMatchRowPath(t *testing.T) {
	env := expr.NewEnv(nil)
	twice, err := expr.NewUDF("twice", func(x int64) int64 { return 2 * x })
	if err != nil {
		t.Fatal(err)
	}
	picky, err := expr.NewUDF("picky", func(s string) (string, error) {
		if s == "boom" {
			return "", errors.New("no boom")
		}
		return "<" + s + ">", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	env.Functions = map[string]*expr.UDF{twice.Name(): twice, picky.Name(): picky}
	e := fnTestEnv{t, env}
	col := func(i int) expr.Expr { return expr.Column(i, compTestNames[i], compTestTypes[i]) }
	arr, arrs, m, mi, idx, s, flag, nest, arrd, mts, r := col(0), col(1), col(2), col(3), col(4), col(5), col(6), col(7), col(8), col(9), col(10)
	caseWhen := func(conds, results []expr.Expr, els expr.Expr) expr.Expr {
		x, err := expr.CaseWhen(conds, results, els)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	item := func(x, k expr.Expr) expr.Expr { return e.call("ITEM", x, k) }
	cast := func(x expr.Expr, to types.Type, try bool) expr.Expr {
		y, err := expr.Cast(env, x, to, try)
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	in := func(x expr.Expr, not bool, list ...expr.Expr) expr.Expr {
		y, err := expr.In(x, list, not)
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	rowXY := func(x, y types.Type) types.Type {
		return types.RowType(types.Field{Name: "x", Type: x}, types.Field{Name: "y", Type: y})
	}
	exprs := map[string]expr.Expr{
		"flag":          flag,
		"arr[1]":        item(arr, i32(1)),
		"arr[3]":        item(arr, i32(3)),
		"arr[idx]":      item(arr, idx),
		"arrs[2]":       item(arrs, i32(2)),
		"m['a']":        item(m, strLit("a")),
		"m['']":         item(m, strLit("")),
		"m['nope']":     item(m, strLit("nope")),
		"m[s]":          item(m, s),
		"mi[1]":         item(mi, i32(1)),
		"nest['b']":     item(nest, strLit("b")),
		"nest['b'][2]":  item(item(nest, strLit("b")), i32(2)),
		"arrd[1]":       item(arrd, i32(1)),
		"arrd[2]":       item(arrd, i32(2)),
		"mts['a']":      item(mts, strLit("a")),
		"card(arr)":     e.call("CARDINALITY", arr),
		"card(m)":       e.call("CARDINALITY", m),
		"card(nest)":    e.call("CARDINALITY", nest),
		"card(ARRAY)":   e.call("CARDINALITY", e.call("ARRAY", idx, i32(4))),
		"ARRAY[idx]":    e.call("ARRAY", idx, i32(7)),
		"ARRAY[s]":      e.call("ARRAY", s, strLit("k")),
		"MAP[s,idx]":    e.call("MAP", s, idx, strLit("c"), i32(1)),
		"ROW(idx,s)":    e.call("ROW", idx, s),
		"ROW(arr[1])":   e.call("ROW", item(arr, i32(1)), flag),
		"ROW(ROW)":      e.call("ROW", e.call("ROW", s), idx),
		"twice(idx)":    e.call("twice", idx),
		"twice(arr)":    e.call("twice", item(arr, idx)),
		"picky(s)":      e.call("picky", s),
		"picky(arrs)":   e.call("picky", item(arrs, i32(1))),
		"IF(row)":       e.call("IF", flag, e.call("ROW", idx, s), e.call("ROW", i32(1), strLit("z"))),
		"IFNULL(r)":     e.call("IFNULL", r, e.call("ROW", idx, s)),
		"COALESCE(r)":   e.call("COALESCE", r, r),
		"CASE(r)":       caseWhen([]expr.Expr{flag}, []expr.Expr{r}, nil),
		"COALESCE(arr)": e.call("COALESCE", arr, e.call("ARRAY", idx)),
		"IF(m)":         e.call("IF", flag, m, e.call("MAP", s, strLit("v"))),
		"CASE(m)":       caseWhen([]expr.Expr{flag, e.call("IS NULL", idx)}, []expr.Expr{m, m}, nil),
		"IF(row).x":     e.call("FIELD", e.call("IF", flag, r, e.call("ROW", idx, s)), strLit("x")),
		"m['a']='ax'":   e.call("=", item(m, strLit("a")), strLit("ax")),
		"twice>2":       e.call(">", e.call("twice", idx), i32(2)),

		"NULLIF(r)":         e.call("NULLIF", r, e.call("ROW", i32(1), s)),
		"NULLIF(r,r)":       e.call("NULLIF", r, r),
		"NULLIF(arr)":       e.call("NULLIF", arr, e.call("ARRAY", idx)),
		"NULLIF(m)":         e.call("NULLIF", m, e.call("MAP", strLit("a"), s)),
		"IF(arr,ARRAY[])":   e.call("IF", flag, arr, e.call("ARRAY", i32(1), i32(2))),
		"CASE(MAP[])":       caseWhen([]expr.Expr{flag}, []expr.Expr{e.call("MAP", strLit("a"), strLit("ax"))}, m),
		"COALESCE(ARRAY[])": e.call("COALESCE", arrs, e.call("ARRAY", strLit("q"))),
		"arr::BIGINT[]":     cast(arr, types.ArrayType(types.BigIntType()), false),
		"arr::STRING[]":     cast(arr, types.ArrayType(types.StringType()), false),
		"arrs::INT[]": cast(e.call("IF", e.call("=", s, strLit("boom")), arrs, cast(arr, types.ArrayType(types.StringType()), false)),
			types.ArrayType(types.IntType()), false), // fails where s is 'boom'
		"ARRAY[1,2]": expr.Literal(types.ArrayValue([]types.Value{types.IntValue(1), types.IntValue(2)}), types.ArrayType(types.IntType())),
		"CASE(ARRAY[1,2],NULL)": caseWhen([]expr.Expr{flag, e.call("IS NULL", idx)},
			[]expr.Expr{expr.Literal(types.ArrayValue([]types.Value{types.IntValue(1), types.IntValue(2)}), types.ArrayType(types.IntType())),
				expr.Literal(types.NullValue, types.ArrayType(types.IntType()))}, arr),
		"IF(m,MAP[])": e.call("IF", flag, m, expr.Literal(types.MapOf(&types.MapValue{Keys: []types.Value{types.StringValue("k")},
			Vals: []types.Value{types.StringValue("v")}}), types.MapType(types.StringType(), types.StringType()))),
		"arrs::INT[]?":     cast(arrs, types.ArrayType(types.IntType()), true),
		"mi::MAP<S,S>":     cast(mi, types.MapType(types.StringType(), types.StringType()), false),
		"nest::MAP<S,S[]>": cast(nest, types.MapType(types.StringType(), types.ArrayType(types.StringType())), false),
		"r::ROW<BIGINT>":   cast(r, rowXY(types.BigIntType(), types.StringType()), false),
		"r::ROW<STRING>":   cast(r, rowXY(types.StringType(), types.StringType()), false),
		"r::ROW<_,INT>":    cast(r, rowXY(types.IntType(), types.IntType()), true),
		"arr IN":           in(arr, false, e.call("ARRAY", i32(1)), e.call("ARRAY", idx, i32(2))),
		"arr IN const":     in(arr, false, e.call("ARRAY", i32(1)), e.call("ARRAY", i32(-3), i32(2))),
		"m NOT IN":         in(m, true, e.call("MAP", strLit("a"), strLit("ax")), m),
		"arrs IN const":    in(arrs, false, e.call("ARRAY", strLit("ax")), e.call("ARRAY", strLit("bx"), strLit("ax"))),
	}
	mayBail := map[string]bool{"arrs::INT[]": true, "picky(s)": true} // fail on one row in 400
	var names []string
	for n := range exprs {
		if n != "flag" && n != "m['a']='ax'" && n != "twice>2" && !mayBail[n] {
			names = append(names, n)
		}
	}
	rng := rand.New(rand.NewSource(23))
	var batches [][]changelog.Row
	for range 30 {
		batches = append(batches, compTestRows(rng, 1+rng.Intn(300)))
	}
	cases := []vecCase{
		{projects: names}, {filter: "flag", projects: names},
		{filter: "m['a']='ax'", projects: names}, {filter: "twice>2"},
	}
	for n := range exprs {
		cases = append(cases, vecCase{projects: []string{n}}, vecCase{filter: "flag", projects: []string{n}})
	}
	checkVecCases(t, compTestTypes, exprs, mayBail, cases, batches)
}
