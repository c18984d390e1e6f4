package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// topNBooksCheck checks the global Top-N's state after a push: its list holds want entries in order, the
// row arena's live bytes are those its entries reference and its garbage at most half of them (or less than
// a chunk), the chunks are not mostly empty (emptied and small neighbours are merged back: on average at
// least 64 bytes of entries a chunk) and the pool of chunks stays bounded.
func topNBooksCheck(t *testing.T, what string, op *topN, want int) {
	t.Helper()
	l := &op.list
	if l.total != want {
		t.Fatalf("%s: the list holds %d entries, the reference %d", what, l.total, want)
	}
	live, n, size := 0, 0, 0
	var prev []byte
	ci := 0
	l.eachChunk(func(c []byte, rows int32) {
		k := 0
		eachRefEnt(c, func(e rEnt, _ int) {
			if prev != nil && string(prev) >= string(e.sk) {
				t.Fatalf("%s: entries out of order at chunk %d", what, ci)
			}
			prev = append(prev[:0], e.sk...)
			_, m := rowIn(op.st.rows.chunks, e.ref-1)
			live += m
			k++
		})
		if k == 0 || int32(k) != rows {
			t.Fatalf("%s: chunk %d has %d entries, counted %d", what, ci, k, rows)
		}
		n += k
		size += len(c)
		ci++
	})
	if n != l.total || size != l.size {
		t.Fatalf("%s: %d entries of %d bytes, the list counts %d of %d", what, n, size, l.total, l.size)
	}
	if l.chunks() > size/64+2 {
		t.Fatalf("%s: %d chunks for %d bytes of entries", what, l.chunks(), size)
	}
	if err := rankChunksIndexCheck(l); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	a := &op.st.rows
	if a.used-a.garbage != live {
		t.Fatalf("%s: row arena: used %d - garbage %d != %d bytes of referenced rows", what, a.used, a.garbage, live)
	}
	if a.garbage > jsChunkMin && a.garbage*3 > a.used {
		t.Fatalf("%s: row arena: garbage %d of %d used after a push", what, a.garbage, a.used)
	}
	if len(op.st.freeChunks) > rcPoolMax {
		t.Fatalf("%s: %d pooled chunks", what, len(op.st.freeChunks))
	}
}

