package exec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

func stateTestTypes() []types.Type {
	return []types.Type{types.StringType(), types.BigIntType(), types.StringType(), types.DecimalType(10, 2)}
}

func stateTestAggs(t *testing.T, in []types.Type, retract bool) []AggCall {
	aggs := []AggCall{
		{Func: "COUNT", Filter: -1},
		{Func: "COUNT", Args: []int{1}, Filter: -1},
		{Func: "SUM", Args: []int{1}, Filter: -1},
		{Func: "MIN", Args: []int{1}, Filter: -1},
		{Func: "MAX", Args: []int{1}, Filter: -1},
		{Func: "AVG", Args: []int{1}, Filter: -1},
		{Func: "SUM", Args: []int{3}, Filter: -1},
		{Func: "COUNT", Distinct: true, Args: []int{1}, Filter: -1},
		{Func: "SUM", Distinct: true, Args: []int{1}, Filter: -1},
		{Func: "FIRST_VALUE", Args: []int{2}, Filter: -1},
		{Func: "LAST_VALUE", Args: []int{2}, Filter: -1},
		{Func: "LISTAGG", Args: []int{2}, Filter: -1},
		{Func: "MAX", Args: []int{2}, Filter: -1},
	}
	for i := range aggs {
		for _, a := range aggs[i].Args {
			aggs[i].ArgTypes = append(aggs[i].ArgTypes, in[a])
		}
		rt, err := AggResultType(aggs[i].Func, aggs[i].Distinct, aggs[i].ArgTypes)
		if err != nil {
			t.Fatal(err)
		}
		aggs[i].Type = rt
	}
	return aggs
}

// randomBatches returns random changelog batches over 4 keys: inserts, and (retract) deletions of live rows.
func randomBatches(rng *rand.Rand, retract bool) []changelog.Batch {
	var live [][]types.Value
	var out []changelog.Batch
	var b changelog.Batch
	for range 1 + rng.IntN(200) {
		if retract && len(live) > 0 && rng.IntN(3) == 0 {
			i := rng.IntN(len(live))
			r := live[i]
			live = slices.Delete(live, i, i+1)
			b.Append(changelog.Delete, r)
		} else {
			r := []types.Value{types.StringValue(fmt.Sprint("k", rng.IntN(4))), types.IntValue(int64(rng.IntN(9) - 3)),
				types.StringValue(fmt.Sprint("s", rng.IntN(5))), types.DecimalValue(int64(rng.IntN(1000)), 2)}
			if rng.IntN(6) == 0 {
				r[1] = types.NullValue
			}
			live = append(live, r)
			b.Append(changelog.Insert, r)
		}
		if rng.IntN(4) == 0 {
			out = append(out, b)
			b = changelog.Batch{}
		}
	}
	return append(out, b)
}

// TestGroupAggSnapshotRestore: a group aggregate snapshotted after a random prefix of its input and restored
// into a new operator that takes the rest produces exactly the changelog of one uninterrupted operator.
func TestGroupAggSnapshotRestore(t *testing.T) {
	in := []types.Type{types.StringType(), types.BigIntType(), types.StringType(), types.DecimalType(10, 2)}
	for seed := range uint64(300) {
		retract := seed%2 == 0
		rng := rand.New(rand.NewPCG(seed, 11))
		cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: stateTestAggs(t, in, retract), EmitUpdateBefore: true, InsertOnly: !retract}
		if seed%5 == 0 {
			cfg.Keys = nil // a global aggregate: state under the empty key
		}
		batches := randomBatches(rng, retract)
		cut := rng.IntN(len(batches) + 1)

		whole := &recorder{}
		op, err := NewGroupAgg(cfg, whole)
		if err != nil {
			t.Fatal(err)
		}
		for i := range batches {
			if err := op.Push(&batches[i]); err != nil {
				t.Fatal(err)
			}
		}

		parts := &recorder{}
		op1, _ := NewGroupAgg(cfg, parts)
		for i := range batches[:cut] {
			if err := op1.Push(&batches[i]); err != nil {
				t.Fatal(err)
			}
		}
		w := state.NewFileWriter(state.DefaultMaxParallelism)
		if err := op1.(state.Snapshotter).SnapshotState(w); err != nil {
			t.Fatal(err)
		}
		r, err := w.Reader()
		if err != nil {
			t.Fatal(err)
		}
		op2, _ := NewGroupAgg(cfg, parts)
		if err := op2.(state.Snapshotter).RestoreState(r); err != nil {
			t.Fatalf("seed %d: restore: %v", seed, err)
		}
		for i := range batches[cut:] {
			if err := op2.Push(&batches[cut+i]); err != nil {
				t.Fatal(err)
			}
		}
		if whole.b.String() != parts.b.String() {
			t.Fatalf("seed %d (retract %v, cut %d of %d): restored changelog differs\nuninterrupted:\n%s\nsnapshot+restore:\n%s",
				seed, retract, cut, len(batches), whole.b.String(), parts.b.String())
		}
	}
}

