package exec

import (
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// TestGroupAggAsyncSnapshot: the state written by an asynchronous snapshot while the operator goes on
// processing (and changing or dropping the groups of the cut) is the state at the cut: an operator restored
// from it and fed the rest of the input emits exactly what the original emitted after the cut. Run it with
// -race: the writer and the pushes share groups.
func TestGroupAggAsyncSnapshot(t *testing.T) {
	in := []types.Type{types.StringType(), types.BigIntType(), types.StringType(), types.DecimalType(10, 2)}
	for seed := range uint64(200) {
		retract := seed%2 == 0
		rng := rand.New(rand.NewPCG(seed, 17))
		cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: stateTestAggs(t, in, retract), EmitUpdateBefore: true, InsertOnly: !retract}
		batches := randomBatches(rng, retract)
		cut := rng.IntN(len(batches) + 1)

		before, after := &recorder{}, &recorder{}
		var out changelog.Output = before
		sw := &switchOutput{out: &out}
		op1, err := NewGroupAgg(cfg, sw)
		if err != nil {
			t.Fatal(err)
		}
		for i := range batches[:cut] {
			if err := op1.Push(&batches[i]); err != nil {
				t.Fatal(err)
			}
		}
		write, err := op1.(state.AsyncSnapshotter).SnapshotAsync()
		if err != nil {
			t.Fatal(err)
		}
		w := state.NewFileWriter(state.DefaultMaxParallelism)
		done := make(chan error)
		go func() { done <- write(w) }()
		out = after
		for i := range batches[cut:] {
			if err := op1.Push(&batches[cut+i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		r, err := w.Reader()
		if err != nil {
			t.Fatal(err)
		}
		restored := &recorder{}
		op2, _ := NewGroupAgg(cfg, restored)
		if err := op2.(state.Snapshotter).RestoreState(r); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for i := range batches[cut:] {
			if err := op2.Push(&batches[cut+i]); err != nil {
				t.Fatal(err)
			}
		}
		if after.b.String() != restored.b.String() {
			t.Fatalf("seed %d (retract %v, cut %d of %d): after the cut the original emitted\n%s\nthe restored one\n%s",
				seed, retract, cut, len(batches), after.b.String(), restored.b.String())
		}
	}
}

// switchOutput forwards to *out, which the test switches at the cut.
type switchOutput struct{ out *changelog.Output }

func (s *switchOutput) Push(b *changelog.Batch) error { return (*s.out).Push(b) }
func (s *switchOutput) Watermark(ts int64) error      { return (*s.out).Watermark(ts) }
func (s *switchOutput) End() error                    { return (*s.out).End() }

// TestGroupAggAsyncSnapshotManyKeys: the same with 5,000 keys, so the writer works through many chunks while
// pushes change groups it has not reached yet.
func TestGroupAggAsyncSnapshotManyKeys(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.BigIntType()}
	aggs := []AggCall{{Func: "COUNT", Filter: -1}, {Func: "SUM", Args: []int{1}, ArgTypes: []types.Type{types.BigIntType()}, Filter: -1}}
	for i := range aggs {
		rt, _ := AggResultType(aggs[i].Func, false, aggs[i].ArgTypes)
		aggs[i].Type = rt
	}
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggs, EmitUpdateBefore: true, InsertOnly: true}
	rng := rand.New(rand.NewPCG(5, 5))
	batch := func() *changelog.Batch {
		var b changelog.Batch
		for range 64 {
			b.Append(changelog.Insert, []types.Value{types.IntValue(rng.Int64N(5000)), types.IntValue(rng.Int64N(100))})
		}
		return &b
	}
	var prefix, suffix []*changelog.Batch
	for range 300 {
		prefix = append(prefix, batch())
	}
	for range 300 {
		suffix = append(suffix, batch())
	}
	after := &recorder{}
	var out changelog.Output = &recorder{}
	op1, _ := NewGroupAgg(cfg, &switchOutput{out: &out})
	for _, b := range prefix {
		if err := op1.Push(b); err != nil {
			t.Fatal(err)
		}
	}
	write, err := op1.(state.AsyncSnapshotter).SnapshotAsync()
	if err != nil {
		t.Fatal(err)
	}
	w := state.NewFileWriter(state.DefaultMaxParallelism)
	done := make(chan error)
	go func() { done <- write(w) }()
	out = after
	for _, b := range suffix {
		if err := op1.Push(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r, _ := w.Reader()
	restored := &recorder{}
	op2, _ := NewGroupAgg(cfg, restored)
	if err := op2.(state.Snapshotter).RestoreState(r); err != nil {
		t.Fatal(err)
	}
	for _, b := range suffix {
		if err := op2.Push(b); err != nil {
			t.Fatal(err)
		}
	}
	if after.b.String() != restored.b.String() {
		t.Fatal("the restored operator's output after the cut differs from the original's")
	}
}
