package exec

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// rankRowArenaCheck walks the partitions of a Rank and checks the row arena's books: the bytes of the rows
// its records reference are its used minus its garbage, and after a push the garbage is at most half the
// live rows (or less than a chunk).
func rankRowArenaCheck(t *testing.T, what string, rs *rankStore) {
	t.Helper()
	live := 0
	f := rs.formAt()
	for i, v := range rs.st.slots {
		if v == 0 {
			continue
		}
		body := rs.st.record(i).body
		count := func(e rEnt, _ int) {
			_, n := rowIn(rs.rows.chunks, e.ref-1)
			live += n
		}
		switch body[f] {
		case rsFormInline:
			eachRefEnt(body[f+1:], count)
		case rsFormBig: // a rankChunks' rows are in the row arena too (rank_chunks.go)
			j, _ := binary.Uvarint(body[f+1:])
			rs.bigs[j].eachChunk(func(c []byte, _ int32) { eachRefEnt(c, count) })
		}
	}
	a := &rs.rows
	if a.used-a.garbage != live {
		t.Fatalf("%s: row arena: used %d - garbage %d != %d bytes of referenced rows", what, a.used, a.garbage, live)
	}
	if a.garbage > jsChunkMin && a.garbage*3 > a.used {
		t.Fatalf("%s: row arena: garbage %d of %d used after a push", what, a.garbage, a.used)
	}
}

// TestRankRowArenaProperty runs long random streams (many partitions, inserts and retractions or insert-only,
// N in {3, 10} or unbounded) through the Rank and the reference Rank (rank_ref_test.go): the output must be
// the same push for push, the row arena's books must balance after every push, and its compaction must have
// run (rows move while partitions keep referencing them).
func TestRankRowArenaProperty(t *testing.T) {
	ts := []types.Type{types.StringType(), types.BigIntType(), types.DoubleType(), types.StringType()}
	funcs := []string{"", "RANK", "DENSE_RANK"}
	limits := []int64{3, 10, -1}
	compactions := 0
	for seed := range uint64(24) {
		rng := rand.New(rand.NewPCG(seed, 0xa7e4a))
		insertOnly := rng.IntN(3) == 0
		cfg := RankConfig{Func: funcs[rng.IntN(3)], Partition: []int{0}, Limit: limits[rng.IntN(len(limits))],
			RowNumber: rng.IntN(4) != 0, Types: ts, InsertOnly: insertOnly}
		if insertOnly && cfg.Limit < 0 {
			cfg.Limit = 10
		}
		cfg.Order = []SortKey{{Col: 1, Desc: rng.IntN(2) == 0, NullsFirst: rng.IntN(2) == 0}}
		retract := 0.45
		if insertOnly {
			retract = 0
		}
		ch := &changes{rng: rng, retract: retract, update: true}
		parts, pad := 20+rng.IntN(40), 10+rng.IntN(60)
		got, want := &recorder{}, &recorder{}
		op, ref := NewRank(cfg, got), newRefRank(cfg, want)
		rs := &op.(*rankOp).st
		for i := range 1500 {
			s := ch.next(0, func() []types.Value { return rankPropertyRow(rng, parts, 30, pad) })
			b := &changelog.Batch{Rows: s.rows}
			if err := op.Push(b); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, i, err)
			}
			if err := ref.Push(b); err != nil {
				t.Fatalf("seed %d step %d (reference): %v", seed, i, err)
			}
			rankRowArenaCheck(t, fmt.Sprintf("seed %d step %d", seed, i), rs)
		}
		if got.b.String() != want.b.String() {
			t.Fatalf("seed %d (%+v): output differs\n got:\n%s\nwant:\n%s", seed, cfg, got.b.String(), want.b.String())
		}
		if got.pushes != want.pushes {
			t.Fatalf("seed %d: %d pushes, want %d", seed, got.pushes, want.pushes)
		}
		compactions += rs.rowCompactions
	}
	if compactions == 0 {
		t.Fatal("no seed compacted the row arena")
	}
}

// TestRankRowArenaRestoreProperty: a Rank whose rows live in the row arena (long streams with retractions,
// so that it compacts) restored from a snapshot taken at a random step emits what the uninterrupted run
// emits.
func TestRankRowArenaRestoreProperty(t *testing.T) {
	ts := []types.Type{types.StringType(), types.BigIntType(), types.DoubleType(), types.StringType()}
	forEachCut(t, "rank row arena", 24, func(rng *rand.Rand) (builder, []step) {
		cfg := RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 1, Desc: rng.IntN(2) == 0}},
			Limit: []int64{3, 10, -1}[rng.IntN(3)], RowNumber: rng.IntN(2) == 0, Types: ts}
		ch := &changes{rng: rng, retract: 0.4, update: true}
		var steps []step
		for range 600 {
			steps = append(steps, ch.next(0, func() []types.Value { return rankPropertyRow(rng, 30, 30, 40) }))
		}
		steps = append(steps, step{end: true})
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op := NewRank(cfg, out)
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}, steps
	})
}

// TestRankCompactRowsAllocs: compacting the row arena of a Rank whose partitions are inline (a Top-10 per
// key over an updating input, about 8 rows a partition) allocates its new chunks only, not once an entry
// (until December 2026 each entry of an inline record escaped through a callback: an allocation a row).
// The rows must still be where the records point (rankRowArenaCheck) and emit as before.
func TestRankCompactRowsAllocs(t *testing.T) {
	ts := []types.Type{types.StringType(), types.BigIntType(), types.DoubleType(), types.StringType()}
	cfg := RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 1}}, Limit: 10, RowNumber: true, Types: ts}
	rng := rand.New(rand.NewPCG(3, 14))
	op := NewRank(cfg, &discard{}).(*rankOp)
	b := &changelog.Batch{}
	for range 8 {
		b.Reset()
		for range 1024 {
			b.Append(changelog.Insert, rankPropertyRow(rng, 1000, 30, 20))
		}
		if err := op.Push(b); err != nil {
			t.Fatal(err)
		}
	}
	rs := &op.st
	rows, big := 0, 0
	for slot, v := range rs.st.slots {
		if v != 0 {
			rs.load(slot, &op.part)
			rows += op.part.count()
			if op.part.big != nil {
				big++
			}
		}
	}
	if rows < 4000 || big > rows/1000 {
		t.Fatalf("%d rows, %d partitions in rankChunks: want thousands of rows in inline partitions", rows, big)
	}
	allocs := testing.AllocsPerRun(5, rs.compactRows)
	if allocs > float64(rows)/100 {
		t.Fatalf("compacting %d rows of inline partitions allocated %.0f times, want only the arena's chunks", rows, allocs)
	}
	rankRowArenaCheck(t, "after the compactions", rs)
}
