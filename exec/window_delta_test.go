package exec

import (
	"bytes"
	"maps"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// deltaEntries records what a DeltaWriter gets: entries by namespace byte + key, nil for a Delete.
type deltaEntries map[string][]byte

func (d deltaEntries) Put(ns uint8, key, value []byte) error {
	d[string(append([]byte{ns}, key...))] = bytes.Clone(value)
	return nil
}

func (d deltaEntries) Delete(ns uint8, key []byte) error {
	d[string(append([]byte{ns}, key...))] = nil
	return nil
}

// TestWindowAggKeyedSnapshot: SnapshotWindowKeys writes each given group's entry as SnapshotState does (the
// same bytes), a Delete for a group whose window fired, one that never opened and one named with another
// window end; SnapshotMeta writes SnapshotState's meta entry.
func TestWindowAggKeyedSnapshot(t *testing.T) {
	bigint, ts := types.Type{Kind: types.BigInt}, types.TimestampType(3)
	in := []types.Type{bigint, bigint, ts, ts}
	cfg := GroupAggConfig{Keys: []int{2, 3, 0}, InTypes: in, KeyTypes: []types.Type{ts, ts, bigint},
		Aggs: aggCalls(t, in, "COUNT(*)", "SUM($1)", "MAX($1)")}
	op, err := NewWindowAgg(cfg, 1, NewCollect(func(changelog.Row) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	var b changelog.Batch
	groups := map[string]int64{} // key -> window end
	row := func(user, amount, start int64) []types.Value {
		return []types.Value{types.IntValue(user), types.IntValue(amount), types.TimestampValue(start, 0), types.TimestampValue(start+20_000, 0)}
	}
	for i := range int64(40) {
		r := row(i%5, i, i%4*10_000) // four windows of 20 s every 10 s
		b.Append(changelog.Insert, r)
		groups[string(types.AppendRowKey(nil, r, in, cfg.Keys))] = i%4*10_000 + 20_000
	}
	if err := op.Push(&b); err != nil {
		t.Fatal(err)
	}
	if err := op.Watermark(19_999); err != nil { // the window [0, 20 s) fires
		t.Fatal(err)
	}
	b.Reset()
	b.Append(changelog.Insert, row(1, 100, 0)) // late
	if err := op.Push(&b); err != nil {
		t.Fatal(err)
	}
	full := deltaEntries{}
	if err := StateOf(op).SnapshotState(full); err != nil {
		t.Fatal(err)
	}
	never := string(types.AppendRowKey(nil, row(9, 0, 10_000), in, cfg.Keys))
	groups[never] = 30_000
	keyed := op.(WindowKeyedSnapshotter)
	got := deltaEntries{}
	if err := keyed.SnapshotMeta(got); err != nil {
		t.Fatal(err)
	}
	if err := keyed.SnapshotWindowKeys(got, maps.All(groups)); err != nil {
		t.Fatal(err)
	}
	// A live group named with another window's end is not found.
	var live string
	for k, end := range groups {
		if end == 40_000 {
			live = k
			break
		}
	}
	wrong := deltaEntries{}
	if err := keyed.SnapshotWindowKeys(wrong, maps.All(map[string]int64{live: 30_000})); err != nil {
		t.Fatal(err)
	}
	if v, ok := wrong["\x00"+live]; !ok || v != nil {
		t.Fatalf("a group named with another window's end: %x, want a Delete", v)
	}
	deletes := 0
	for k, v := range got {
		if v == nil {
			deletes++
			if _, ok := full[k]; ok {
				t.Errorf("Delete of %x, which SnapshotState writes", k)
			}
			continue
		}
		if !bytes.Equal(v, full[k]) {
			t.Errorf("entry %x: %x, SnapshotState %x", k, v, full[k])
		}
	}
	for k := range full {
		if _, ok := got[k]; !ok {
			t.Errorf("entry %x of SnapshotState missing", k)
		}
	}
	// The fired window [0, 20 s) had the 5 users (rows 0, 4, ..., 36), and one group never opened.
	if deletes != 6 || len(got) != len(groups)+1 {
		t.Fatalf("%d Deletes of %d entries, want 6 of %d (SnapshotState: %d entries)", deletes, len(got), len(groups)+1, len(full))
	}
}
