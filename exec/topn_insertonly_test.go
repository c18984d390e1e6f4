package exec

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// topNInsertBatches: n pushes of 1–40 insert-only rows with ties (few distinct prices), NULLs and strings
// long enough that a few hundred rows span many chunks.
func topNInsertBatches(seed uint64, n int) []*changelog.Batch {
	rng := rand.New(rand.NewPCG(seed, 16))
	batches := make([]*changelog.Batch, n)
	for i := range batches {
		b := &changelog.Batch{}
		for range 1 + rng.IntN(40) {
			price := types.IntValue(rng.Int64N(50))
			if rng.IntN(25) == 0 {
				price = types.NullValue
			}
			b.Append(changelog.Insert, []types.Value{types.IntValue(int64(i)), price,
				types.StringValue(fmt.Sprint("s", rng.IntN(7), strings.Repeat("y", rng.IntN(30))))})
		}
		batches[i] = b
	}
	return batches
}

// TestTopNInsertOnlyKeepsWindow: over an insert-only input with a limit, the global Top-N keeps at most
// offset+limit rows (its list's count after every push) and emits what the Top-N keeping every row emits
// (topn_ref_test.go), push for push; its snapshot holds only those rows and restores (in some cases halfway)
// into an operator that goes on emitting the same. Without a limit it keeps every row.
func TestTopNInsertOnlyKeepsWindow(t *testing.T) {
	keys := []SortKey{{Col: 1, Desc: true, NullsFirst: true}, {Col: 2}}
	for _, c := range []struct{ limit, offset int64 }{{1, 0}, {5, 0}, {40, 3}, {10, 100}, {3, 1000}, {-1, 0}, {-1, 20}} {
		for seed := range uint64(3) {
			what := fmt.Sprintf("limit %d offset %d seed %d", c.limit, c.offset, seed)
			ref, got := &recorder{}, &recorder{}
			rop := newRefTopN(keys, c.limit, c.offset, ref)
			cfg := TopNConfig{Keys: keys, Limit: c.limit, Offset: c.offset, InsertOnly: true}
			op := NewTopNOf(cfg, got).(*topN)
			inserted := 0
			for i, b := range topNInsertBatches(seed, 120) {
				if err := rop.Push(b); err != nil {
					t.Fatal(err)
				}
				if err := op.Push(b); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				inserted += len(b.Rows)
				want := inserted
				if c.limit >= 0 {
					want = min(inserted, int(c.limit+c.offset))
				}
				topNBooksCheck(t, fmt.Sprintf("%s push %d", what, i), op, want)
				if g, w := got.b.String(), ref.b.String(); g != w {
					t.Fatalf("%s push %d: emitted\n%s\nwant\n%s", what, i, g, w)
				}
				if i == 60 && seed != 0 {
					m := state.NewMemory()
					if err := StateOf(op).SnapshotState(m); err != nil {
						t.Fatal(err)
					}
					if n := strings.Count(snapshotText(t, m), "\n"); n > want+1 {
						t.Fatalf("%s: the snapshot has %d lines for %d rows kept", what, n, want)
					}
					op = NewTopNOf(cfg, got).(*topN)
					if err := StateOf(op).RestoreState(m.Reader()); err != nil {
						t.Fatalf("%s: restore: %v", what, err)
					}
					topNBooksCheck(t, what+" restored", op, want)
				}
			}
			if c.limit >= 0 && inserted <= int(c.limit+c.offset) {
				t.Fatalf("%s: %d rows never fill the window", what, inserted)
			}
		}
	}
}

// TestTopNInsertOnlyRestoresFullSnapshot: a snapshot of a Top-N that kept every row (the version before,
// or the Top-N of an updating input: the format is the same) restores into an insert-only one, which
// keeps only offset+limit of its rows and emits after it what the one that kept every row emits.
func TestTopNInsertOnlyRestoresFullSnapshot(t *testing.T) {
	keys := []SortKey{{Col: 1}, {Col: 0, Desc: true}}
	batches := topNInsertBatches(7, 80)
	const limit, offset = 4, 6
	full := NewTopN(keys, limit, offset, &discard{}).(*topN)
	for _, b := range batches[:40] {
		if err := full.Push(b); err != nil {
			t.Fatal(err)
		}
	}
	if full.list.total < 300 {
		t.Fatalf("the Top-N keeping every row holds %d rows: too few to span chunks", full.list.total)
	}
	m := state.NewMemory()
	if err := StateOf(full).SnapshotState(m); err != nil {
		t.Fatal(err)
	}
	ref, got := &recorder{}, &recorder{}
	full.out = ref
	op := NewTopNOf(TopNConfig{Keys: keys, Limit: limit, Offset: offset, InsertOnly: true}, got).(*topN)
	if err := StateOf(op).RestoreState(m.Reader()); err != nil {
		t.Fatal(err)
	}
	topNBooksCheck(t, "restored", op, limit+offset)
	for i, b := range batches[40:] {
		if err := full.Push(b); err != nil {
			t.Fatal(err)
		}
		if err := op.Push(b); err != nil {
			t.Fatal(err)
		}
		topNBooksCheck(t, fmt.Sprint("push ", i), op, limit+offset)
	}
	if g, w := got.b.String(), ref.b.String(); g != w || strings.Count(w, "+I") < 5 {
		t.Fatalf("after the restore emitted\n%s\nwant\n%s", g, w)
	}
}

// TestTopNInsertOnlyRefusesRetraction: a retraction reaching an operator planned for an insert-only input
// is an error naming the row kind, not a silently wrong window.
func TestTopNInsertOnlyRefusesRetraction(t *testing.T) {
	op := NewTopNOf(TopNConfig{Keys: []SortKey{{Col: 0}}, Limit: 2, InsertOnly: true}, &discard{})
	b := &changelog.Batch{}
	b.Append(changelog.Insert, []types.Value{types.IntValue(1)})
	b.Append(changelog.Delete, []types.Value{types.IntValue(1)})
	err := op.Push(b)
	if err == nil || !strings.Contains(err.Error(), "insert-only") || !strings.Contains(err.Error(), changelog.Delete.String()) {
		t.Fatalf("got %v, want an error about a %s row in an insert-only input", err, changelog.Delete)
	}
}
