package exec

// The DISTINCT sets of compact groups (issue 14, Nexmark q16). A group holds one set per DISTINCT family;
// with many groups their headers span more memory than the caches, and a row reads one per family. A
// sharedDistinct is ~300 bytes (a distinctSet of every mode, multiplicities, a flush's buffers), most of
// which an insert-only set of small integer ids (the sets' bitmask mode in narrow mode: q15, q16) never
// uses. compactSet keeps that case in 48 bytes — the narrow table, its size, its keys' high half and first
// byte — and moves to a full sharedDistinct (wide) for good when the set leaves narrow mode (another high
// half, a string argument, a mask bit past the 32nd) or keeps multiplicities (an input that retracts).
//
// The narrow operations are distinctSet's own, on a distinctSet made from the header (view) and written
// back (keep): the same table, the same slot positions, so the values and their order (each, snapshots)
// are those of the sharedDistinct the groups kept before.

type compactSet struct {
	narrow []narrowSlot
	n      int32 // values in narrow
	hi     uint32
	prefix byte
	wide   *sharedDistinct // the set, once it is not in narrow mask mode (nil before)
}

// view returns the narrow set as a distinctSet.
func (cs *compactSet) view() distinctSet {
	return distinctSet{n: int(cs.n), prefix: cs.prefix, narrowOK: true, narrow: cs.narrow, hi: cs.hi}
}

// keep writes back view d of the set if d is still in narrow mode and reports whether it did.
func (cs *compactSet) keep(d *distinctSet) bool {
	if d.bytes || len(d.fixed) > 0 || d.n > 1<<31-1 {
		return false
	}
	cs.narrow, cs.n, cs.hi, cs.prefix = d.narrow, int32(d.n), d.hi, d.prefix
	return true
}

// widen moves the set into a sharedDistinct of nv variants (mask: bitmask mode) whose table is d (the view
// after its last change; taken by value, so that the caller's view stays on its stack) and returns it.
func (cs *compactSet) widen(d distinctSet, nv int, mask bool) *sharedDistinct {
	sd := newSharedDistinct(nv, mask)
	if mask {
		sd.idx = d
		sd.idx.each(func(_ []byte, c int64) {
			for ; c != 0; c &= c - 1 {
				sd.nkeys[bitsTrailing(c)]++
			}
		})
	}
	*cs = compactSet{wide: sd}
	return sd
}

// or adds argument encoding key to the variants bits (of nv) in mask mode and returns those that did not
// hold it.
func (cs *compactSet) or(key []byte, bits int64, nv int) int64 {
	if sd := cs.wide; sd != nil {
		sd.flush()
		nb := bits &^ sd.idx.orBits(key, bits)
		for m := nb; m != 0; m &= m - 1 {
			sd.nkeys[bitsTrailing(m)]++
		}
		return nb
	}
	d := cs.view()
	nb := bits &^ d.orBits(key, bits)
	if !cs.keep(&d) {
		cs.widen(d, nv, true) // counts every value's bits, the new one's too
	}
	return nb
}

// shared returns the set as a sharedDistinct of nv variants (mask: bitmask mode), moving it to one first.
func (cs *compactSet) shared(nv int, mask bool) *sharedDistinct {
	if cs.wide != nil {
		return cs.wide
	}
	d := cs.view()
	return cs.widen(d, nv, mask)
}

// each calls fn with every value of variant v and its multiplicity.
func (cs *compactSet) each(v int, fn func(key []byte, n int64)) {
	if cs.wide != nil {
		cs.wide.each(v, fn)
		return
	}
	d := cs.view()
	d.each(func(key []byte, c int64) {
		if c>>v&1 != 0 {
			fn(key, 1)
		}
	})
}

// reset empties the set, keeping its tables.
func (cs *compactSet) reset() {
	if sd := cs.wide; sd != nil {
		sd.idx.reset()
		sd.counts, sd.free = sd.counts[:0], sd.free[:0]
		clear(sd.nkeys)
		sd.pending = 0
	}
	clear(cs.narrow)
	cs.n = 0
}
