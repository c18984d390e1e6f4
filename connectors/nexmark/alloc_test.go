package nexmark

import (
	"context"
	"strconv"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/vec"
)

// discardCols takes columnar batches and drops them, as the engine's blackhole sink at the end of a
// pipeline; PushColumnsThen calls advance as the engine's pipeline head does.
type discardCols struct{ rows int }

func (d *discardCols) Push(b *changelog.Batch) error  { d.rows += b.Len(); return nil }
func (d *discardCols) PushColumns(b *vec.Batch) error { d.rows += b.Len(); return nil }
func (d *discardCols) AcceptsColumns() bool           { return true }
func (d *discardCols) Watermark(int64) error          { return nil }
func (d *discardCols) End() error                     { return nil }
func (d *discardCols) PushColumnsThen(b *vec.Batch, advance func()) error {
	d.rows += b.Len()
	advance()
	return nil
}

// TestColumnsSteadyStateAllocs: once running, the source generates and pushes column batches without
// allocating (the batch, the string arenas and the position's advance are reused), so a run of many more
// batches allocates no more than a short one.
func TestColumnsSteadyStateAllocs(t *testing.T) {
	allocs := func(events int) float64 {
		return testing.AllocsPerRun(2, func() {
			src, err := create(t, map[string]string{"events.num": strconv.Itoa(events)})
			if err != nil {
				t.Fatal(err)
			}
			d := &discardCols{}
			if err := src.Run(context.Background(), d); err != nil {
				t.Fatal(err)
			}
			if d.rows != events {
				t.Fatalf("%d rows, want %d", d.rows, events)
			}
		})
	}
	const short, long = 20 * maxBatch, 220 * maxBatch
	a, b := allocs(short), allocs(long)
	// AllocsPerRun counts the whole process's allocations: a stray one elsewhere (the runtime, another
	// test's goroutine winding down) showed as 2 more over the 200 batches in a loaded CI run. An
	// allocation per batch shows as 200 or more, so half an allocation per batch is the bound.
	if perBatch := (b - a) / ((long - short) / maxBatch); perBatch >= 0.5 && !raceEnabled {
		t.Fatalf("%.0f allocations for %d events, %.0f for %d: %.2f per batch in steady state, want 0",
			a, short, b, long, perBatch)
	}
}
