package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

func parallelAggConfig() (GroupAggConfig, []types.Type) {
	in := []types.Type{types.BigIntType(), types.BigIntType()}
	return GroupAggConfig{Keys: []int{0}, KeyTypes: in[:1], InTypes: in, EmitUpdateBefore: true,
		Aggs: []AggCall{{Func: "COUNT", Filter: -1, Type: types.BigIntType()}, {Func: "SUM", Args: []int{1}, ArgTypes: in[1:], Filter: -1, Type: types.BigIntType()}}}, in
}

func randomChanges(seed uint64, batches int) []*changelog.Batch {
	rng := rand.New(rand.NewPCG(seed, 11))
	var out []*changelog.Batch
	var live [][]types.Value
	for range batches {
		b := &changelog.Batch{}
		for range 1 + rng.IntN(600) {
			if len(live) > 0 && rng.IntN(4) == 0 {
				i := rng.IntN(len(live))
				b.Append(changelog.Delete, live[i])
				live = append(live[:i], live[i+1:]...)
				continue
			}
			row := []types.Value{types.IntValue(int64(rng.IntN(50))), types.IntValue(int64(rng.IntN(100)))}
			live = append(live, row)
			b.Append(changelog.Insert, row)
		}
		out = append(out, b)
	}
	return out
}

// TestParallelGroupAgg: a retracting GROUP BY as 1-4 subtasks (fork-join per batch) materializes to the
// single-threaded result, every key's changes in order; a snapshot taken at one parallelism restores at
// another (key groups are redistributed) and the run continues to the same result.
func TestParallelGroupAgg(t *testing.T) {
	cfg, in := parallelAggConfig()
	mk := func(out changelog.Output) (changelog.Output, error) { return NewGroupAgg(cfg, out) }
	for seed := uint64(0); seed < 10; seed++ {
		batches := randomChanges(seed, 30)
		want := changelog.NewMaterializer([]int{0})
		single, _ := NewGroupAgg(cfg, NewCollect(want.Apply))
		for _, b := range batches {
			if err := single.Push(b); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range []int{2, 3, 4} {
			got := changelog.NewMaterializer([]int{0})
			op, err := NewParallel([]int{0}, in[:1], 128, n, mk, NewCollect(got.Apply))
			if err != nil {
				t.Fatal(err)
			}
			half := len(batches) / 2
			for _, b := range batches[:half] {
				if err := op.Push(b); err != nil {
					t.Fatal(err)
				}
			}
			// Snapshot at n, restore at n+1 (other key-group ranges), continue.
			mem := state.NewMemory()
			if err := StateOf(op).SnapshotState(mem); err != nil {
				t.Fatal(err)
			}
			op.(*Parallel).Close()
			op2, err := NewParallel([]int{0}, in[:1], 128, n+1, mk, NewCollect(got.Apply))
			if err != nil {
				t.Fatal(err)
			}
			if err := StateOf(op2).RestoreState(mem.Reader()); err != nil {
				t.Fatal(err)
			}
			for _, b := range batches[half:] {
				if err := op2.Push(b); err != nil {
					t.Fatal(err)
				}
			}
			if err := op2.End(); err != nil {
				t.Fatal(err)
			}
			if g, w := fmt.Sprint(got.Rows()), fmt.Sprint(want.Rows()); g != w {
				t.Fatalf("seed %d, %d then %d subtasks:\ngot  %s\nwant %s", seed, n, n+1, g, w)
			}
		}
	}
}
