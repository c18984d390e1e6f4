package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// rankRecordCheck checks the books of a Rank's partition records: the bytes of the records the key table
// points at are the arena's used minus its garbage, and after a push the garbage is at most half the live
// bytes (or less than a chunk).
func rankRecordCheck(t *testing.T, what string, rs *rankStore) {
	t.Helper()
	live := 0
	for i, v := range rs.st.slots {
		if v != 0 {
			live += rs.st.record(i).size
		}
	}
	st := &rs.st
	if st.used-st.garbage != live {
		t.Fatalf("%s: records: used %d - garbage %d != %d bytes of live records", what, st.used, st.garbage, live)
	}
	if st.garbage > jsChunkMin && st.garbage*3 > st.used {
		t.Fatalf("%s: records: garbage %d of %d used after a push", what, st.garbage, st.used)
	}
}

// dedupConfig is a random deduplication (ROW_NUMBER() ... = 1 over an insert-only input, rank_store.go's
// dedup form) over rankPropertyRow's rows: a string or an integer partition (compact keys, rank_key.go).
func dedupConfig(rng *rand.Rand) RankConfig {
	ts := []types.Type{types.StringType(), types.BigIntType(), types.DoubleType(), types.StringType()}
	cfg := RankConfig{Func: []string{"", "ROW_NUMBER"}[rng.IntN(2)], Partition: []int{0}, Limit: 1,
		RowNumber: rng.IntN(2) == 0, Types: ts, InsertOnly: true}
	if rng.IntN(2) == 0 {
		cfg.Partition = []int{2, 0} // a DOUBLE column: the grouping form of keys
	}
	cfg.Order = []SortKey{{Col: 1, Desc: rng.IntN(2) == 0, NullsFirst: rng.IntN(2) == 0}}
	if rng.IntN(2) == 0 {
		cfg.Order = append(cfg.Order, SortKey{Col: 2, Desc: rng.IntN(2) == 0})
	}
	return cfg
}

// TestRankDedupArenaProperty runs long random insert-only streams (many partitions, rows that often replace
// their partition's row) through a deduplication, through the reference Rank (rank_ref_test.go) and through
// a deduplication that compacts its records after every push: the outputs must be the same push for push,
// the records' books must balance after every push with at most half garbage, compaction must have run, and
// at random steps the lazily compacted operator must snapshot the same bytes as the eager one (compaction
// does not change the snapshot).
func TestRankDedupArenaProperty(t *testing.T) {
	compactions, snaps := 0, 0
	for seed := range uint64(24) {
		rng := rand.New(rand.NewPCG(seed, 0xded0))
		cfg := dedupConfig(rng)
		ch := &changes{rng: rng}
		parts, pad := 20+rng.IntN(200), 10+rng.IntN(80)
		got, want, eagerOut := &recorder{}, &recorder{}, &recorder{}
		op, ref, eager := NewRank(cfg, got), newRefRank(cfg, want), NewRank(cfg, eagerOut)
		rs, es := &op.(*rankOp).st, &eager.(*rankOp).st
		if !rs.dedup {
			t.Fatalf("seed %d: %+v is not kept as a deduplication", seed, cfg)
		}
		for i := range 1500 {
			s := ch.next(0, func() []types.Value { return rankPropertyRow(rng, parts, 1000, pad) })
			for _, o := range []changelog.Output{op, ref, eager} {
				if err := o.Push(&changelog.Batch{Rows: s.rows}); err != nil {
					t.Fatalf("seed %d step %d: %v", seed, i, err)
				}
			}
			es.st.compact()
			what := fmt.Sprintf("seed %d step %d", seed, i)
			rankRecordCheck(t, what, rs)
			rankRecordCheck(t, what+" (eager)", es)
			if rng.IntN(100) == 0 {
				a, b := state.NewMemory(), state.NewMemory()
				if err := StateOf(op).SnapshotState(a); err != nil {
					t.Fatal(err)
				}
				if err := StateOf(eager).SnapshotState(b); err != nil {
					t.Fatal(err)
				}
				if x, y := snapshotText(t, a), snapshotText(t, b); x != y {
					t.Fatalf("%s: snapshot differs from the eagerly compacted one:\n%s\nvs\n%s", what, x, y)
				}
				snaps++
			}
		}
		if got.b.String() != want.b.String() || got.pushes != want.pushes {
			t.Fatalf("seed %d (%+v): output differs from the reference\n got:\n%s\nwant:\n%s", seed, cfg, got.b.String(), want.b.String())
		}
		if got.b.String() != eagerOut.b.String() {
			t.Fatalf("seed %d: output differs from the eagerly compacted one", seed)
		}
		compactions += rs.compactions
	}
	if compactions == 0 || snaps == 0 {
		t.Fatalf("%d compactions, %d snapshots compared", compactions, snaps)
	}
}

// TestRankDedupRestoreProperty: a deduplication that compacted its records (long streams) restored from a
// snapshot taken at a random step emits what the uninterrupted run emits.
func TestRankDedupRestoreProperty(t *testing.T) {
	forEachCut(t, "deduplication", 24, func(rng *rand.Rand) (builder, []step) {
		cfg := dedupConfig(rng)
		ch := &changes{rng: rng}
		parts, pad := 20+rng.IntN(100), 10+rng.IntN(60)
		var steps []step
		for range 800 {
			steps = append(steps, ch.next(0, func() []types.Value { return rankPropertyRow(rng, parts, 1000, pad) }))
		}
		steps = append(steps, step{end: true})
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op := NewRank(cfg, out)
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}, steps
	})
}
