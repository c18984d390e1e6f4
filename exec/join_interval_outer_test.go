package exec

import (
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// TestIntervalOuterJoinInsertOnly: LEFT/RIGHT/FULL interval joins emit only +I, as Flink's: a row of an outer
// side is emitted NULL-padded once its interval has closed (watermark) or the input ended, and only if it never
// matched. The result equals a nested-loop outer join with the time condition, and state is still pruned.
func TestIntervalOuterJoinInsertOnly(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.BigIntType()} // key, time
	env := expr.NewEnv(nil)
	mk := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	const lower, upper = -5, 3 // -5 <= l.t - r.t <= 3
	diff := mk("-", expr.Column(1, "lt", ts[1]), expr.Column(3, "rt", ts[1]))
	residual := mk("AND", mk(">=", diff, expr.Literal(types.IntValue(lower), types.BigIntType())), mk("<=", diff, expr.Literal(types.IntValue(upper), types.BigIntType())))
	for seed := uint64(0); seed < 120; seed++ {
		rng := rand.New(rand.NewPCG(seed, 9))
		typ := []JoinType{LeftJoin, RightJoin, FullJoin}[seed%3]
		var got [][]types.Value
		var paddedBeforeEnd int
		ended := false
		l, r := NewJoin(JoinConfig{Type: typ, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts, RightTypes: ts,
			Residual: residual, Interval: &IntervalBounds{LeftTime: 1, RightTime: 1, Lower: lower, Upper: upper}},
			NewCollect(func(row changelog.Row) error {
				if row.Kind != changelog.Insert {
					t.Fatalf("seed %d (%s): emitted %s", seed, typ, row.Kind)
				}
				if !ended && (row.Vals[0].IsNull() || row.Vals[2].IsNull()) {
					paddedBeforeEnd++
				}
				got = append(got, changelog.CopyVals(row.Vals))
				return nil
			}))
		j := l.(*joinInput).j
		var all [2][][]types.Value
		now := int64(0)
		for step := 0; step < 150; step++ {
			side := rng.IntN(2)
			now += int64(rng.IntN(3))
			row := []types.Value{types.IntValue(int64(rng.IntN(4))), types.IntValue(now + int64(rng.IntN(4)))}
			all[side] = append(all[side], row)
			if err := []changelog.Output{l, r}[side].Push(&changelog.Batch{Rows: []changelog.Row{{Kind: changelog.Insert, Vals: row}}}); err != nil {
				t.Fatal(err)
			}
			if err := l.Watermark(now - 1); err != nil {
				t.Fatal(err)
			}
			if err := r.Watermark(now - 1); err != nil {
				t.Fatal(err)
			}
		}
		if lr, rr := j.StateRows(); lr+rr >= len(all[0])+len(all[1]) {
			t.Fatalf("seed %d: state not pruned (%d rows)", seed, lr+rr)
		}
		ended = true
		if err := l.End(); err != nil {
			t.Fatal(err)
		}
		if err := r.End(); err != nil {
			t.Fatal(err)
		}
		nulls := []types.Value{types.NullValue, types.NullValue}
		var want [][]types.Value
		matched := [2][]bool{make([]bool, len(all[0])), make([]bool, len(all[1]))}
		for i, a := range all[0] {
			for k, b := range all[1] {
				if d := a[1].I - b[1].I; a[0].I == b[0].I && d >= lower && d <= upper {
					want = append(want, append(append([]types.Value{}, a...), b...))
					matched[0][i], matched[1][k] = true, true
				}
			}
		}
		for i, a := range all[0] {
			if !matched[0][i] && typ != RightJoin {
				want = append(want, append(append([]types.Value{}, a...), nulls...))
			}
		}
		for k, b := range all[1] {
			if !matched[1][k] && typ != LeftJoin {
				want = append(want, append(append([]types.Value{}, nulls...), b...))
			}
		}
		if g, w := joinRowsText(got), joinRowsText(want); g != w {
			t.Fatalf("seed %d (%s): got\n%s\nwant\n%s", seed, typ, g, w)
		}
		if paddedBeforeEnd == 0 {
			t.Fatalf("seed %d (%s): no padded row came before the end of input: the watermark should close intervals", seed, typ)
		}
	}
}
