package exec

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
)

// TestTumbleMigratesPerWindowState: a TUMBLE window aggregate that ran on the per-window aggregate
// (NewWindowAgg, the operator before TUMBLE ran slice-shared) and took a snapshot mid-stream restores into
// the slice-shared one, as one instance and as 2 or 3 subtasks (the entries move to the subtasks that own
// their keys without the window columns); the run then gives the uninterrupted per-window run's output. The
// compact case restores into compact slices.
func TestTumbleMigratesPerWindowState(t *testing.T) {
	sorted := func(r *recorder) string {
		var lines []string
		for _, row := range r.rows {
			lines = append(lines, formatRow(row))
		}
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	restoredRows := 0
	for seed := range 60 {
		rng := rand.New(rand.NewPCG(uint64(seed), 31))
		spec := WindowSpec{Kind: Tumble, Size: int64(1 + rng.IntN(8)), Offset: int64(rng.IntN(5))}
		compact := seed%2 == 1
		c := randomCompactSliceCase(rng)
		c.spec = spec
		cfg, start, end := sliceCfg, 1, 2
		steps := sliceSteps(rng, 20+rng.IntN(60))
		if compact {
			cfg, start, end = c.cfg, c.start, c.end
			steps = c.steps(rng, 20+rng.IntN(60))
		}
		steps = steps[:len(steps)-1]
		cut := rng.IntN(len(steps) + 1)
		old := func(out changelog.Output) (changelog.Output, changelog.Output) {
			agg, err := NewWindowAgg(cfg(t), end, out)
			if err != nil {
				t.Fatal(err)
			}
			return NewWindowAssigner(spec, 1, false, nil, agg), agg
		}
		whole := &recorder{}
		in, _ := old(whole)
		runSteps(t, []changelog.Output{in}, append(steps, step{end: true}))

		for _, n := range []int{1, 2, 3} {
			got := &recorder{}
			in, agg := old(got)
			runSteps(t, []changelog.Output{in}, steps[:cut])
			before := len(got.rows)
			mem := state.NewMemory()
			if err := StateOf(agg).SnapshotState(mem); err != nil {
				t.Fatal(err)
			}
			mk := func(out changelog.Output) (changelog.Output, error) {
				return NewSliceWindowAgg(cfg(t), spec, start, end, out)
			}
			var op changelog.Output
			var err error
			if n == 1 {
				op, err = mk(got)
			} else {
				op, err = NewParallel([]int{0}, c.in[:1], 128, n, mk, got)
				if !compact {
					op, err = NewParallel([]int{0}, sliceIn[:1], 128, n, mk, got)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := StateOf(op).RestoreState(mem.Reader()); err != nil {
				t.Fatalf("seed %d, %d subtasks: %v", seed, n, err)
			}
			if n == 1 && compact && op.(*sliceWindowAgg).c == nil {
				t.Fatalf("seed %d: the migrated state did not restore into compact slices", seed)
			}
			runSteps(t, []changelog.Output{NewSliceAssigner(spec, 1, false, nil, op)}, append(steps[cut:], step{end: true}))
			if p, ok := op.(*Parallel); ok {
				p.Close()
			}
			if n == 1 {
				if whole.b.String() != got.b.String() || !sameRows(whole.rows, got.rows) {
					t.Fatalf("seed %d (size %d offset %d, cut %d of %d): per-window then migrated:\n%s\nper-window uninterrupted:\n%s",
						seed, spec.Size, spec.Offset, cut, len(steps), got.b.String(), whole.b.String())
				}
			} else if g, w := sorted(got), sorted(whole); g != w {
				t.Fatalf("seed %d, %d subtasks: per-window then migrated:\n%s\nwant\n%s", seed, n, g, w)
			}
			restoredRows += len(got.rows) - before
		}
	}
	if restoredRows < 500 {
		t.Fatalf("only %d rows came out of restored operators: the test proves little", restoredRows)
	}
}

// TestTumbleMigrateRefusesForeignWindows: per-window state whose windows are not this TUMBLE's (another
// size) is refused with an error naming both operators, not loaded into wrong slices.
func TestTumbleMigrateRefusesForeignWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	steps := sliceSteps(rng, 40)
	agg, err := NewWindowAgg(sliceCfg(t), 2, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	runSteps(t, []changelog.Output{NewWindowAssigner(WindowSpec{Kind: Tumble, Size: 5}, 1, false, nil, agg)}, steps[:len(steps)-1])
	mem := state.NewMemory()
	if err := StateOf(agg).SnapshotState(mem); err != nil {
		t.Fatal(err)
	}
	sliced, err := NewSliceWindowAgg(sliceCfg(t), WindowSpec{Kind: Tumble, Size: 3}, 1, 2, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	err = StateOf(sliced).RestoreState(mem.Reader())
	if err == nil || !strings.Contains(err.Error(), "SliceWindowAggregate(window=TUMBLE(size=3") || !strings.Contains(err.Error(), "WindowAggregate(") ||
		!strings.Contains(err.Error(), "start the query without it") {
		t.Fatalf("restoring per-window state of other windows: %v", err)
	}
}
