package exec

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Regular and interval join state: namespace 1 holds the left side, 2 the right side, one entry per join
// key (rows whose key has a NULL share the key "\xff\xff<null key>"):
//
//	version, uvarint records, each: row, uvarint multiplicity, varint matches on the other side, varint
//	last write (Unix ms, for the state TTL; 0 without one)
//
// and in the meta entry both inputs' watermarks, the emitted watermark and which inputs ended. A scale-out
// changelog (JoinKeyed, join_keyed.go) holds namespaces 3 and 4 instead: the rows of a join key and side per
// row time, in the same encoding; RestoreState reads both.

func (j *joinOp) signature() string {
	return fmt.Sprintf("%s(leftKeys=%d, rightKeys=%d, leftWidth=%d, rightWidth=%d, interval=%t)",
		j.cfg.Type, len(j.cfg.LeftKeys), len(j.cfg.RightKeys), j.sides[0].width, j.sides[1].width, j.cfg.Interval != nil)
}

// SnapshotState writes both sides (streaming joins only).
func (j *joinOp) SnapshotState(w state.Writer) error {
	if j.cfg.Batch {
		return fmt.Errorf("snapshot join %s: %w", j.signature(), errBatchSnapshot)
	}
	return j.snapshotTo(w, j.wm[0], j.wm[1], j.lastWM, j.sides[0].ended, j.sides[1].ended)
}

// snapshotTo writes the meta entry with the given watermarks and end flags, then both sides.
func (j *joinOp) snapshotTo(w state.Writer, wm0, wm1, last int64, ended0, ended1 bool) error {
	if err := w.Put(nsMeta, nil, j.metaEntry(wm0, wm1, last, ended0, ended1)); err != nil {
		return err
	}
	var kb, vb []byte
	for s := range 2 {
		st := &j.sides[s].st
		for i, v := range st.slots {
			if v == 0 {
				continue
			}
			r := st.record(i)
			vb = j.appendBucket(vb[:0], s, &r)
			kb = j.stateKey(kb[:0], s, r.key)
			if err := w.Put(uint8(s+1), kb, vb); err != nil {
				return err
			}
		}
	}
	return nil
}

// metaEntry is the meta entry's value.
func (j *joinOp) metaEntry(wm0, wm1, last int64, ended0, ended1 bool) []byte {
	meta := appendMeta(nil, j.signature())
	meta = binary.AppendVarint(meta, wm0)
	meta = binary.AppendVarint(meta, wm1)
	meta = binary.AppendVarint(meta, last)
	meta = appendBool(meta, ended0)
	return appendBool(meta, ended1)
}

// appendBucket appends the state entry value of the rows of side s under record r.
func (j *joinOp) appendBucket(vb []byte, s int, r *jsRecord) []byte {
	st := &j.sides[s].st
	kv := j.keyVals(r.key)
	n := 0
	for it := st.iter(r); it.next(); {
		n++
	}
	vb = append(vb, stateVersion)
	vb = binary.AppendUvarint(vb, uint64(n))
	for it := st.iter(r); it.next(); {
		vb = appendRowBinary(vb, j.rowVals(s, it.row(), kv, 0))
		vb = binary.AppendUvarint(vb, uint64(it.count()))
		vb = binary.AppendVarint(vb, int64(it.assoc()))
		vb = binary.AppendVarint(vb, it.touched())
	}
	return vb
}

func (j *joinOp) RestoreState(r state.Reader) error {
	op := j.signature()
	if j.cfg.Batch {
		return fmt.Errorf("restore %s: %w", op, errBatchSnapshot)
	}
	err := restoreLoop(r, op, j.signature(), func(d *stateDec) {
		j.wm[0], j.wm[1], j.lastWM = d.varint(), d.varint(), d.varint()
		j.sides[0].ended, j.sides[1].ended = d.bool(), d.bool()
	}, func(ns uint8, key, value []byte) error {
		if ns < 1 || ns > 4 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		// 1, 2: a join key's rows of a side; 3, 4: those of one time (a scale-out changelog, join_keyed.go).
		s, perTime := int(ns-1)%2, ns > 2
		dup, k, err := j.loadBucket(s, key, value, perTime)
		if dup {
			return corrupt(op, "key %x appears twice", key)
		}
		if err != nil {
			return entryError(op, ns, key, err)
		}
		if !perTime {
			j.noteLegacy(s, key, k)
		}
		return nil
	})
	if err == nil && j.cfg.Interval != nil && !j.fullPrune {
		j.rebuildExpiry() // derived state: not in the checkpoint
	}
	return err
}

