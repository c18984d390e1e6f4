package exec

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// The global Top-N kept its rows in 4 KiB chunks of entries with rows (rankBig) until December 2026, then in
// a rankChunks with a row arena (topn.go); its snapshot format did not change. testdata/topn-savepoint
// holds savepoints written by the version before (commit fe18b92, with TOPN_SAVEPOINT_GEN=1: <name>.snapshot)
// and what it emitted after them (<name>.after).

type topNSavepointCase struct {
	keys          []SortKey
	limit, offset int64
	ttl           time.Duration
}

func topNSavepointCases() map[string]topNSavepointCase {
	return map[string]topNSavepointCase{
		// ORDER BY price DESC NULLS FIRST, s LIMIT 3 OFFSET 1
		"limit3-offset1": {keys: []SortKey{{Col: 1, Desc: true, NullsFirst: true}, {Col: 3}}, limit: 3, offset: 1},
		// ORDER BY ts, price without a limit
		"unbounded": {keys: []SortKey{{Col: 4}, {Col: 1}}, limit: -1},
		// ORDER BY price LIMIT 5 with a state TTL of an hour: the last change is in the snapshot
		"ttl-limit5": {keys: []SortKey{{Col: 1}}, limit: 5, ttl: time.Hour},
	}
}

// topNSavepointSteps: before the savepoint, about 600 rows with ties and NULLs and long strings (the list
// spans many chunks of either version), a quarter of them retracted; after, 60 more pushes, whose
// retractions take the highest-priced row half the time (so that a small window changes).
func topNSavepointSteps() (before, after []*changelog.Batch) {
	rng := rand.New(rand.NewPCG(15, 14))
	var live [][]types.Value
	batches := make([]*changelog.Batch, topNSavepointAt+60)
	for i := range batches {
		b := &changelog.Batch{}
		for range 1 + rng.IntN(8) {
			if len(live) > 0 && rng.IntN(4) == 0 {
				j := rng.IntN(len(live))
				if i >= topNSavepointAt && rng.IntN(2) == 0 { // the highest price (NULL first): a window's rows
					for k, r := range live {
						if r[1].IsNull() || !live[j][1].IsNull() && r[1].I > live[j][1].I {
							j = k
						}
					}
				}
				b.Append(changelog.Delete, live[j])
				live = append(live[:j], live[j+1:]...)
				continue
			}
			o := types.IntValue(rng.Int64N(60) - 30)
			if rng.IntN(30) == 0 {
				o = types.NullValue
			}
			ts := types.TimestampValue(1_700_000_000_000+rng.Int64N(1000), 0)
			if rng.IntN(10) == 0 {
				ts = types.NullValue
			}
			row := []types.Value{types.IntValue(rng.Int64N(6)), o, types.FloatValue(float64(rng.IntN(3)) / 2),
				types.StringValue(fmt.Sprint("s", rng.IntN(5), strings.Repeat("x", rng.IntN(60)))), ts}
			b.Append(changelog.Insert, row)
			live = append(live, row)
		}
		batches[i] = b
	}
	return batches[:topNSavepointAt], batches[topNSavepointAt:]
}

const topNSavepointAt = 180

// topNSavepointClock: the processing time of push i after the savepoint (all before it at 0): the TTL case
// reads the restored last change half an hour later, then expires the rows two hours later.
func topNSavepointClock(i, n int) time.Time {
	switch {
	case i < 0:
		return time.UnixMilli(1_700_000_000_000)
	case i < n/2:
		return time.UnixMilli(1_700_000_000_000 + 30*60_000)
	}
	return time.UnixMilli(1_700_000_000_000 + 150*60_000)
}

// TestTopNSavepointBefore: a savepoint of the global Top-N written by the version before its rows moved to
// a rankChunks restores, the operator goes on emitting what that version emitted (rows leaving and entering
// the window, TTL expiry), its snapshot after the restore is the savepoint byte for byte, and the current
// version writes the same savepoint from the same input.
func TestTopNSavepointBefore(t *testing.T) {
	gen := os.Getenv("TOPN_SAVEPOINT_GEN") != ""
	dir := filepath.Join("testdata", "topn-savepoint")
	before, after := topNSavepointSteps()
	for name, c := range topNSavepointCases() {
		clockAt := -1
		now := func() time.Time { return topNSavepointClock(clockAt, len(after)) }
		newOp := func(out changelog.Output) changelog.Output {
			clockAt = -1
			return NewTopNTTL(c.keys, c.limit, c.offset, c.ttl, now, out)
		}
		runAfter := func(op changelog.Output) {
			for i, b := range after {
				clockAt = i
				if err := op.Push(b); err != nil {
					t.Fatal(err)
				}
			}
		}
		// the current version from the start
		rec := &recorder{}
		op := newOp(rec)
		for _, b := range before {
			if err := op.Push(b); err != nil {
				t.Fatal(err)
			}
		}
		m := state.NewMemory()
		if err := StateOf(op).SnapshotState(m); err != nil {
			t.Fatal(err)
		}
		snap := snapshotText(t, m)
		rec.b.Reset()
		runAfter(op)
		if gen {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name+".snapshot"), []byte(snap+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name+".after"), []byte(rec.b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		wantSnap, err := os.ReadFile(filepath.Join(dir, name+".snapshot"))
		if err != nil {
			t.Fatal(err)
		}
		wantAfter, err := os.ReadFile(filepath.Join(dir, name+".after"))
		if err != nil {
			t.Fatal(err)
		}
		golden := strings.TrimSuffix(string(wantSnap), "\n")
		if n := strings.Count(golden, "\n"); n < 300 {
			t.Fatalf("%s: the savepoint has %d rows: too few to span many chunks", name, n)
		}
		if strings.Count(string(wantAfter), "+I") < 10 || strings.Count(string(wantAfter), "-D") < 5 {
			t.Fatalf("%s: the savepoint's Top-N emitted %q after it: too few changes to test", name, wantAfter)
		}
		if snap != golden {
			t.Errorf("%s: the current version's savepoint differs from the version before's", name)
		}
		if got := rec.b.String(); got != string(wantAfter) {
			t.Errorf("%s: the current version without a restore emitted\n%s\nwant\n%s", name, got, wantAfter)
		}

		// restored from the version before's savepoint
		rec = &recorder{}
		op = newOp(rec)
		if err := StateOf(op).RestoreState(memoryOf(t, golden).Reader()); err != nil {
			t.Fatalf("%s: restoring the savepoint: %v", name, err)
		}
		m2 := state.NewMemory()
		if err := StateOf(op).SnapshotState(m2); err != nil {
			t.Fatal(err)
		}
		if got := snapshotText(t, m2); got != golden {
			t.Errorf("%s: the snapshot after the restore differs from the savepoint restored", name)
		}
		runAfter(op)
		if got := rec.b.String(); got != string(wantAfter) {
			t.Errorf("%s: after the restore emitted\n%s\nwant\n%s", name, got, wantAfter)
		}
	}
}
