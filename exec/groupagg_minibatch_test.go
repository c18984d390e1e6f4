package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// fixedClock never advances: the latency trigger never fires, so tests are driven by size only.
func fixedClock() time.Time { return time.UnixMilli(1_700_000_000_000) }

func mbConfig(size int64) MiniBatchConfig {
	return MiniBatchConfig{Size: size, Latency: time.Second, Now: fixedClock}
}

// mergeableAggs are stateTestAggs' calls that two-phase aggregation can split (integer and decimal
// arguments only, so the merge order cannot change a result).
func mergeableAggs(t *testing.T, in []types.Type, insertOnly bool) []AggCall {
	specs := []string{"COUNT(*)", "COUNT($1)", "SUM($1)", "AVG($1)", "SUM($3)", "SUM0($1)", "AVG($3)"}
	if insertOnly {
		specs = append(specs, "MIN($1)", "MAX($3)", "MAX($2)")
	}
	return aggCalls(t, in, specs...)
}

// runAgg pushes the batches through the operators built by mk (then End) and returns the recorder.
func runAgg(t *testing.T, mk func(out changelog.Output) (changelog.Output, error), batches []changelog.Batch) *recorder {
	t.Helper()
	rec := &recorder{}
	op, err := mk(rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := range batches {
		if err := op.Push(&batches[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := op.End(); err != nil {
		t.Fatal(err)
	}
	return rec
}

func materialize(t *testing.T, rows []changelog.Row, key []int) string {
	t.Helper()
	m := changelog.NewMaterializer(key)
	for _, r := range rows {
		if err := m.Apply(r); err != nil {
			t.Fatal(err)
		}
	}
	return matString(m)
}

// TestMiniBatchProperty: over random inputs with retractions, the mini-batch aggregate (any size) and the
// two-phase local/global pair end with the same materialized table as the per-row aggregate; a mini-batch of
// one row gives exactly the per-row changelog, and a large one never more rows.
func TestMiniBatchProperty(t *testing.T) {
	in := stateTestTypes()
	fewer := 0
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 21))
		retract := seed%2 == 0
		cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: stateTestAggs(t, in, retract), EmitUpdateBefore: seed%3 != 0, InsertOnly: !retract}
		var matKey []int
		if seed%5 == 0 {
			cfg.Keys, cfg.EmitUpdateBefore = nil, true
		} else {
			matKey = []int{0}
		}
		batches := randomBatches(rng, retract)
		perRow := runAgg(t, func(o changelog.Output) (changelog.Output, error) { return NewGroupAgg(cfg, o) }, batches)
		want := materialize(t, perRow.rows, matKey)

		one := runAgg(t, func(o changelog.Output) (changelog.Output, error) { return NewMiniBatchGroupAgg(cfg, mbConfig(1), o) }, batches)
		if one.b.String() != perRow.b.String() {
			t.Fatalf("seed %d: mini-batch of 1 row differs from per-row:\n%s\nper-row:\n%s", seed, one.b.String(), perRow.b.String())
		}
		size := int64(2 + rng.IntN(60))
		mb := runAgg(t, func(o changelog.Output) (changelog.Output, error) {
			return NewMiniBatchGroupAgg(cfg, mbConfig(size), o)
		}, batches)
		if got := materialize(t, mb.rows, matKey); got != want {
			t.Fatalf("seed %d size %d: mini-batch result\n%s\nper-row result\n%s", seed, size, got, want)
		}
		if len(mb.rows) > len(perRow.rows) {
			t.Fatalf("seed %d: mini-batch emitted %d rows, per-row %d", seed, len(mb.rows), len(perRow.rows))
		}
		if len(mb.rows) < len(perRow.rows) {
			fewer++
		}

		// Two phases, over the mergeable calls.
		cfg2 := cfg
		cfg2.Aggs = mergeableAggs(t, in, !retract)
		perRow2 := runAgg(t, func(o changelog.Output) (changelog.Output, error) { return NewGroupAgg(cfg2, o) }, batches)
		// Mini-batch over mergeable calls: combining partials over insert-only input, buffering rows otherwise;
		// the same changelog either way.
		comb := runAgg(t, func(o changelog.Output) (changelog.Output, error) {
			return NewMiniBatchGroupAgg(cfg2, mbConfig(size), o)
		}, batches)
		buffering := runAgg(t, func(o changelog.Output) (changelog.Output, error) {
			mb := mbConfig(size)
			mb.buffer = true
			return NewMiniBatchGroupAgg(cfg2, mb, o)
		}, batches)
		if comb.b.String() != buffering.b.String() {
			t.Fatalf("seed %d size %d: combining mini-batch\n%s\nbuffering mini-batch\n%s", seed, size, comb.b.String(), buffering.b.String())
		}
		if got, want := materialize(t, comb.rows, matKey), materialize(t, perRow2.rows, matKey); got != want {
			t.Fatalf("seed %d size %d: mini-batch result\n%s\nper-row result\n%s", seed, size, got, want)
		}
		two := runAgg(t, func(o changelog.Output) (changelog.Output, error) {
			global, err := NewGlobalGroupAgg(cfg2, o)
			if err != nil {
				return nil, err
			}
			return NewLocalGroupAgg(cfg2, mbConfig(size), global)
		}, batches)
		if got, want := materialize(t, two.rows, matKey), materialize(t, perRow2.rows, matKey); got != want {
			t.Fatalf("seed %d size %d: two-phase result\n%s\nper-row result\n%s", seed, size, got, want)
		}
	}
	if fewer < 70 {
		t.Fatalf("mini-batch emitted fewer rows than per-row for only %d of 200 seeds", fewer)
	}
}

