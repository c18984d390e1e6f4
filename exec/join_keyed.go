package exec

import "github.com/sluicesql/sluice/changelog"

// JoinKeyed is implemented by streaming interval joins for a caller that keeps their state as a changelog of
// its entries (a scale-out member): the join notes which entries (side, join key) change, so that the
// caller writes those instead of a snapshot of every key. Changes: a row stored or retracted, a stored row
// of an outer side matched by a new row (its match count), rows pruned by the watermark. A state TTL's drops
// are not noted (interval joins have none).
type JoinKeyed interface {
	// TrackChanges makes the join note its changed entries from now on.
	TrackChanges()
	// SnapshotChanged writes the meta entry and, for every entry noted since the last call, its value as
	// SnapshotState writes it, or a Delete when the key holds no row of that side any more; it forgets the
	// noted entries.
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

func (j *joinOp) TrackChanges() {
	j.changed = &[2]map[string]struct{}{{}, {}}
}

// noteKey notes that the entry of (internal) key of side s changed.
func (j *joinOp) noteKey(s int, key []byte) {
	m := j.changed[s]
	if _, ok := m[string(key)]; !ok {
		m[string(key)] = struct{}{}
	}
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
		for k := range j.changed[s] {
			key := []byte(k)
			kb = j.stateKey(kb[:0], s, key)
			if slot, ok := st.find(key, st.hash(key)); ok {
				r := st.record(slot)
				vb = j.appendBucket(vb[:0], s, &r)
				if err := w.Put(uint8(s+1), kb, vb); err != nil {
					return err
				}
			} else if err := w.Delete(uint8(s+1), kb); err != nil {
				return err
			}
		}
		clear(j.changed[s])
	}
	return nil
}
