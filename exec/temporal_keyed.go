package exec

import (
	"encoding/binary"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// Keyed changes of an event-time temporal join, for a caller that keeps its state as a changelog of its
// entries (a scale-out member, engine/scaleout_temporal.go): the join notes which entries change — the
// waiting left rows of a key (a row came, or was emitted once the watermark passed it; namespace 1) and the
// versions of a key (a version came, or older ones were dropped; namespace 2) — so that the caller writes
// those instead of a snapshot of every key. The entries are SnapshotState's (join_state.go), so RestoreState
// loads them: a key's waiting rows carry their places in the waiting list at the time the entry was written
// (unique within the key, which is all RestoreState needs; rows of one time are emitted in place order).

var _ JoinKeyed = (*temporalJoin)(nil)

// TemporalKeyedOf returns the JoinKeyed of an input of a temporal join made by NewTemporalJoin, else nil.
func TemporalKeyedOf(in changelog.Output) JoinKeyed {
	if ti, ok := in.(*temporalInput); ok {
		return ti.t
	}
	return nil
}

func (t *temporalJoin) TrackChanges() {
	t.changed = &[2]map[string]struct{}{{}, {}}
}

// noteKey notes that the entry of key k of side s (0: waiting left rows, 1: versions) changed.
func (t *temporalJoin) noteKey(s int, k string) {
	if _, ok := t.changed[s][k]; !ok {
		t.changed[s][k] = struct{}{}
	}
}

// noteLeft notes the waiting-rows entry of left row l (its join key, or nullJoinKey).
func (t *temporalJoin) noteLeft(l []types.Value) {
	t.setLeftKey(l)
	if _, ok := t.changed[0][string(t.kbuf)]; !ok {
		t.changed[0][string(t.kbuf)] = struct{}{}
	}
}

// setLeftKey sets t.kbuf to the state key of left row vals, as SnapshotState keys it: its join key, or
// nullJoinKey when a key column is NULL.
func (t *temporalJoin) setLeftKey(vals []types.Value) {
	t.kbuf = t.kbuf[:0]
	for _, c := range t.cfg.LeftKeys {
		if vals[c].IsNull() {
			t.kbuf = append(t.kbuf[:0], nullJoinKey...)
			return
		}
		var ty types.Type
		if c < len(t.cfg.LeftTypes) {
			ty = t.cfg.LeftTypes[c]
		}
		t.kbuf = types.AppendKey(t.kbuf, vals[c], ty)
	}
}

func (t *temporalJoin) SnapshotChanged(w DeltaWriter) error {
	meta := appendMeta(nil, t.signature())
	meta = binary.AppendVarint(meta, t.wm[0])
	meta = binary.AppendVarint(meta, t.wm[1])
	meta = binary.AppendVarint(meta, t.lastWM)
	meta = appendBool(meta, t.ended[0])
	meta = appendBool(meta, t.ended[1])
	if err := w.Put(nsMeta, nil, meta); err != nil {
		return err
	}
	if t.changed == nil {
		return nil
	}
	var vb []byte
	if left := t.changed[0]; len(left) > 0 {
		// One pass over the waiting rows collects those of the changed keys with their places.
		rows := map[string][]int{}
		for i, row := range t.pending {
			t.setLeftKey(row)
			if _, ok := left[string(t.kbuf)]; ok {
				rows[string(t.kbuf)] = append(rows[string(t.kbuf)], i)
			}
		}
		for k := range left {
			idx := rows[k]
			if len(idx) == 0 {
				if err := w.Delete(1, []byte(k)); err != nil {
					return err
				}
				continue
			}
			vb = append(vb[:0], stateVersion)
			vb = binary.AppendUvarint(vb, uint64(len(idx)))
			for _, i := range idx {
				vb = binary.AppendUvarint(vb, uint64(i))
				vb = appendRowBinary(vb, t.pending[i])
			}
			if err := w.Put(1, []byte(k), vb); err != nil {
				return err
			}
		}
		clear(left)
	}
	for k := range t.changed[1] {
		vs, ok := t.versions[k]
		if !ok {
			if err := w.Delete(2, []byte(k)); err != nil {
				return err
			}
			continue
		}
		vb = append(vb[:0], stateVersion)
		vb = binary.AppendUvarint(vb, uint64(len(vs)))
		for _, v := range vs {
			vb = binary.AppendVarint(vb, v.time)
			vb = appendBool(vb, v.row == nil)
			if v.row != nil {
				vb = appendRowBinary(vb, v.row)
			}
		}
		if err := w.Put(2, []byte(k), vb); err != nil {
			return err
		}
	}
	clear(t.changed[1])
	return nil
}
