package exec

import (
	"encoding/binary"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// JoinKeyed is implemented by streaming interval joins for a caller that keeps their state as a changelog of
// its entries (a scale-out member): the join notes which rows change, so that the caller writes those instead
// of a snapshot of every key. Changes: a row stored or retracted, a stored row of an outer side matched by a
// new row (its match count), rows pruned by the watermark. A state TTL's drops are not noted (interval joins
// have none).
//
// The entries are per join key, side and row time (as Flink's interval join keeps its rows in a map state
// from time to the rows of that time): namespaces 3 (left) and 4 (right), key the join key's state key
// followed by the time (joinTimeSuffix), value the rows of that key and time as a side entry of namespace 1
// or 2 holds them (join_state.go). So a transaction writes in proportion to the rows it changed (and those
// sharing their key and millisecond), however many rows a hot key holds. RestoreState reads both forms;
// entries of the form before (namespaces 1 and 2: a join key's rows whole) that a tracking join restored
// are rewritten in the per-time form, and deleted, at its next SnapshotChanged.
type JoinKeyed interface {
	// TrackChanges makes the join note its changed entries from now on.
	TrackChanges()
	// SnapshotChanged writes the meta entry and, for every entry noted since the last call, its value, or a
	// Delete when the key holds no row of that side and time any more; it forgets the noted entries.
	SnapshotChanged(w DeltaWriter) error
}

var _ JoinKeyed = (*joinOp)(nil)

// JoinKeyedOf returns the JoinKeyed of an input of a streaming join made by NewJoin, else nil.
func JoinKeyedOf(in changelog.Output) JoinKeyed {
	if ji, ok := in.(*joinInput); ok && !ji.j.cfg.Batch {
		return ji.j
	}
	return nil
}

// rowTimeKey is a row time as the changelog keys it (null: the row's time is NULL).
type rowTimeKey struct {
	t    int64
	null bool
}

// joinChanges are the rows noted per side: join key -> the times of its changed rows; legacy: the keys a
// restore read in the whole-key form, to rewrite.
type joinChanges struct {
	keys   [2]map[string]map[rowTimeKey]struct{}
	legacy [2]map[string]struct{}
}

func (j *joinOp) TrackChanges() {
	j.changed = &joinChanges{}
	for s := range 2 {
		j.changed.keys[s] = map[string]map[rowTimeKey]struct{}{}
		j.changed.legacy[s] = map[string]struct{}{}
	}
}

// noteRow notes that the rows of (internal) key of side s with time t changed.
func (j *joinOp) noteRow(s int, key []byte, t types.Value) {
	m := j.changed.keys[s]
	ts, ok := m[string(key)]
	if !ok {
		ts = map[rowTimeKey]struct{}{}
		m[string(key)] = ts
	}
	ts[rowTimeKey{t: t.I, null: t.IsNull()}] = struct{}{}
}

// joinTimeSuffix appends the time part of a per-time entry's key: 0 for a NULL time, else 1 and the time
// (big-endian, sign bit flipped: entries sort by time).
func joinTimeSuffix(dst []byte, tk rowTimeKey) []byte {
	if tk.null {
		return append(dst, 0)
	}
	return binary.BigEndian.AppendUint64(append(dst, 1), uint64(tk.t)^(1<<63))
}

func (j *joinOp) SnapshotChanged(w DeltaWriter) error {
	if err := w.Put(nsMeta, nil, j.metaEntry(j.wm[0], j.wm[1], j.lastWM, j.sides[0].ended, j.sides[1].ended)); err != nil {
		return err
	}
	if j.changed == nil {
		return nil
	}
	var kb, vb []byte
	for s := range 2 {
		st := &j.sides[s].st
		// Keys restored whole: delete that entry, write all their rows per time.
		for k := range j.changed.legacy[s] {
			if err := w.Delete(uint8(s+1), []byte(k)); err != nil {
				return err
			}
		}
		clear(j.changed.legacy[s])
		for k, times := range j.changed.keys[s] {
			key := []byte(k)
			slot, found := st.find(key, st.hash(key))
			var r jsRecord
			if found {
				r = st.record(slot)
			}
			kb = j.stateKey(kb[:0], s, key)
			n := len(kb)
			for tk := range times {
				kb = joinTimeSuffix(kb[:n], tk)
				rows := 0
				if found {
					vb, rows = j.appendTimeBucket(vb[:0], s, &r, tk)
				}
				var err error
				if rows > 0 {
					err = w.Put(uint8(s+3), kb, vb)
				} else {
					err = w.Delete(uint8(s+3), kb)
				}
				if err != nil {
					return err
				}
			}
		}
		clear(j.changed.keys[s])
	}
	return nil
}

// appendTimeBucket appends the entry value of the rows of side s under record r with time tk (as
// appendBucket) and returns their number (0: none, nothing appended).
func (j *joinOp) appendTimeBucket(vb []byte, s int, r *jsRecord, tk rowTimeKey) ([]byte, int) {
	st := &j.sides[s].st
	kv := j.keyVals(r.key)
	iter := func() jsIter {
		if tk.null {
			return st.iter(r)
		}
		return st.iterWithin(r, tk.t, tk.t)
	}
	has := func(it *jsIter) ([]types.Value, bool) {
		vals := j.rowVals(s, it.row(), kv, 0)
		t := j.rowTime(s, vals)
		return vals, t.IsNull() == tk.null && (tk.null || t.I == tk.t)
	}
	n := 0
	for it := iter(); it.next(); {
		if _, ok := has(&it); ok {
			n++
		}
	}
	if n == 0 {
		return vb, 0
	}
	vb = append(vb, stateVersion)
	vb = binary.AppendUvarint(vb, uint64(n))
	for it := iter(); it.next(); {
		vals, ok := has(&it)
		if !ok {
			continue
		}
		vb = appendRowBinary(vb, vals)
		vb = binary.AppendUvarint(vb, uint64(it.count()))
		vb = binary.AppendVarint(vb, int64(it.assoc()))
		vb = binary.AppendVarint(vb, it.touched())
	}
	return vb, n
}

// noteLegacy notes a key restored from a whole-key entry (namespace s+1, state key sk; internal key k) of a
// tracking join: the times of its rows are noted, so that the next SnapshotChanged writes them per time, and
// the whole-key entry is deleted then.
func (j *joinOp) noteLegacy(s int, sk, k []byte) {
	if j.changed == nil {
		return
	}
	j.changed.legacy[s][string(sk)] = struct{}{}
	st := &j.sides[s].st
	slot, ok := st.find(k, st.hash(k))
	if !ok {
		return
	}
	r := st.record(slot)
	kv := j.keyVals(r.key)
	for it := st.iter(&r); it.next(); {
		j.noteRow(s, r.key, j.rowTime(s, j.rowVals(s, it.row(), kv, 0)))
	}
}
