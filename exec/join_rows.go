package exec

import (
	"github.com/sluicesql/sluice/types"
)

// Storing and removing rows of a join side (join_store.go holds them; join_rec.go encodes them).

// store adds count instances of row to side s under key (hash h; kv: the key's values, nil when rows under
// it are whole), and sets the row's match count and write time. Rows whose key has a NULL go under the NULL
// key (they never match, but outer joins must still emit them).
func (j *joinOp) store(s int, key []byte, h uint64, kv []types.Value, row []types.Value, count uint64, assoc int, touched int64) error {
	sd := &j.sides[s]
	st := &sd.st
	body := j.encodeRow(s, row, kv == nil, true)
	if st.appendOnly {
		return j.storeNew(s, key, h, kv, body, count, assoc, touched, j.rowTime(s, row))
	}
	id := j.ident(s, row, body)
	slot, found := st.find(key, h)
	if !found {
		j.entry = st.appendHead(j.entry[:0], count, assoc, touched, len(body))
		if n := len(j.entry) + len(body); n > jsSmallBytes {
			bb := newBigBucket(n, false)
			if err := bb.add(uint32(st.hash(id)), j.entry, body); err != nil {
				return err
			}
			st.insertKey(h, key, st.newBig(bb))
			return nil
		}
		st.insertKey(h, key, uint64(len(j.entry)+len(body))<<1, j.entry, body)
		return nil
	}
	r := st.record(slot)
	if bb := r.big(st); bb != nil {
		h32 := uint32(st.hash(id))
		ref := bb.find(h32, func(ref int) bool {
			b, off := bb.entry(ref)
			x := st.parseEntry(b, off)
			return j.sameRow(s, b[x.body:x.end], id, kv)
		})
		if ref < 0 {
			j.entry = st.appendHead(j.entry[:0], count, assoc, touched, len(body))
			return bb.add(h32, j.entry, body)
		}
		b, off := bb.entry(ref)
		x := st.parseEntry(b, off)
		if putUvarintWidth(b[x.e:x.fix], x.count+count) {
			st.setAssoc(b, &x, assoc)
			st.setTouched(b, &x, touched)
			return nil
		}
		j.entry = st.appendEntry(j.entry[:0], x.count+count, assoc, touched, b[x.body:x.end])
		bb.kill(h32, ref, &x)
		if err := bb.add(h32, j.entry, nil); err != nil {
			return err
		}
		bb.compact(st, func(b []byte) uint32 { return j.bodyHash(s, b, kv) })
		return nil
	}
	rows := 0
	for p := 0; p < len(r.body); rows++ {
		x := st.parseEntry(r.body, p)
		p = x.end
		if !j.sameRow(s, r.body[x.body:x.end], id, kv) {
			continue
		}
		if putUvarintWidth(r.body[x.e:x.fix], x.count+count) {
			st.setAssoc(r.body, &x, assoc)
			st.setTouched(r.body, &x, touched)
			return nil
		}
		j.entry = st.appendEntry(j.entry[:0], x.count+count, assoc, touched, r.body[x.body:x.end])
		size := len(r.body) - (x.end - x.e) + len(j.entry)
		st.replace(slot, r.size, r.key, uint64(size)<<1, r.body[:x.e], j.entry, r.body[x.end:])
		return nil
	}
	j.entry = st.appendHead(j.entry[:0], count, assoc, touched, len(body))
	n := len(j.entry) + len(body)
	if rows+1 <= jsSmallRows && len(r.body)+n <= jsSmallBytes {
		st.replace(slot, r.size, r.key, uint64(len(r.body)+n)<<1, r.body, j.entry, body)
		return nil
	}
	// The key outgrows its record: its rows move to a bigBucket.
	bb := newBigBucket(len(r.body)+n, false)
	for p := 0; p < len(r.body); {
		x := st.parseEntry(r.body, p)
		p = x.end
		if err := bb.add(j.bodyHash(s, r.body[x.body:x.end], kv), r.body[x.e:x.end], nil); err != nil {
			return err
		}
	}
	if err := bb.add(uint32(st.hash(id)), j.entry, body); err != nil {
		return err
	}
	st.replace(slot, r.size, r.key, st.newBig(bb))
	return nil
}

// storeNew adds body (encodeRow's) to an append-only side s (join_store.go) as a new entry: no lookup of
// an equal row, and a key with many rows appends to a bigBucket without an index. Arguments as for store.
// tm: the row's time on an interval join's side (rowTime).
func (j *joinOp) storeNew(s int, key []byte, h uint64, kv []types.Value, body []byte, count uint64, assoc int, touched int64, tm types.Value) error {
	st := &j.sides[s].st
	j.entry = st.appendHead(j.entry[:0], count, assoc, touched, len(body))
	n := len(j.entry) + len(body)
	slot, found := st.find(key, h)
	if !found {
		if n > jsSmallBytes {
			bb := j.newFlatBucket(n)
			if err := j.addTimed(bb, body, tm); err != nil {
				return err
			}
			st.insertKey(h, key, st.newBig(bb))
			return nil
		}
		st.insertKey(h, key, uint64(n)<<1, j.entry, body)
		return nil
	}
	r := st.record(slot)
	if bb := r.big(st); bb != nil {
		return j.addTimed(bb, body, tm)
	}
	rows := 0
	for p := 0; p < len(r.body); rows++ {
		p = st.parseEntry(r.body, p).end
	}
	if rows+1 <= jsSmallRows && len(r.body)+n <= jsSmallBytes {
		st.replace(slot, r.size, r.key, uint64(len(r.body)+n)<<1, r.body, j.entry, body)
		return nil
	}
	// The key outgrows its record: its rows move to a bigBucket.
	bb := j.newFlatBucket(len(r.body) + n)
	if err := bb.add(0, r.body, nil); err != nil {
		return err
	}
	bb.rows += rows - 1 // add counted r.body as one entry
	if bb.timed {
		for p := 0; p < len(r.body); {
			x := st.parseEntry(r.body, p)
			p = x.end
			if t := j.rowTime(s, j.rowVals(s, r.body[x.body:x.end], kv, 2)); !t.IsNull() {
				bb.widen(t.I, t.I)
			}
		}
	}
	if err := j.addTimed(bb, body, tm); err != nil {
		return err
	}
	st.replace(slot, r.size, r.key, st.newBig(bb))
	return nil
}