// loadBucket stores the rows of one state entry of side s and returns their internal key; dup reports that
// its key is in state already. perTime: the entry holds the rows of one time of the key (join_keyed.go), and
// other entries hold its other rows.
func (j *joinOp) loadBucket(s int, key, value []byte, perTime bool) (dup bool, ik []byte, err error) {
	d, err := newStateDec(value)
	if err != nil {
		return false, nil, err
	}
	sd := &j.sides[s]
	n := d.count()
	loaded := 0
	var sk []byte
	for range n {
		vals := d.row()
		count := d.uvarint()
		assoc := d.varint()
		touched := d.varint()
		if d.err != nil {
			break
		}
		if len(vals) != sd.width || !keyColsFit(vals, sd.keys) {
			return false, nil, fmt.Errorf("a row has %d columns, the input has %d", len(vals), sd.width)
		}
		if count == 0 || count > 1<<40 {
			return false, nil, fmt.Errorf("a row has multiplicity %d", count)
		}
		k, hasKey, err := j.keyBytes(s, vals)
		if err != nil {
			return false, nil, err
		}
		sk = j.stateKey(sk[:0], s, k)
		if perTime {
			t := j.rowTime(s, vals)
			sk = joinTimeSuffix(sk, rowTimeKey{t: t.I, null: t.IsNull()})
		}
		if string(sk) != string(key) {
			return false, nil, fmt.Errorf("the key does not match the join key of its rows")
		}
		h := sd.st.hash(k)
		if _, found := sd.st.find(k, h); found && loaded == 0 && !perTime {
			return true, nil, nil
		}
		if err := j.store(s, k, h, j.rowKeyVals(s, vals, hasKey), vals, count, int(assoc), touched); err != nil {
			return false, nil, err
		}
		ik = append(ik[:0], k...)
		loaded++
	}
	if err := d.done(); err != nil {
		return false, nil, err
	}
	if loaded == 0 {
		return false, nil, fmt.Errorf("an empty bucket")
	}
	return false, ik, nil
}

// Temporal join state: namespace 1 holds the waiting left rows by left join key (NULL keys: the regular
// join's NULL-key bucket, nullJoinKey, where an exchange routes them; checkpoints written before used the
// empty key, temporal_state.go), each with its place in the waiting list (places are unique within a key:
// the subtasks behind an exchange number their own rows); namespace 2 the right side's versions by key:
//
//	ns 1: version, uvarint rows, each: uvarint place, row
//	ns 2: version, uvarint versions, each: varint time, deleted byte (0: a row follows), [row]
//
// and in the meta entry both inputs' watermarks, the emitted watermark and which inputs ended.

func (t *temporalJoin) signature() string {
	return fmt.Sprintf("TemporalJoin(leftKeys=%d, rightKeys=%d, leftWidth=%d, rightWidth=%d, outer=%t)",
		len(t.cfg.LeftKeys), len(t.cfg.RightKeys), len(t.cfg.LeftTypes), len(t.cfg.RightTypes), t.cfg.Outer)
}

func (t *temporalJoin) SnapshotState(w state.Writer) error {
	meta := appendMeta(nil, t.signature())
	meta = binary.AppendVarint(meta, t.wm[0])
	meta = binary.AppendVarint(meta, t.wm[1])
	meta = binary.AppendVarint(meta, t.lastWM)
	meta = appendBool(meta, t.ended[0])
	meta = appendBool(meta, t.ended[1])
	if err := w.Put(nsMeta, nil, meta); err != nil {
		return err
	}
	// Waiting left rows, grouped by key, with their places.
	byKey := map[string][]int{}
	var order []string
	for i, row := range t.pending {
		k, ok := t.key(row, t.cfg.LeftKeys, t.cfg.LeftTypes)
		if !ok {
			k = nullJoinKey
		}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], i)
	}
	var kb, vb []byte
	for _, k := range order {
		idx := byKey[k]
		vb = append(vb[:0], stateVersion)
		vb = binary.AppendUvarint(vb, uint64(len(idx)))
		for _, i := range idx {
			vb = binary.AppendUvarint(vb, uint64(i))
			vb = appendRowBinary(vb, t.pending[i])
		}
		kb = append(kb[:0], k...)
		if err := w.Put(1, kb, vb); err != nil {
			return err
		}
	}
	for k, vs := range t.versions {
		vb = append(vb[:0], stateVersion)
		vb = binary.AppendUvarint(vb, uint64(len(vs)))
		for _, v := range vs {
			vb = binary.AppendVarint(vb, v.time)
			vb = appendBool(vb, v.row == nil)
			if v.row != nil {
				vb = appendRowBinary(vb, v.row)
			}
		}
		kb = append(kb[:0], k...)
		if err := w.Put(2, kb, vb); err != nil {
			return err
		}
	}
	return nil
}

