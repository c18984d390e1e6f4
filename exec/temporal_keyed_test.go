package exec

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// temporalStateText describes a temporal join's state without the order of its waiting rows.
func temporalStateText(t *temporalJoin) string {
	var rows []string
	for _, r := range t.pending {
		rows = append(rows, fmt.Sprint(r))
	}
	sort.Strings(rows)
	var keys []string
	for k, vs := range t.versions {
		keys = append(keys, fmt.Sprintf("%x:%v", k, vs))
	}
	sort.Strings(keys)
	return fmt.Sprintf("wm=%v last=%d ended=%v\nwaiting %v\nversions %v", t.wm, t.lastWM, t.ended, rows, keys)
}

// TestTemporalJoinSnapshotChanged: a LEFT temporal join fed random left rows (keys 0..5 and NULL), versions
// and watermarks writes its changed entries after every step (SnapshotChanged) into a map kept as a
// compacted topic keeps them (nil: deleted); a join restored from that map has the same waiting rows, versions and
// watermarks as the running one at every step, and emits the same rows from there on.
func TestTemporalJoinSnapshotChanged(t *testing.T) {
	bt := types.BigIntType()
	ts := []types.Type{bt, bt, bt}
	cfg := TemporalJoinConfig{LeftKeys: []int{0}, RightKeys: []int{0}, LeftTime: 1, RightTime: 1, LeftTypes: ts, RightTypes: ts, Outer: true}
	rng := rand.New(rand.NewPCG(7, 11))
	rec := &recorder{}
	l, r := NewTemporalJoin(cfg, rec)
	keyed := TemporalKeyedOf(l)
	if keyed == nil || TemporalKeyedOf(&recorder{}) != nil {
		t.Fatal("TemporalKeyedOf: want the join's JoinKeyed for its input only")
	}
	keyed.TrackChanges()
	entries := deltaEntries{}
	wm, id := int64(0), int64(0)
	for step := range 200 {
		var lb, rb changelog.Batch
		for range rng.IntN(6) {
			k := types.IntValue(int64(rng.IntN(6)))
			if rng.IntN(9) == 0 {
				k = types.NullValue
			}
			id++
			lb.Append(changelog.Insert, []types.Value{k, types.IntValue(wm + int64(rng.IntN(300))), types.IntValue(id)})
		}
		for range rng.IntN(3) {
			id++
			kind := changelog.Insert
			if rng.IntN(8) == 0 {
				kind = changelog.Delete
			}
			rb.Append(kind, []types.Value{types.IntValue(int64(rng.IntN(6))), types.IntValue(wm + int64(rng.IntN(300))), types.IntValue(id)})
		}
		if err := l.Push(&lb); err != nil {
			t.Fatal(err)
		}
		if err := r.Push(&rb); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(2) == 0 {
			wm += int64(rng.IntN(150))
			if err := l.Watermark(wm); err != nil {
				t.Fatal(err)
			}
			if err := r.Watermark(wm); err != nil {
				t.Fatal(err)
			}
		}
		if err := keyed.SnapshotChanged(entries); err != nil {
			t.Fatal(err)
		}
		mem := state.NewMemory()
		if v, ok := entries[string([]byte{nsMeta})]; ok {
			_ = mem.Put(nsMeta, nil, v)
		}
		for k, v := range entries {
			if k[0] != nsMeta && v != nil { // nil: deleted (window_delta_test.go)
				_ = mem.Put(k[0], []byte(k[1:]), v)
			}
		}
		l2, r2 := NewTemporalJoin(cfg, &recorder{})
		if err := StateOf(l2).RestoreState(mem.Reader()); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		orig, got := temporalStateText(l.(*temporalInput).t), temporalStateText(l2.(*temporalInput).t)
		if got != orig {
			t.Fatalf("step %d: restored from the changed entries:\n%s\nthe running join:\n%s", step, got, orig)
		}
		_ = r2
	}
	if len(rec.b.String()) == 0 {
		t.Fatal("the join emitted nothing: the test's watermarks do not advance")
	}
}

// discardDelta is a DeltaWriter that counts the bytes it is given.
type discardDelta struct{ n int }

func (d *discardDelta) Put(_ uint8, key, value []byte) error {
	d.n += len(key) + len(value)
	return nil
}
func (d *discardDelta) Delete(_ uint8, key []byte) error { d.n += len(key); return nil }

// BenchmarkTemporalJoinCommit: a scale-out transaction's state write of a temporal join holding held
// waiting rows (and a version per key, 10K keys) after 100 new rows: SnapshotChanged (the changed keys)
// against SnapshotState (everything).
func BenchmarkTemporalJoinCommit(b *testing.B) {
	bt := types.BigIntType()
	ts := []types.Type{bt, bt, bt}
	cfg := TemporalJoinConfig{LeftKeys: []int{0}, RightKeys: []int{0}, LeftTime: 1, RightTime: 1, LeftTypes: ts, RightTypes: ts}
	for _, held := range []int{10_000, 100_000} {
		for _, full := range []bool{false, true} {
			b.Run(fmt.Sprintf("held=%d/full=%t", held, full), func(b *testing.B) {
				l, r := NewTemporalJoin(cfg, &recorder{})
				keyed := TemporalKeyedOf(l)
				keyed.TrackChanges()
				var rb, lb changelog.Batch
				for k := range 10_000 {
					rb.Append(changelog.Insert, []types.Value{types.IntValue(int64(k)), types.IntValue(0), types.IntValue(int64(k))})
				}
				for i := range held {
					lb.Append(changelog.Insert, []types.Value{types.IntValue(int64(i % 10_000)), types.IntValue(1000), types.IntValue(int64(i))})
				}
				if err := errors.Join(r.Push(&rb), l.Push(&lb), keyed.SnapshotChanged(&discardDelta{})); err != nil {
					b.Fatal(err)
				}
				var nb changelog.Batch
				for i := range 100 {
					nb.Append(changelog.Insert, []types.Value{types.IntValue(int64(i * 97 % 10_000)), types.IntValue(1000), types.IntValue(int64(i))})
				}
				w := &discardDelta{}
				b.ResetTimer()
				for range b.N {
					if err := l.Push(&nb); err != nil {
						b.Fatal(err)
					}
					if full {
						err := StateOf(l).SnapshotState(w)
						clear(keyed.(*temporalJoin).changed[0])
						if err != nil {
							b.Fatal(err)
						}
					} else if err := keyed.SnapshotChanged(w); err != nil {
						b.Fatal(err)
					}
					lt := keyed.(*temporalJoin)
					lt.pending = lt.pending[:held] // the pushed rows leave again (as if emitted), untimed state stays the same
				}
			})
		}
	}
}