// TestMiniBatchMergesUpdates: three rows of one key in one batch give one +I; the next batch one -U/+U.
func TestMiniBatchMergesUpdates(t *testing.T) {
	in := []types.Type{types.StringType(), types.BigIntType()}
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, "COUNT(*)", "SUM($1)"), EmitUpdateBefore: true, InsertOnly: true}
	rec := &recorder{}
	op, err := NewMiniBatchGroupAgg(cfg, mbConfig(3), rec)
	if err != nil {
		t.Fatal(err)
	}
	row := func(k string, v int64) []types.Value { return []types.Value{types.StringValue(k), types.IntValue(v)} }
	var b changelog.Batch
	b.Append(changelog.Insert, row("a", 1))
	b.Append(changelog.Insert, row("a", 2))
	b.Append(changelog.Insert, row("a", 3)) // size reached: applied
	b.Append(changelog.Insert, row("a", 4))
	b.Append(changelog.Insert, row("b", 5))
	if err := op.Push(&b); err != nil {
		t.Fatal(err)
	}
	if got := op.(interface{ Buffered() int }).Buffered(); got != 2 {
		t.Fatalf("buffered %d rows, want 2", got)
	}
	if err := op.Watermark(7); err != nil { // applies the buffer before the watermark
		t.Fatal(err)
	}
	if err := op.End(); err != nil {
		t.Fatal(err)
	}
	want := "+I[a, 3, 6]\n-U[a, 3, 6]\n+U[a, 4, 10]\n+I[b, 1, 5]\nWM 7\nEND\n"
	if rec.b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", rec.b.String(), want)
	}
}

// TestMiniBatchLatency: with a clock that advances, the buffer is applied once its oldest row is older than
// the latency, on the next push or FlushDue.
func TestMiniBatchLatency(t *testing.T) {
	in := []types.Type{types.StringType(), types.BigIntType()}
	now := time.UnixMilli(1000)
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, "COUNT(*)"), EmitUpdateBefore: true, InsertOnly: true}
	rec := &recorder{}
	op, err := NewMiniBatchGroupAgg(cfg, MiniBatchConfig{Size: 100, Latency: 50 * time.Millisecond, Now: func() time.Time { return now }}, rec)
	if err != nil {
		t.Fatal(err)
	}
	var b changelog.Batch
	b.Append(changelog.Insert, []types.Value{types.StringValue("a"), types.IntValue(1)})
	if err := op.Push(&b); err != nil {
		t.Fatal(err)
	}
	mb := op.(interface{ FlushDue() error })
	now = now.Add(49 * time.Millisecond)
	if err := mb.FlushDue(); err != nil || len(rec.rows) != 0 {
		t.Fatalf("applied before the latency: %v %q", err, rec.b.String())
	}
	now = now.Add(time.Millisecond)
	if err := mb.FlushDue(); err != nil || rec.b.String() != "+I[a, 1]\n" {
		t.Fatalf("not applied at the latency: %v %q", err, rec.b.String())
	}
}

// TestMiniBatchConfigErrors: Flink's checks of size and latency.
func TestMiniBatchConfigErrors(t *testing.T) {
	in := []types.Type{types.StringType(), types.BigIntType()}
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, "COUNT(*)")}
	for _, tc := range []struct {
		mb   MiniBatchConfig
		want string
	}{
		{MiniBatchConfig{Size: 0, Latency: time.Second}, "MiniBatch Size must be greater than 0"},
		{MiniBatchConfig{Size: 10}, "MiniBatch Latency must be greater than 0 ms"},
	} {
		if _, err := NewMiniBatchGroupAgg(cfg, tc.mb, &recorder{}); err == nil || err.Error() != "invalid mini-batch configuration: "+tc.want {
			t.Errorf("%+v: got %v, want %q", tc.mb, err, tc.want)
		}
	}
	cfg.Aggs = aggCalls(t, in, "COUNT(DISTINCT $1)")
	if _, err := NewLocalGroupAgg(cfg, mbConfig(5), &recorder{}); err == nil {
		t.Error("a local aggregate accepted COUNT(DISTINCT)")
	}
}