// TestTopNChunksWaves runs the global Top-N (LIMIT 5, 40 or none, OFFSET 0–3) and the Top-N as it was before
// its compact state (topn_ref_test.go) over waves of growth (mostly inserts, to 600–3000 rows) and shrinking
// (mostly retractions, to a few rows), with ties (few distinct prices, NULLs), -U/+U pairs and retractions
// of rows never stored: the output must be the same push for push, the state's books must balance after
// every push (topNBooksCheck), and in some seeds the operator is snapshot and restored at a wave's turn.
// The lists must reach many chunks, shrink back to few, and the row arena must have been compacted.
func TestTopNChunksWaves(t *testing.T) {
	maxChunks, compactions, restores := 0, 0, 0
	shrunk := false
	for seed := range uint64(18) { // all rounds under -race too: the test asserts it reaches its cases
		rng := rand.New(rand.NewPCG(seed, 0x7a7e5))
		limit := []int64{5, 40, -1}[seed%3]
		offset := int64(rng.IntN(4))
		keys := []SortKey{{Col: 1, Desc: rng.IntN(2) == 0, NullsFirst: rng.IntN(2) == 0}, {Col: 2}}
		orders := []int{3, 50, 100_000}[rng.IntN(3)] // distinct prices: mostly ties .. few
		pad := rng.IntN(80)
		mk := func() []types.Value { return rankPropertyRow(rng, 3, orders, pad) }
		got, want := &recorder{}, &recorder{}
		op, ref := NewTopN(keys, limit, offset, got), newRefTopN(keys, limit, offset, want)
		var live [][]types.Value
		pushes := 0
		for wave := range 3 {
			high := 600 + rng.IntN(2400)
			for _, grow := range []bool{true, false} {
				for grow && len(live) < high || !grow && len(live) > 5 {
					b := &changelog.Batch{}
					for range 1 + rng.IntN(60) {
						retract := rng.Float64() < 0.15
						if !grow {
							retract = rng.Float64() < 0.9
						}
						switch {
						case retract && len(live) > 0:
							i := rng.IntN(len(live))
							old := live[i]
							live[i] = live[len(live)-1]
							live = live[:len(live)-1]
							if rng.IntN(3) == 0 { // an update: -U/+U
								r := mk()
								live = append(live, r)
								b.Append(changelog.UpdateBefore, old)
								b.Append(changelog.UpdateAfter, r)
							} else {
								b.Append(changelog.Delete, old)
							}
						case retract: // a row never stored: ignored by both
							r := mk()
							r[0] = types.StringValue("never")
							b.Append(changelog.Delete, r)
						default:
							r := mk()
							live = append(live, r)
							b.Append(changelog.Insert, r)
						}
					}
					if err := op.Push(b); err != nil {
						t.Fatalf("seed %d push %d: %v", seed, pushes, err)
					}
					if err := ref.Push(b); err != nil {
						t.Fatal(err)
					}
					pushes++
					what := fmt.Sprintf("seed %d (limit %d offset %d) wave %d push %d", seed, limit, offset, wave, pushes)
					if got.b.String() != want.b.String() || got.pushes != want.pushes {
						t.Fatalf("%s: output differs\n got:\n%s\nwant:\n%s", what, got.b.String(), want.b.String())
					}
					tn := op.(*topN)
					topNBooksCheck(t, what, tn, len(live))
					maxChunks = max(maxChunks, tn.list.chunks())
				}
				tn := op.(*topN)
				if !grow && tn.list.chunks() <= 2 {
					shrunk = true
				}
				compactions = max(compactions, tn.st.rowCompactions)
				if seed%2 == 0 { // a snapshot and a restore at the turn
					m := state.NewMemory()
					if err := StateOf(op).SnapshotState(m); err != nil {
						t.Fatal(err)
					}
					op = NewTopN(keys, limit, offset, got)
					if err := StateOf(op).RestoreState(m.Reader()); err != nil {
						t.Fatalf("seed %d: restore: %v", seed, err)
					}
					topNBooksCheck(t, fmt.Sprintf("seed %d wave %d: restored", seed, wave), op.(*topN), len(live))
					restores++
				}
			}
		}
	}
	t.Logf("at most %d chunks, row compactions %d, restores %d", maxChunks, compactions, restores)
	if maxChunks < 100 || !shrunk || compactions == 0 || restores == 0 {
		t.Fatalf("the test does not reach its cases: at most %d chunks, shrunk to 2 or fewer: %v, row compactions %d, restores %d",
			maxChunks, shrunk, compactions, restores)
	}
}

// TestTopNSteadyNoAllocs: once the global Top-N's state stopped growing, a push of 100 changes (inserts
// and retractions of rows in and out of the window, over 20,000 rows) allocates less than once on average:
// chunks change in place and come from the pool, rows go to the row arena (until December 2026 every change
// copied a 4 KiB chunk into a new allocation).
func TestTopNSteadyNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	op := NewTopN([]SortKey{{Col: 1, Desc: true}}, 10, 0, &discard{})
	rows := make([][]types.Value, 20_000)
	for i := range rows {
		rows[i] = rankPropertyRow(rng, 3, 100_000, 30)
	}
	fill := &changelog.Batch{}
	for _, r := range rows {
		fill.Append(changelog.Insert, r)
	}
	if err := op.Push(fill); err != nil {
		t.Fatal(err)
	}
	// each push retracts 50 stored rows and inserts them again (they come back after their ties)
	batches := make([]*changelog.Batch, 64)
	for k := range batches {
		b := &changelog.Batch{}
		for range 50 {
			r := rows[rng.IntN(len(rows))]
			b.Append(changelog.Delete, r)
			b.Append(changelog.Insert, r)
		}
		batches[k] = b
	}
	k := 0
	push := func() {
		if err := op.Push(batches[k%len(batches)]); err != nil {
			t.Fatal(err)
		}
		k++
	}
	for range 500 { // warm up: the pool, the output batch, the row arena's first compactions
		push()
	}
	a := testing.AllocsPerRun(1000, push)
	t.Logf("%.3f allocations per push of 100 changes", a)
	if a >= 1 {
		t.Fatalf("%.2f allocations per push of 100 changes", a)
	}
}
