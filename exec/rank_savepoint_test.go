package exec

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Savepoints of Ranks taken by the version before the stored sort keys (commit 5703760;
// rank_savepoint_golden_test.go holds them as snapshotText, and what that version emitted after them): the
// in-memory state changed, the snapshot did not, so each must restore, snapshot the same bytes again (but
// for the signature of a Rank over an insert-only input with a limit, which since December 2026 says its rows
// are trimmed: rank_insertonly_restore_test.go) and go on emitting what that version emitted.

// savepointRanks are the Ranks whose savepoints are kept: keep-last and keep-first deduplications over a
// timestamp, a Top-3 over an updating input (rows past the limit kept) and a RANK Top-2 over a DOUBLE and a
// BIGINT.
func savepointRanks() map[string]RankConfig {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.DoubleType(), types.StringType(), types.TimestampType(3)}
	return map[string]RankConfig{
		"dedup-last":  {Partition: []int{0, 1}, Order: []SortKey{{Col: 4, Desc: true}}, Limit: 1, RowNumber: true, Types: ts, InsertOnly: true},
		"dedup-first": {Partition: []int{3}, Order: []SortKey{{Col: 4}}, Limit: 1, Types: ts, InsertOnly: true},
		"top3":        {Partition: []int{0}, Order: []SortKey{{Col: 1, Desc: true, NullsFirst: true}}, Limit: 3, RowNumber: true, Types: ts},
		"rank2":       {Func: "RANK", Partition: []int{0}, Order: []SortKey{{Col: 2}, {Col: 1, Desc: true}}, Limit: 2, RowNumber: true, Types: ts, InsertOnly: true},
	}
}

// savepointSteps returns the pushes before the savepoint and after it (retractions only without InsertOnly).
func savepointSteps(cfg RankConfig) (before, after []*changelog.Batch) {
	rng := rand.New(rand.NewPCG(13, 14))
	var live [][]types.Value
	batches := make([]*changelog.Batch, 40)
	for i := range batches {
		b := &changelog.Batch{}
		for range 1 + rng.IntN(8) {
			if !cfg.InsertOnly && len(live) > 0 && rng.IntN(4) == 0 {
				j := rng.IntN(len(live))
				b.Append(changelog.Delete, live[j])
				live = append(live[:j], live[j+1:]...)
				continue
			}
			o := types.IntValue(rng.Int64N(2000) - 1000)
			if rng.IntN(10) == 0 {
				o = types.NullValue
			}
			ts := types.TimestampValue(1_700_000_000_000+rng.Int64N(100_000), 0)
			if rng.IntN(10) == 0 {
				ts = types.NullValue
			}
			row := []types.Value{types.IntValue(rng.Int64N(6)), o, types.FloatValue(float64(rng.IntN(3)) / 2),
				types.StringValue(fmt.Sprint("s", rng.IntN(5), strings.Repeat("x", rng.IntN(40)))), ts}
			if rng.IntN(3) == 0 {
				row[3] = types.StringValue(fmt.Sprint("s", rng.IntN(5)))
			}
			b.Append(changelog.Insert, row)
			live = append(live, row)
		}
		batches[i] = b
	}
	return batches[:25], batches[25:]
}

func TestRankSavepointBeforeStoredKeys(t *testing.T) {
	gen := os.Getenv("RANK_SAVEPOINT_GEN") != ""
	for _, name := range []string{"dedup-last", "dedup-first", "top3", "rank2"} {
		cfg := savepointRanks()[name]
		before, after := savepointSteps(cfg)
		if gen {
			op := NewRank(cfg, &recorder{})
			for _, b := range before {
				if err := op.Push(b); err != nil {
					t.Fatal(err)
				}
			}
			m := state.NewMemory()
			if err := StateOf(op).SnapshotState(m); err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			op.(*rankOp).out = rec
			for _, b := range after {
				if err := op.Push(b); err != nil {
					t.Fatal(err)
				}
			}
			fmt.Printf("\t%q: {\n\t\tsnapshot: %q,\n\t\tafter: %q,\n\t},\n", name, snapshotText(t, m), rec.b.String())
			continue
		}
		g, ok := rankSavepoints[name]
		if !ok {
			t.Fatalf("%s: no savepoint", name)
		}
		m := state.NewMemory()
		for _, line := range strings.Split(g.snapshot, "\n") {
			k, v, _ := strings.Cut(line[1:], "=")
			key, err1 := hex.DecodeString(k)
			value, err2 := hex.DecodeString(v)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: bad line %q", name, line)
			}
			if err := m.Put(line[0]-'0', key, value); err != nil {
				t.Fatal(err)
			}
		}
		rec := &recorder{}
		op := NewRank(cfg, rec)
		if err := StateOf(op).RestoreState(m.Reader()); err != nil {
			t.Fatalf("%s: restoring the savepoint: %v", name, err)
		}
		m2 := state.NewMemory()
		if err := StateOf(op).SnapshotState(m2); err != nil {
			t.Fatal(err)
		}
		want := g.snapshot
		if cfg.InsertOnly && cfg.Limit >= 0 {
			want = markTrimmed(t, want) // since December 2026 the signature says the rows are trimmed
		}
		if got := snapshotText(t, m2); got != want {
			t.Fatalf("%s: the restored state snapshots\n%s\nnot the savepoint\n%s", name, got, want)
		}
		for _, b := range after {
			if err := op.Push(b); err != nil {
				t.Fatal(err)
			}
		}
		if got := rec.b.String(); got != g.after {
			t.Fatalf("%s: after the restore:\n%s\nwant\n%s", name, got, g.after)
		}
	}
}