// TestMiniBatchSnapshotRestore: rows buffered in a mini-batch (and partials pending in a local aggregate)
// at the snapshot are applied after the restore exactly once: the cut run's changelog equals the
// uninterrupted one, also when the state is read back as two key-group ranges.
func TestMiniBatchSnapshotRestore(t *testing.T) {
	in := stateTestTypes()
	for _, name := range []string{"mini-batch", "combining", "two-phase"} {
		twoPhase := name == "two-phase"
		forEachCut(t, name, 120, func(rng *rand.Rand) (builder, []step) {
			retract := rng.IntN(2) == 0 && name != "combining"
			cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: stateTestAggs(t, in, retract), EmitUpdateBefore: true, InsertOnly: !retract}
			if name != "mini-batch" {
				cfg.Aggs = mergeableAggs(t, in, !retract)
			}
			size := int64(3 + rng.IntN(20))
			var steps []step
			wm := int64(0)
			for _, b := range randomBatches(rng, retract) {
				steps = append(steps, step{rows: b.Rows})
				if rng.IntN(8) == 0 {
					wm += 10
					steps = append(steps, step{wm: wm, isWM: true})
				}
			}
			steps = append(steps, step{end: true})
			build := func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
				if twoPhase {
					global, err := NewGlobalGroupAgg(cfg, out)
					if err != nil {
						t.Fatal(err)
					}
					local, err := NewLocalGroupAgg(cfg, mbConfig(size), global)
					if err != nil {
						t.Fatal(err)
					}
					return []changelog.Output{local}, []state.Snapshotter{local.(state.Snapshotter), global.(state.Snapshotter)}
				}
				op, err := NewMiniBatchGroupAgg(cfg, mbConfig(size), out)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := op.(*combiningMiniBatch); ok != (name == "combining") {
					t.Fatalf("%s: built %T", name, op)
				}
				return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
			}
			return build, steps
		})
	}
}

// TestMiniBatchSnapshotHoldsBuffer: a snapshot taken with rows buffered writes them (namespace 1).
func TestMiniBatchSnapshotHoldsBuffer(t *testing.T) {
	in := []types.Type{types.StringType(), types.BigIntType()}
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, "SUM($1)"), EmitUpdateBefore: true, InsertOnly: true}
	rec := &recorder{}
	op, _ := NewMiniBatchGroupAgg(cfg, mbConfig(100), rec)
	var b changelog.Batch
	for i := range 5 {
		b.Append(changelog.Insert, []types.Value{types.StringValue(fmt.Sprint("k", i%2)), types.IntValue(int64(i))})
	}
	if err := op.Push(&b); err != nil {
		t.Fatal(err)
	}
	mem := state.NewMemory()
	if err := StateOf(op).SnapshotState(mem); err != nil {
		t.Fatal(err)
	}
	r := mem.Reader()
	buffered := 0
	for {
		ns, _, _, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if ns == nsMiniBatch {
			buffered++
		}
	}
	if buffered != 2 || len(rec.rows) != 0 {
		t.Fatalf("snapshot holds %d buffered keys (want 2); %d rows emitted before the batch was applied", buffered, len(rec.rows))
	}
	rec2 := &recorder{}
	op2, _ := NewMiniBatchGroupAgg(cfg, mbConfig(100), rec2)
	if err := StateOf(op2).RestoreState(mem.Reader()); err != nil {
		t.Fatal(err)
	}
	if err := op2.End(); err != nil {
		t.Fatal(err)
	}
	if want := "+I[k0, 6]\n+I[k1, 4]\nEND\n"; rec2.b.String() != want {
		t.Fatalf("restored buffer applied as\n%s\nwant\n%s", rec2.b.String(), want)
	}
}

// TestMiniBatchParallelFlushDue: Parallel.FlushDue applies the due batches of mini-batch subtasks and pushes
// their output.
func TestMiniBatchParallelFlushDue(t *testing.T) {
	in := []types.Type{types.BigIntType()}
	now := time.UnixMilli(1000)
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, "COUNT(*)"), EmitUpdateBefore: true, InsertOnly: true}
	mb := MiniBatchConfig{Size: 1000, Latency: 10 * time.Millisecond, Now: func() time.Time { return now }}
	rec := &recorder{}
	op, err := NewParallel([]int{0}, in, state.DefaultMaxParallelism, 2, func(o changelog.Output) (changelog.Output, error) {
		return NewMiniBatchGroupAgg(cfg, mb, o)
	}, rec)
	if err != nil {
		t.Fatal(err)
	}
	p := op.(*Parallel)
	defer p.Close()
	var b changelog.Batch
	for i := range 20 {
		b.Append(changelog.Insert, []types.Value{types.IntValue(int64(i % 4))})
	}
	if err := p.Push(&b); err != nil {
		t.Fatal(err)
	}
	if err := p.FlushDue(); err != nil || len(rec.rows) != 0 {
		t.Fatalf("flushed before the latency: %v %d rows", err, len(rec.rows))
	}
	now = now.Add(10 * time.Millisecond)
	if err := p.FlushDue(); err != nil {
		t.Fatal(err)
	}
	if got := materialize(t, rec.rows, []int{0}); got != "+I[0, 5]\n+I[1, 5]\n+I[2, 5]\n+I[3, 5]\n" || len(rec.rows) != 4 {
		t.Fatalf("after FlushDue: %d rows\n%s", len(rec.rows), got)
	}
}
