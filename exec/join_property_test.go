package exec

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// TestJoinMatchesRecomputation feeds random inserts and deletes into streaming joins of every type and checks
// that the materialized output equals a nested-loop join of the final inputs, computed independently here.
// The second shape puts hundreds of distinct rows under each key, so that buckets are indexed
// (join_bucket.go) and retractions move rows within them.
func TestJoinMatchesRecomputation(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.BigIntType()}
	for _, shape := range []struct{ seeds, steps, vals int }{{60, 40, 2}, {6, 800, 300}} {
		testJoinRecomputation(t, ts, shape.seeds, shape.steps, shape.vals)
	}
}

func testJoinRecomputation(t *testing.T, ts []types.Type, seeds, steps, vals int) {
	for _, jt := range []JoinType{InnerJoin, LeftJoin, RightJoin, FullJoin} {
		for seed := uint64(0); seed < uint64(seeds); seed++ {
			rng := rand.New(rand.NewPCG(seed, uint64(jt)))
			var got []changelog.Row
			l, r := NewJoin(JoinConfig{Type: jt, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts, RightTypes: ts},
				NewCollect(func(row changelog.Row) error {
					got = append(got, changelog.Row{Kind: row.Kind, Vals: changelog.CopyVals(row.Vals)})
					return nil
				}))
			var live [2][][]types.Value
			for step := 0; step < steps; step++ {
				side := rng.IntN(2)
				in := []changelog.Output{l, r}[side]
				if len(live[side]) > 0 && rng.IntN(3) == 0 {
					i := rng.IntN(len(live[side]))
					row := live[side][i]
					live[side] = append(live[side][:i], live[side][i+1:]...)
					if err := in.Push(&changelog.Batch{Rows: []changelog.Row{{Kind: changelog.Delete, Vals: row}}}); err != nil {
						t.Fatal(err)
					}
					continue
				}
				key := types.IntValue(int64(rng.IntN(3)))
				if rng.IntN(8) == 0 {
					key = types.NullValue
				}
				row := []types.Value{key, types.IntValue(int64(rng.IntN(vals)))}
				live[side] = append(live[side], row)
				if err := in.Push(&changelog.Batch{Rows: []changelog.Row{{Kind: changelog.Insert, Vals: row}}}); err != nil {
					t.Fatal(err)
				}
			}
			m := changelog.NewMaterializer(nil)
			for _, row := range got {
				if err := m.Apply(row); err != nil {
					t.Fatalf("%s seed %d: %v", jt, seed, err)
				}
			}
			want := nestedLoop(jt, live[0], live[1])
			if g, w := joinRowsText(m.Rows()), joinRowsText(want); g != w {
				t.Fatalf("%s seed %d: materialized join differs from recomputation\ngot:\n%s\nwant:\n%s", jt, seed, g, w)
			}
		}
	}
}

func nestedLoop(jt JoinType, left, right [][]types.Value) [][]types.Value {
	var out [][]types.Value
	null2 := []types.Value{types.NullValue, types.NullValue}
	matchedR := make([]bool, len(right))
	for _, l := range left {
		n := 0
		for j, r := range right {
			if !l[0].IsNull() && !r[0].IsNull() && l[0].I == r[0].I {
				out = append(out, append(append([]types.Value{}, l...), r...))
				matchedR[j] = true
				n++
			}
		}
		if n == 0 && (jt == LeftJoin || jt == FullJoin) {
			out = append(out, append(append([]types.Value{}, l...), null2...))
		}
	}
	if jt == RightJoin || jt == FullJoin {
		for j, r := range right {
			if !matchedR[j] {
				out = append(out, append(append([]types.Value{}, null2...), r...))
			}
		}
	}
	return out
}

func joinRowsText(rows [][]types.Value) string {
	var lines []string
	for _, r := range rows {
		var parts []string
		for _, v := range r {
			if v.IsNull() {
				parts = append(parts, "NULL")
			} else {
				parts = append(parts, fmt.Sprint(v.I))
			}
		}
		lines = append(lines, strings.Join(parts, ","))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestIntervalJoinPrunesState: with interval bounds, rows that can no longer match leave the state as the
// watermark advances, and the results still equal a nested-loop join with the time condition.
func TestIntervalJoinPrunesState(t *testing.T) {
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
	for seed := uint64(0); seed < 30; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		var got []changelog.Row
		op, r := NewJoin(JoinConfig{Type: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts, RightTypes: ts,
			Residual: residual, Interval: &IntervalBounds{LeftTime: 1, RightTime: 1, Lower: lower, Upper: upper}},
			NewCollect(func(row changelog.Row) error {
				got = append(got, changelog.Row{Kind: row.Kind, Vals: changelog.CopyVals(row.Vals)})
				return nil
			}))
		j := op.(*joinInput).j
		var all [2][][]types.Value
		now := int64(0)
		maxState := 0
		for step := 0; step < 200; step++ {
			side := rng.IntN(2)
			now += int64(rng.IntN(3))
			row := []types.Value{types.IntValue(int64(rng.IntN(3))), types.IntValue(now + int64(rng.IntN(4)))}
			all[side] = append(all[side], row)
			in := []changelog.Output{op, r}[side]
			if err := in.Push(&changelog.Batch{Rows: []changelog.Row{{Kind: changelog.Insert, Vals: row}}}); err != nil {
				t.Fatal(err)
			}
			// Watermarks trail the clock; later rows are never late (times >= now > watermark).
			if err := op.Watermark(now - 1); err != nil {
				t.Fatal(err)
			}
			if err := r.Watermark(now - 1); err != nil {
				t.Fatal(err)
			}
			l, rr := j.StateRows()
			maxState = max(maxState, l+rr)
		}
		l, rr := j.StateRows()
		if l+rr >= len(all[0])+len(all[1]) || maxState > 60 {
			t.Fatalf("seed %d: state not pruned: %d rows at the end, %d at most, of %d", seed, l+rr, maxState, len(all[0])+len(all[1]))
		}
		var want [][]types.Value
		for _, a := range all[0] {
			for _, b := range all[1] {
				if d := a[1].I - b[1].I; a[0].I == b[0].I && d >= lower && d <= upper {
					want = append(want, append(append([]types.Value{}, a...), b...))
				}
			}
		}
		m := changelog.NewMaterializer(nil)
		for _, row := range got {
			if err := m.Apply(row); err != nil {
				t.Fatal(err)
			}
		}
		if g, w := joinRowsText(m.Rows()), joinRowsText(want); g != w {
			t.Fatalf("seed %d: interval join differs from the nested loop\ngot:\n%s\nwant:\n%s", seed, g, w)
		}
	}
}