// TestGroupAggBatchFinalState: a batch aggregate over rows A writes its final state; a streaming aggregate
// (insert-only input) restored from it and fed rows B ends with the same table as a streaming aggregate over
// A then B.
func TestGroupAggBatchFinalState(t *testing.T) {
	in := []types.Type{types.StringType(), types.BigIntType(), types.StringType(), types.DecimalType(10, 2)}
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 13))
		aggs := stateTestAggs(t, in, false)
		a, b := randomBatches(rng, false), randomBatches(rng, false)
		stream := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggs, EmitUpdateBefore: true, InsertOnly: true}

		want := changelog.NewMaterializer([]int{0})
		op, _ := NewGroupAgg(stream, NewCollect(want.Apply))
		for _, bs := range [][]changelog.Batch{a, b} {
			for i := range bs {
				if err := op.Push(&bs[i]); err != nil {
					t.Fatal(err)
				}
			}
		}

		// Batch over A, sorted by key as the engine sorts it (stable: arrival order within a key).
		var rows []changelog.Row
		for _, bt := range a {
			rows = append(rows, bt.Rows...)
		}
		slices.SortStableFunc(rows, func(x, y changelog.Row) int { return strings.Compare(x.Vals[0].S, y.Vals[0].S) })
		w := state.NewFileWriter(state.DefaultMaxParallelism)
		got := changelog.NewMaterializer([]int{0})
		bcfg := stream
		bcfg.Batch, bcfg.InsertOnly, bcfg.FinalState = true, false, w
		bop, _ := NewGroupAgg(bcfg, NewCollect(got.Apply))
		if err := bop.Push(&changelog.Batch{Rows: rows}); err != nil {
			t.Fatal(err)
		}
		if err := bop.End(); err != nil {
			t.Fatal(err)
		}
		r, err := w.Reader()
		if err != nil {
			t.Fatal(err)
		}
		sop, _ := NewGroupAgg(stream, NewCollect(got.Apply))
		if err := sop.(state.Snapshotter).RestoreState(r); err != nil {
			t.Fatal(err)
		}
		for i := range b {
			if err := sop.Push(&b[i]); err != nil {
				t.Fatal(err)
			}
		}
		if w, g := matString(want), matString(got); w != g {
			t.Fatalf("seed %d: batch then streaming:\n%s\nstreaming over all:\n%s", seed, g, w)
		}
	}
}

// TestGroupAggRestoreMismatch: state written for another input kind or another aggregate list is refused.
func TestGroupAggRestoreMismatch(t *testing.T) {
	in := []types.Type{types.StringType(), types.BigIntType(), types.StringType(), types.DecimalType(10, 2)}
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: stateTestAggs(t, in, true), EmitUpdateBefore: true}
	op, _ := NewGroupAgg(cfg, &recorder{})
	b := changelog.Batch{}
	b.Append(changelog.Insert, []types.Value{types.StringValue("k"), types.IntValue(1), types.StringValue("s"), types.DecimalValue(1, 2)})
	if err := op.Push(&b); err != nil {
		t.Fatal(err)
	}
	w := state.NewFileWriter(state.DefaultMaxParallelism)
	if err := op.(state.Snapshotter).SnapshotState(w); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  GroupAggConfig
		want string
	}{
		{"insert-only", GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: cfg.Aggs, InsertOnly: true}, "the state was written by GroupAggregate(keys=1, aggs=[COUNT, COUNT, SUM, MIN retractable"},
		{"fewer aggregates", GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: cfg.Aggs[:3]}, "this operator is GroupAggregate(keys=1, aggs=[COUNT, COUNT, SUM]) (the query changed"},
	} {
		op2, _ := NewGroupAgg(tc.cfg, &recorder{})
		r, _ := w.Reader()
		err := op2.(state.Snapshotter).RestoreState(r)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func matString(m *changelog.Materializer) string {
	var b strings.Builder
	for _, r := range m.Rows() {
		b.WriteString(formatRow(changelog.Row{Kind: changelog.Insert, Vals: r}) + "\n")
	}
	return b.String()
}
