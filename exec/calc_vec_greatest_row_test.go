package exec

import (
	"math"
	"math/rand"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// GREATEST / LEAST of ROWs (Struct columns) and ARRAYs against the row path: members drawn from small
// domains so that ties in early members are common, NULL members, NULL rows and arrays, NaN, arrays that
// are prefixes of others, timestamps equal to the millisecond, wide decimals.

var nestedRowType = types.RowType(
	types.Field{Name: "x", Type: types.IntType()},
	types.Field{Name: "y", Type: types.StringType()},
	types.Field{Name: "z", Type: types.DoubleType()},
)

var nestedRow2Type = types.RowType(
	types.Field{Name: "t", Type: types.TimestampType(9)},
	types.Field{Name: "d", Type: types.DecimalType(20, 2)},
	types.Field{Name: "b", Type: types.BooleanType()},
	types.Field{Name: "in", Type: nestedRowType},
)

var nestedTestTypes = []types.Type{
	nestedRowType, nestedRowType, nestedRowType, // 0 r1, 1 r2, 2 r3
	types.ArrayType(types.IntType()), types.ArrayType(types.IntType()), // 3 a1, 4 a2
	types.BooleanType(),            // 5 flag
	nestedRow2Type, nestedRow2Type, // 6 s1, 7 s2
}

var nestedTestNames = []string{"r1", "r2", "r3", "a1", "a2", "flag", "s1", "s2"}

func nestedTestRows(rng *rand.Rand, n int) []changelog.Row {
	null := func() bool { return rng.Intn(8) == 0 }
	row := func() types.Value {
		if null() {
			return types.NullValue
		}
		f := make([]types.Value, 3)
		if !null() {
			f[0] = types.IntValue(int64(rng.Intn(3)))
		}
		if !null() {
			f[1] = types.StringValue([]string{"", "a", "ab", "b"}[rng.Intn(4)])
		}
		if !null() {
			f[2] = types.FloatValue([]float64{0, -1, 2.5, math.NaN(), math.Inf(1)}[rng.Intn(5)])
		}
		return types.RowValue(f)
	}
	row2 := func() types.Value {
		if null() {
			return types.NullValue
		}
		f := make([]types.Value, 4)
		if !null() {
			f[0] = types.TimestampValue(int64(rng.Intn(2)), int32(rng.Intn(2)*500))
		}
		if !null() {
			f[1] = types.DecimalValue(int64(rng.Intn(3)-1)*1_000_000_007, 2)
		}
		if !null() {
			f[2] = types.BoolValue(rng.Intn(2) == 0)
		}
		f[3] = row()
		return types.RowValue(f)
	}
	arr := func() types.Value {
		if null() {
			return types.NullValue
		}
		v := make([]types.Value, rng.Intn(4))
		for i := range v {
			if !null() {
				v[i] = types.IntValue(int64(rng.Intn(3)))
			}
		}
		return types.ArrayValue(v)
	}
	rows := make([]changelog.Row, n)
	for r := range rows {
		rows[r].Vals = []types.Value{row(), row(), row(), arr(), arr(), types.BoolValue(rng.Intn(2) == 0), row2(), row2()}
	}
	return rows
}

func TestCalcVecGreatestRowArrayMatchRowPath(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	col := func(i int) expr.Expr { return expr.Column(i, nestedTestNames[i], nestedTestTypes[i]) }
	exprs := map[string]expr.Expr{"flag": col(5)}
	var names []string
	for _, fn := range []string{"GREATEST", "LEAST"} {
		for name, args := range map[string][]expr.Expr{
			"rows2": {col(0), col(1)},
			"rows3": {col(0), col(1), col(2)},
			"self":  {col(2), col(2)},
			"one":   {col(1)},
			"arr":   {col(3), col(4)},
			"arr3":  {col(4), col(3), col(4)},
			"deep":  {col(6), col(7)},
		} {
			key := fn + "-" + name
			exprs[key] = e.call(fn, args...)
			names = append(names, key)
		}
	}
	rng := rand.New(rand.NewSource(11))
	var batches [][]changelog.Row
	for range 30 {
		batches = append(batches, nestedTestRows(rng, 1+rng.Intn(300)))
	}
	cases := []vecCase{{projects: names}, {filter: "flag", projects: names}}
	for _, n := range names {
		cases = append(cases, vecCase{projects: []string{n}})
	}
	checkVecCases(t, nestedTestTypes, exprs, nil, cases, batches)
}
