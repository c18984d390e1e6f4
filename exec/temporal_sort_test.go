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

// TestTemporalSortMatchesRecomputation feeds rows (rowtime, k, seq) in random order with random rising
// watermarks into ORDER BY rowtime, k DESC and checks the output sequence against a recomputation: the rows
// that were not late when they arrived (rowtime above the last watermark), stably sorted by (rowtime, k
// DESC). Halfway through, the operator's state is snapshotted and restored into a new operator, which
// continues.
func TestTemporalSortMatchesRecomputation(t *testing.T) {
	keys := []SortKey{{Col: 0}, {Col: 1, Desc: true}}
	for seed := uint64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		var got []string
		sink := NewCollect(func(r changelog.Row) error {
			if r.Kind != changelog.Insert {
				return fmt.Errorf("temporal sort emitted %s", r.Kind)
			}
			got = append(got, fmt.Sprintf("t=%d k=%d #%d", r.Vals[0].I, r.Vals[1].I, r.Vals[2].I))
			return nil
		})
		var op changelog.Output = NewTemporalSort(keys, sink)
		type in struct{ ts, k, seq int64 }
		var kept []in
		wm, late := int64(minWatermark), int64(0)
		n := 1 + rng.IntN(200)
		for i := range n {
			r := in{int64(rng.IntN(300)), int64(rng.IntN(4)), int64(i)}
			var b changelog.Batch
			b.Append(changelog.Insert, []types.Value{types.TimestampValue(r.ts, 0), types.IntValue(r.k), types.IntValue(r.seq)})
			if err := op.Push(&b); err != nil {
				t.Fatal(err)
			}
			if r.ts > wm {
				kept = append(kept, r)
			} else {
				late++
			}
			if rng.IntN(4) == 0 {
				wm += int64(rng.IntN(30))
				if err := op.Watermark(wm); err != nil {
					t.Fatal(err)
				}
			}
			if i == n/2 {
				w := state.NewMemory()
				if err := op.(state.Snapshotter).SnapshotState(w); err != nil {
					t.Fatal(err)
				}
				op = NewTemporalSort(keys, sink)
				if err := op.(state.Snapshotter).RestoreState(w.Reader()); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := op.End(); err != nil {
			t.Fatal(err)
		}
		slices.SortStableFunc(kept, func(a, b in) int {
			if a.ts != b.ts {
				return int(a.ts - b.ts)
			}
			return int(b.k - a.k)
		})
		var want []string
		for _, r := range kept {
			want = append(want, fmt.Sprintf("t=%d k=%d #%d", r.ts, r.k, r.seq))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("seed %d: got\n%s\nwant\n%s", seed, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if l := op.(*temporalSort).Late; l != late {
			t.Fatalf("seed %d: late rows %d, want %d", seed, l, late)
		}
	}
}

// TestTemporalSortAllocations: holding and releasing rows allocates per arena chunk and per release, not per
// row.
func TestTemporalSortAllocations(t *testing.T) {
	op := NewTemporalSort([]SortKey{{Col: 0}, {Col: 1}}, NewCollect(func(changelog.Row) error { return nil }))
	var b changelog.Batch
	for i := range 100 {
		b.Append(changelog.Insert, []types.Value{types.TimestampValue(0, 0), types.IntValue(int64(i % 7)), types.StringValue("x")})
	}
	ts := int64(0)
	allocs := testing.AllocsPerRun(200, func() {
		for i := range b.Rows {
			b.Rows[i].Vals[0] = types.TimestampValue(ts+int64(i%10), 0)
		}
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
		if err := op.Watermark(ts + 5); err != nil {
			t.Fatal(err)
		}
		ts += 10
	})
	t.Logf("%.2f allocations per batch of 100 rows", allocs)
	if perRow := allocs / 100; perRow > 0.2 {
		t.Fatalf("%.2f allocations per row (%.1f per batch of 100)", perRow, allocs)
	}
}