func (t *temporalJoin) RestoreState(r state.Reader) error {
	op := t.signature()
	type placed struct {
		at  uint64
		key string
		row []types.Value
	}
	var waiting []placed
	seenLeft := map[string]bool{}
	err := restoreLoop(r, op, t.signature(), func(d *stateDec) {
		t.wm[0], t.wm[1], t.lastWM = d.varint(), d.varint(), d.varint()
		t.ended[0], t.ended[1] = d.bool(), d.bool()
	}, func(ns uint8, key, value []byte) error {
		d, err := newStateDec(value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		bad := func(format string, args ...any) error { return entryError(op, ns, key, fmt.Errorf(format, args...)) }
		switch ns {
		case 1:
			if seenLeft[string(key)] {
				return corrupt(op, "key %x appears twice", key)
			}
			seenLeft[string(key)] = true
			n := d.count()
			for range n {
				at := d.uvarint()
				row := d.row()
				if d.err != nil {
					break
				}
				if len(row) != len(t.cfg.LeftTypes) || t.cfg.LeftTime >= len(row) || !keyColsFit(row, t.cfg.LeftKeys) {
					return bad("a left row has %d columns, the input has %d", len(row), len(t.cfg.LeftTypes))
				}
				if k, ok := t.key(row, t.cfg.LeftKeys, t.cfg.LeftTypes); k != string(key) && (ok || !isTemporalNullKey(key)) {
					return bad("the key does not match the join key of its rows")
				}
				waiting = append(waiting, placed{at: at, key: string(key), row: row})
			}
		case 2:
			if _, dup := t.versions[string(key)]; dup {
				return corrupt(op, "key %x appears twice", key)
			}
			n := d.count()
			vs := make([]version, 0, n)
			for range n {
				v := version{time: d.varint()}
				if !d.bool() {
					v.row = d.row()
					if d.err == nil && (len(v.row) != len(t.cfg.RightTypes) || !keyColsFit(v.row, t.cfg.RightKeys)) {
						return bad("a version has %d columns, the input has %d", len(v.row), len(t.cfg.RightTypes))
					}
				}
				if d.err == nil && len(vs) > 0 && vs[len(vs)-1].time > v.time {
					return bad("versions out of time order")
				}
				vs = append(vs, v)
			}
			if err := d.done(); err != nil {
				return entryError(op, ns, key, err)
			}
			t.versions[string(key)] = vs
			return nil
		default:
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		if err := d.done(); err != nil {
			return entryError(op, ns, key, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(waiting, func(a, b int) bool {
		return waiting[a].at < waiting[b].at || waiting[a].at == waiting[b].at && waiting[a].key < waiting[b].key
	})
	for i := 1; i < len(waiting); i++ {
		if waiting[i].at == waiting[i-1].at && waiting[i].key == waiting[i-1].key {
			return corrupt(op, "two waiting left rows of key %x share place %d", waiting[i].key, waiting[i].at)
		}
	}
	t.pending = t.pending[:0]
	for _, p := range waiting {
		t.pending = append(t.pending, p.row)
	}
	return nil
}

// writeFinalState writes, once a batch join has ended, both buffered inputs in the streaming join's
// encoding (with each row's number of matching rows on the other side, and fresh watermarks), so that a
// streaming join of the same query restored from it continues as if it had read the batch input itself
// (batch → streaming savepoints).
func (j *joinOp) writeFinalState(w state.Writer) error {
	for s := range 2 {
		st := &j.sides[s].st
		for i, v := range st.slots {
			if v != 0 {
				r := st.record(i)
				for it := st.iter(&r); it.next(); {
					it.setAssoc(0)
				}
			}
		}
	}
	left, right := &j.sides[0].st, &j.sides[1].st
	for i, v := range left.slots {
		if v == 0 {
			continue
		}
		lr := left.record(i)
		if j.isNullKey(lr.key) {
			continue
		}
		ri, ok := right.find(lr.key, right.hash(lr.key))
		if !ok {
			continue
		}
		rr := right.record(ri)
		kv := j.keyVals(lr.key)
		for l := left.iter(&lr); l.next(); {
			lvals := j.rowVals(0, l.row(), kv, 0)
			for r := right.iter(&rr); r.next(); {
				ok, err := j.matches(0, lvals, j.rowVals(1, r.row(), kv, 1))
				if err != nil {
					return err
				}
				if ok {
					l.setAssoc(l.assoc() + r.count())
					r.setAssoc(r.assoc() + l.count())
				}
			}
		}
	}
	return j.snapshotTo(w, minWatermark, minWatermark, minWatermark, false, false)
}
