package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// TestCompactGroupsDistinctMatchGroups is TestCompactGroupsMatchGroups for COUNT(DISTINCT x) calls (several
// FILTERs of one column share a set, as in Nexmark q15/q16), with retractions: outputs and snapshots of
// compact groups match the map of *group, both ways, synchronous and asynchronous.
func TestCompactGroupsDistinctMatchGroups(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.IntType(), types.BigIntType(), types.DoubleType(), types.FloatType(),
		types.BooleanType(), types.IntType(), types.StringType()}
	aggs := aggCalls(t, in, "COUNT(*)", "COUNT(DISTINCT $2)", "COUNT(DISTINCT $2) FILTER $5", "COUNT(DISTINCT $1)",
		"SUM($2)", "COUNT(DISTINCT $7)", "COUNT(DISTINCT $3) FILTER $5", "COUNT(DISTINCT $6)", "COUNT(DISTINCT $6) FILTER $5")
	for _, keys := range [][]int{{0}, {0, 1}, nil, {7}, {7, 0}} {
		for seed := range uint64(6) {
			name := fmt.Sprintf("keys=%v seed=%d", keys, seed)
			cfg := GroupAggConfig{Keys: keys, InTypes: in, Aggs: aggs, EmitUpdateBefore: seed%2 == 0}
			odd := seed == 5 && keys != nil
			if compact := checkCompactRun(t, name, cfg, rand.New(rand.NewPCG(seed, 17)), odd); compact == odd {
				t.Fatalf("%s: compact groups at the end: %t", name, compact)
			}
		}
	}
}

// TestCompactGroupsQ16ShapeMatchGroups is the same over an insert-only input with q16's calls: string MAX
// and MIN, COUNT(*) with and without FILTERs and shared COUNT(DISTINCT) sets (bitmask mode).
func TestCompactGroupsQ16ShapeMatchGroups(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.IntType(), types.BigIntType(), types.DoubleType(), types.FloatType(),
		types.BooleanType(), types.IntType(), types.StringType()}
	aggs := aggCalls(t, in, "COUNT(*)", "MAX($7)", "COUNT(*) FILTER $5", "COUNT(DISTINCT $2)",
		"COUNT(DISTINCT $2) FILTER $5", "COUNT(DISTINCT $6)", "COUNT(DISTINCT $6) FILTER $5", "MIN($7) FILTER $5", "MIN($1)")
	for _, keys := range [][]int{{0}, {0, 1}, nil, {7}, {7, 0}} {
		for seed := range uint64(6) {
			name := fmt.Sprintf("keys=%v seed=%d", keys, seed)
			cfg := GroupAggConfig{Keys: keys, InTypes: in, Aggs: aggs, InsertOnly: true, EmitUpdateBefore: seed%2 == 0}
			odd := seed == 5 // odd keys, strings and MIN($1) arguments move the operator to the map of *group
			if compact := checkCompactRun(t, name, cfg, rand.New(rand.NewPCG(seed, 19)), odd); compact == odd {
				t.Fatalf("%s: compact groups at the end: %t", name, compact)
			}
		}
	}
}

// TestCompactDistinctExactAfterRetractAndRestore follows one group's DISTINCT counts by hand through adds,
// retractions (a value leaves the count only with its last occurrence), a snapshot and a restore into a new
// operator, and retractions after it.
func TestCompactDistinctExactAfterRetractAndRestore(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.BigIntType(), types.BooleanType()}
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: in,
		Aggs: aggCalls(t, in, "COUNT(DISTINCT $1)", "COUNT(DISTINCT $1) FILTER $2", "COUNT(*)")}
	newOp := func() (*groupAgg, *recorder) {
		rec := &recorder{}
		op, err := NewGroupAgg(cfg, rec)
		if err != nil {
			t.Fatal(err)
		}
		g := op.(*groupAgg)
		if g.compact == nil || g.compact.x == nil {
			t.Fatal("the aggregate does not keep its DISTINCT sets in compact groups")
		}
		return g, rec
	}
	row := func(v int64, f bool) []types.Value {
		return []types.Value{types.IntValue(1), types.IntValue(v), types.BoolValue(f)}
	}
	push := func(op *groupAgg, k changelog.Kind, r []types.Value) {
		var b changelog.Batch
		b.Append(k, r)
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
	last := func(rec *recorder, want string) {
		t.Helper()
		if len(rec.rows) == 0 {
			t.Fatalf("no output, want %s", want)
		}
		r := rec.rows[len(rec.rows)-1]
		if got := fmt.Sprintf("%s %d %d %d", r.Kind, r.Vals[1].I, r.Vals[2].I, r.Vals[3].I); got != want {
			t.Fatalf("last row %q, want %q", got, want)
		}
	}
	op, rec := newOp()
	push(op, changelog.Insert, row(7, true))
	push(op, changelog.Insert, row(7, false))
	push(op, changelog.Insert, row(8, false))
	push(op, changelog.Insert, row(1<<40, true)) // a value past 32 bits: the set leaves narrow mode
	last(rec, "+U 3 2 4")
	push(op, changelog.Delete, row(7, false)) // 7 stays: one occurrence left (the filtered one)
	last(rec, "+U 3 2 3")
	push(op, changelog.Delete, row(9, true)) // never added: nothing changes but the row count
	last(rec, "+U 3 2 2")
	snap := state.NewMemory()
	if err := op.SnapshotState(snap); err != nil {
		t.Fatal(err)
	}
	op2, rec2 := newOp()
	if err := op2.RestoreState(snap.Reader()); err != nil {
		t.Fatal(err)
	}
	push(op2, changelog.Delete, row(7, true)) // the last 7: both counts drop
	last(rec2, "+U 2 1 1")
	push(op2, changelog.Insert, row(8, true)) // 8 again: new to the filtered variant only
	last(rec2, "+U 2 2 2")
	again := state.NewMemory()
	if err := op2.SnapshotState(again); err != nil {
		t.Fatal(err)
	}
	op3, rec3 := newOp()
	op3.compact = nil // the map of *group restores the compact operator's snapshot
	if err := op3.RestoreState(again.Reader()); err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		op  *groupAgg
		rec *recorder
	}{{op2, rec2}, {op3, rec3}} {
		push(o.op, changelog.Delete, row(8, false)) // one 8 left, the filtered one
		last(o.rec, "+U 2 2 1")
		push(o.op, changelog.Insert, row(1<<40, false))
		last(o.rec, "+U 2 2 2")
		push(o.op, changelog.Delete, row(1<<40, true)) // 2^40 leaves the filtered variant only
		last(o.rec, "+U 2 1 1")
		push(o.op, changelog.Delete, row(8, true)) // the group's last row: -D of its last results
		last(o.rec, "-D 2 1 1")
	}
}
