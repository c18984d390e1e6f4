package exec

import (
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// TestRankKeepFirstRestore: a keep-first deduplication (RankConfig.KeepFirst) restored from its snapshot
// keeps the restored first rows: a later row of a restored key is dropped even with an earlier order value,
// a new key's first row is emitted unchanged, and the restored state snapshots the same bytes. Without
// KeepFirst the restored Top-N replaces the first rows (the test would pass for the wrong reason otherwise).
func TestRankKeepFirstRestore(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.TimestampLTZType(3), types.StringType()}
	row := func(key, millis int64, s string) []types.Value {
		return []types.Value{types.IntValue(key), types.TimestampValue(millis, 0), types.StringValue(s)}
	}
	for _, keepFirst := range []bool{true, false} {
		cfg := RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 1}}, Limit: 1, Types: ts, InsertOnly: true, KeepFirst: keepFirst}
		op := NewRank(cfg, &recorder{})
		var b changelog.Batch
		b.Append(changelog.Insert, row(1, 100, "a"))
		b.Append(changelog.Insert, row(2, 200, "b"))
		b.Append(changelog.Insert, row(1, 50, "late")) // dropped already before the snapshot
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
		m := state.NewMemory()
		if err := StateOf(op).SnapshotState(m); err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		op2 := NewRank(cfg, rec)
		if err := StateOf(op2).RestoreState(m.Reader()); err != nil {
			t.Fatal(err)
		}
		m2 := state.NewMemory()
		if err := StateOf(op2).SnapshotState(m2); err != nil {
			t.Fatal(err)
		}
		if a, b := snapshotText(t, m), snapshotText(t, m2); a != b {
			t.Fatalf("keep first %v: the restored state snapshots\n%s\nnot\n%s", keepFirst, b, a)
		}
		b.Reset()
		b.Append(changelog.Insert, row(1, 10, "earlier"))
		b.Append(changelog.Insert, row(2, 200, "tie"))
		b.Append(changelog.Insert, row(3, 5, "c"))
		b.Append(changelog.Insert, row(3, 1, "earlier"))
		if err := op2.Push(&b); err != nil {
			t.Fatal(err)
		}
		want := formatRow(changelog.Row{Kind: changelog.Insert, Vals: row(3, 5, "c")}) + "\n"
		if got := rec.b.String(); keepFirst && got != want {
			t.Fatalf("after the restore:\n%s\nwant\n%s", got, want)
		} else if !keepFirst && got == want {
			t.Fatalf("without KeepFirst the restored Top-N kept the first rows too:\n%s", got)
		}
	}
}