// newFlatBucket returns the bigBucket of a key of an append-only side that outgrows its record (n bytes),
// keeping time bounds per chunk on an interval join's side.
func (j *joinOp) newFlatBucket(n int) *bigBucket {
	bb := newBigBucket(n, true)
	if j.cfg.Interval != nil && !j.fullPrune {
		bb.setTimed()
	}
	return bb
}

// addTimed appends the entry j.entry then body to the flat bucket bb, and the row's time tm to bb's bounds
// when bb is timed.
func (j *joinOp) addTimed(bb *bigBucket, body []byte, tm types.Value) error {
	if err := bb.add(0, j.entry, body); err != nil {
		return err
	}
	if bb.timed && !tm.IsNull() {
		bb.widen(tm.I, tm.I)
	}
	return nil
}

// remove takes one instance of row out of side s's state under key (hash h; kv as for store); it returns
// the stored body (valid for rowVals: removed bytes stay in place) and whether the row was there.
func (j *joinOp) remove(s int, key []byte, h uint64, kv []types.Value, row []types.Value) ([]byte, bool) {
	sd := &j.sides[s]
	st := &sd.st
	slot, found := st.find(key, h)
	if !found {
		return nil, false
	}
	body := j.encodeRow(s, row, kv == nil, false)
	id := j.ident(s, row, body)
	r := st.record(slot)
	if bb := r.big(st); bb != nil {
		var h32 uint32
		ref := -1
		if bb.flat {
			for it := st.iter(&r); it.next(); {
				if j.sameRow(s, it.row(), id, kv) {
					ref = it.ref()
					break
				}
			}
		} else {
			h32 = uint32(st.hash(id))
			ref = bb.find(h32, func(ref int) bool {
				b, off := bb.entry(ref)
				x := st.parseEntry(b, off)
				return j.sameRow(s, b[x.body:x.end], id, kv)
			})
		}
		if ref < 0 {
			return nil, false
		}
		data, off := bb.entry(ref)
		x := st.parseEntry(data, off)
		if x.count > 1 {
			putUvarintWidth(data[x.e:x.fix], x.count-1)
			st.setTouched(data, &x, j.ttl.now)
			return data[x.body:x.end], true
		}
		bb.kill(h32, ref, &x)
		if bb.rows == 0 {
			st.deleteSlot(slot)
		} else {
			bb.compact(st, func(b []byte) uint32 { return j.bodyHash(s, b, kv) })
		}
		return data[x.body:x.end], true
	}
	for p := 0; p < len(r.body); {
		x := st.parseEntry(r.body, p)
		p = x.end
		if !j.sameRow(s, r.body[x.body:x.end], id, kv) {
			continue
		}
		if x.count > 1 {
			putUvarintWidth(r.body[x.e:x.fix], x.count-1)
			st.setTouched(r.body, &x, j.ttl.now)
		} else if x.e == 0 && x.end == len(r.body) {
			st.deleteSlot(slot)
		} else {
			size := len(r.body) - (x.end - x.e)
			st.replace(slot, r.size, r.key, uint64(size)<<1, r.body[:x.e], r.body[x.end:])
		}
		return r.body[x.body:x.end], true
	}
	return nil, false
}

// filterBucket keeps the rows of the key at slot of side s for which keep is true (keep may emit) and
// reports whether none is left; the caller then deletes the slot (full scans do so after their scan). kv:
// the key's values (nil when rows are whole).
func (j *joinOp) filterBucket(s, slot int, kv []types.Value, keep func(it *jsIter) bool) (empty bool) {
	st := &j.sides[s].st
	r := st.record(slot)
	it := &j.filterIt // keep takes a pointer: a local iterator would be allocated per key
	if bb := r.big(st); bb != nil {
		for *it = st.iter(&r); it.next(); {
			if !keep(it) {
				var h uint32
				if !bb.flat {
					h = j.bodyHash(s, it.row(), kv)
				}
				bb.kill(h, it.ref(), &it.x)
			}
		}
		if bb.rows == 0 {
			return true
		}
		bb.compact(st, func(b []byte) uint32 { return j.bodyHash(s, b, kv) })
		return false
	}
	b := j.entry[:0]
	dropped := false
	for *it = st.iter(&r); it.next(); {
		if keep(it) {
			b = append(b, it.b[it.x.e:it.x.end]...)
		} else {
			dropped = true
		}
	}
	j.entry = b
	if !dropped {
		return false
	}
	if len(b) == 0 {
		return true
	}
	st.replace(slot, r.size, r.key, uint64(len(b))<<1, b)
	return false
}

// dropExpired removes the expired rows of side s's bucket at key (hash h), and the key when none is left.
func (j *joinOp) dropExpired(s int, key []byte, h uint64, kv []types.Value) {
	st := &j.sides[s].st
	slot, ok := st.find(key, h)
	if !ok {
		return
	}
	if j.filterBucket(s, slot, kv, func(it *jsIter) bool { return !j.ttl.expired(it.touched()) }) {
		st.deleteSlot(slot)
	}
}
