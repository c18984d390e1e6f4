package exec

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// Compact slice state. A slice-shared window aggregate whose key columns other than window_start and
// window_end are integers (TINYINT..BIGINT) or CHAR/VARCHAR and whose calls are COUNT, SUM, SUM0 and AVG of
// integers, floating-point numbers or DECIMAL(p <= 18) and MIN and MAX of integers or DECIMAL(p <= 18) (the
// calls of compact group state, groupagg_compact.go; a decimal sum past int64 moves to objects) keeps each slice as a pointer-free table: the encoding of the group's key without the
// window columns (types.AppendKey) → group number (distinctSet), and the groups' slots in []int64 chunks
// laid out as compactGroups lays them out. A slice's window columns are a function of the slice (its end and
// end - slice size), so they are not stored. No Go object, string or accumulator per (slice, key), and
// firing a window merges slots into a scratch table and sorts its keys by their encoding (fixed-width
// integer keys as uint64s), which is the order of the full group key's encoding that the object path sorts
// by (the window columns are the same for every group of a window, and key encodings are prefix-free).
//
// A row whose key or MIN/MAX argument the slots cannot keep exactly (compactKeyOK, compactArgsOK) moves the
// operator to the object path (window_slice.go) for good (decompact). Snapshots write the object path's
// entries (window_slice_state.go), built through scratch groups; a restore loads the object path and moves
// into compact slices when every group fits.

// cslice is one open slice's groups.
type cslice struct {
	idx    distinctSet // key encoding without the window columns → group number + 1
	chunks [][]int64   // compactChunk groups per chunk; the last one grows
	n      int32
	ord    []ordKey // the keys in order when ordN == n (window_slice_hop.go)
	ordN   int32
}

func (s *cslice) alloc(stride int) int32 {
	i := s.n
	c := int(i) / compactChunk
	if c == len(s.chunks) {
		s.chunks = append(s.chunks, make([]int64, 0, 64*stride))
	}
	s.chunks[c] = append(s.chunks[c], make([]int64, stride)...)
	s.n++
	return i
}

func (s *cslice) group(i int32, stride int) []int64 {
	o := int(i) % compactChunk * stride
	return s.chunks[int(i)/compactChunk][o : o+stride : o+stride]
}

// find returns the group of key, creating it.
func (s *cslice) find(key []byte, stride int) int32 {
	if i, ok := s.idx.get(key); ok {
		return int32(i - 1)
	}
	i := s.alloc(stride)
	s.idx.add(key, int64(i)+1)
	return i
}

func (s *cslice) reset() {
	s.idx.reset()
	for i := range s.chunks {
		s.chunks[i] = s.chunks[i][:0]
	}
	s.n = 0
	s.ord, s.ordN = s.ord[:0], 0
}

type sliceCompact struct {
	lay    *compactGroups // layout of the slots (stride, kinds, off); the prototype's compact
	part   []int          // indices in cfg.Keys of the key columns other than the window's
	slices map[int64]*cslice
	pool   []*cslice
	merged cslice // a HOP window's groups while it fires
	fixOrd []fixedOrd
	byOrd  []bytesOrd

	// fireHopCompact's scratch (window_slice_hop.go)
	cursors []hopCursor
	scratch []int64
	at      []int
	tmp     []ordKey
}

type fixedOrd struct {
	key uint64
	i   int32
}

type bytesOrd struct {
	key []byte
	i   int32
}

// sliceCompactEligible reports whether w's slices can be compact.
func sliceCompactEligible(w *sliceWindowAgg) bool {
	g := w.proto
	if g.cfg.Store != nil {
		return false
	}
	for i, t := range g.keyTypes {
		if i == w.startKey || i == w.endKey {
			continue
		}
		switch t.Kind {
		case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Char, types.VarChar:
		default:
			return false
		}
	}
	return compactSpecsFit(g)
}

func newSliceCompact(w *sliceWindowAgg) *sliceCompact {
	c := &sliceCompact{lay: newCompactGroups(w.proto), slices: map[int64]*cslice{}}
	c.lay.one = false
	for i := range w.proto.keyTypes {
		if i != w.startKey && i != w.endKey {
			c.part = append(c.part, i)
		}
	}
	w.proto.compact = c.lay // compactAccumulate, compactResults, compactArgsOK read the layout
	return c
}

// cslice returns the compact slice ending at end, creating it.
func (w *sliceWindowAgg) cslice(end int64) *cslice {
	c := w.c
	if s := c.slices[end]; s != nil {
		return s
	}
	var s *cslice
	if n := len(c.pool); n > 0 {
		s = c.pool[n-1]
		c.pool = c.pool[:n-1]
	} else {
		s = &cslice{}
	}
	c.slices[end] = s
	w.next = min(w.next, end+w.firstEndOffset(end))
	return s
}

func (w *sliceWindowAgg) dropCslice(end int64) {
	c := w.c
	s := c.slices[end]
	delete(c.slices, end)
	if s == nil {
		return
	}
	s.reset()
	if len(c.pool) < 4 {
		c.pool = append(c.pool, s)
	}
}

// partKeyOK reports whether row's key columns other than the window's are exactly what their encoding
// decodes to (see compactKeyOK).
func (w *sliceWindowAgg) partKeyOK(row []types.Value, keyIdx []int) bool {
	for _, i := range w.c.part {
		v := row[keyIdx[i]]
		if v.T == types.TagNull {
			continue
		}
		if v.N != 0 || v.X != nil {
			return false
		}
		switch w.proto.keyTypes[i].Kind {
		case types.Char, types.VarChar:
			if v.T != types.TagString || v.I != 0 {
				return false
			}
		default:
			if v.T != types.TagInt || v.S != "" {
				return false
			}
		}
	}
	return true
}

// appendPart appends the encoding of row's key columns other than the window's.
func (w *sliceWindowAgg) appendPart(dst []byte, row []types.Value, keyIdx []int) []byte {
	for _, i := range w.c.part {
		dst = types.AppendKey(dst, row[keyIdx[i]], w.proto.keyTypes[i])
	}
	return dst
}

// pushCompact is Push over compact slices.
func (w *sliceWindowAgg) pushCompact(b *changelog.Batch) error {
	col := w.cfg.Keys[w.endKey]
	p := w.proto
	stride := w.c.lay.stride
	var cur *cslice
	curEnd := int64(0)
	for ri, r := range b.Rows {
		if r.Kind.IsRetract() {
			return errSliceRetract(r.Kind)
		}
		end := r.Vals[col]
		if end.IsNull() {
			continue
		}
		if !w.partKeyOK(r.Vals, w.cfg.Keys) || !p.compactArgsOK(r.Vals) {
			w.decompact()
			rest := changelog.Batch{Rows: b.Rows[ri:]}
			return w.Push(&rest)
		}
		if cur == nil || end.I != curEnd {
			if le := w.spec.lastWindowEnd(end.I) - 1; le <= w.fired || w.belowFloor(le) {
				w.Late++
				cur = nil
				continue
			}
			cur, curEnd = w.cslice(w.mergeTarget(end.I)), end.I
		}
		w.keyBuf = w.appendPart(w.keyBuf[:0], r.Vals, w.cfg.Keys)
		if w.c.lay.hasDec {
			var s []int64
			if i, ok := cur.idx.get(w.keyBuf); ok {
				s = cur.group(int32(i-1), stride)
			}
			if !p.compactDecFits(s, r.Vals, 1) {
				// a decimal sum past int64: the objects add it exactly, from this row on
				w.decompact()
				rest := changelog.Batch{Rows: b.Rows[ri:]}
				return w.Push(&rest)
			}
		}
		gi := cur.find(w.keyBuf, stride)
		p.compactAccumulate(cur.group(gi, stride), r.Vals, 1)
	}
	return nil
}

// mergeSlots adds the slots src into dst, as mergingAcc.mergeFrom does for the accumulators.
func (c *sliceCompact) mergeSlots(dst, src []int64, g *groupAgg) {
	dst[0] += src[0]
	for i, k := range c.lay.kinds {
		o := c.lay.off[i]
		switch k {
		case ckCount:
			dst[o] += src[o]
		case ckSumInt, ckSumDec: // decimal sums: mergeFits checked them
			dst[o] += src[o]
			dst[o+1] += src[o+1]
		case ckSumFloat:
			dst[o] += src[o]
			f := math.Float64frombits(uint64(dst[o+1])) + math.Float64frombits(uint64(src[o+1]))
			if g.specs[i].resType.Kind == types.Float {
				f = float64(float32(f))
			}
			dst[o+1] = int64(math.Float64bits(f))
		case ckMin, ckMax:
			if src[o] == 0 {
				continue
			}
			if dst[o] == 0 || k == ckMin && src[o+1] < dst[o+1] || k == ckMax && src[o+1] > dst[o+1] {
				dst[o], dst[o+1] = 1, src[o+1]
			}
		}
	}
}

// mergeFits reports whether merging src into dst keeps every decimal sum within int64.
func (w *sliceWindowAgg) mergeFits(dst, src *cslice) bool {
	c := w.c
	if !c.lay.hasDec {
		return true
	}
	stride := c.lay.stride
	ok := true
	src.idx.each(func(key []byte, i int64) {
		if di, found := dst.idx.get(key); ok && found {
			ok = c.lay.mergeDecFits(dst.group(int32(di-1), stride), src.group(int32(i-1), stride))
		}
	})
	return ok
}

// mergeInto merges every group of src into dst.
func (w *sliceWindowAgg) mergeInto(dst, src *cslice) {
	c := w.c
	stride := c.lay.stride
	src.idx.each(func(key []byte, i int64) {
		di := dst.find(key, stride)
		c.mergeSlots(dst.group(di, stride), src.group(int32(i-1), stride), w.proto)
	})
}

// fireWindowCompact is fireWindow over compact slices.
func (w *sliceWindowAgg) fireWindowCompact(start, end int64) error {
	if w.spec.Kind == Cumulate || w.spec.Kind == Tumble {
		return w.fireCumulateCompact(start, end) // TUMBLE: the window's only slice emits as it is
	}
	if done, err := w.fireHopCompact(start, end); done || err != nil {
		return err
	}
	return w.fireMergedCompact(start, end)
}

// fireMergedCompact is fireMerged over compact slices.
func (w *sliceWindowAgg) fireMergedCompact(start, end int64) error {
	m := &w.c.merged
	m.reset()
	step := w.spec.sliceSize()
	for se := start + step; se <= end; se += step {
		if sl := w.c.slices[se]; sl != nil {
			if !w.mergeFits(m, sl) {
				// the window's decimal sums pass int64: its slices (unchanged) merge as objects
				w.decompact()
				return w.fireMerged(start, end)
			}
			w.mergeInto(m, sl)
		}
	}
	return w.emitCompact(m, start, end)
}

// fireCumulateCompact is fireCumulate over compact slices.
func (w *sliceWindowAgg) fireCumulateCompact(start, end int64) error {
	first := start + w.spec.Slide
	fs := w.c.slices[first]
	// the slice ending at end, and any earlier one a restore left unmerged (fireCumulate)
	for se := first + w.spec.Slide; se <= end; se += w.spec.Slide {
		sl := w.c.slices[se]
		if sl == nil {
			continue
		}
		if fs != nil && !w.mergeFits(fs, sl) {
			// the period's decimal sums pass int64: the slices (unchanged) merge as objects
			w.decompact()
			return w.fireWindow(start, end)
		}
		if fs == nil {
			fs = w.cslice(first)
		}
		w.mergeInto(fs, sl)
		w.dropCslice(se)
	}
	if fs == nil {
		return nil
	}
	return w.emitCompact(fs, start, end)
}

// decodePart writes the key columns other than the window's, decoded from key, into row.
func (w *sliceWindowAgg) decodePart(row []types.Value, key []byte) bool {
	for _, i := range w.c.part {
		switch {
		case len(key) >= 1 && key[0] == keyNullByte:
			row[i] = types.NullValue
			key = key[1:]
		case w.proto.keyTypes[i].Kind == types.Char || w.proto.keyTypes[i].Kind == types.VarChar:
			if len(key) < 1 {
				return false
			}
			v, n, ok := decodeKeyString(key[1:])
			if !ok {
				return false
			}
			row[i] = types.StringValue(v)
			key = key[1+n:]
		case len(key) >= 9:
			row[i] = types.IntValue(int64(binary.BigEndian.Uint64(key[1:9]) ^ (1 << 63)))
			key = key[9:]
		default:
			return false
		}
	}
	return len(key) == 0
}

// emitCompact emits the results of the groups of s as the window [start, end), in key order.
func (w *sliceWindowAgg) emitCompact(s *cslice, start, end int64) error {
	c := w.c
	stride := c.lay.stride
	w.emitBegin(int(s.n))
	sv, ev := types.TimestampValue(start, 0), types.TimestampValue(end, 0)
	var err error
	if !s.idx.bytes {
		c.fixOrd = c.fixOrd[:0]
		for _, sl := range s.idx.fixed {
			if sl.cnt != 0 {
				c.fixOrd = append(c.fixOrd, fixedOrd{sl.key, int32(sl.cnt - 1)})
			}
		}
		slices.SortFunc(c.fixOrd, func(a, b fixedOrd) int {
			switch {
			case a.key < b.key:
				return -1
			case a.key > b.key:
				return 1
			}
			return 0
		})
		var kb [9]byte
		kb[0] = s.idx.prefix
		for _, o := range c.fixOrd {
			binary.BigEndian.PutUint64(kb[1:], o.key)
			if err = w.emitRow(kb[:], s.group(o.i, stride), sv, ev); err != nil {
				return err
			}
		}
	} else {
		c.byOrd = c.byOrd[:0]
		for _, sl := range s.idx.slots {
			if sl.cnt != 0 {
				c.byOrd = append(c.byOrd, bytesOrd{s.idx.arena[sl.off : sl.off+uint64(sl.klen)], int32(sl.cnt - 1)})
			}
		}
		slices.SortFunc(c.byOrd, func(a, b bytesOrd) int { return bytes.Compare(a.key, b.key) })
		for _, o := range c.byOrd {
			if err = w.emitRow(o.key, s.group(o.i, stride), sv, ev); err != nil {
				break
			}
		}
		clear(c.byOrd)
	}
	if err != nil {
		return err
	}
	return w.emitFlush()
}

// emitBegin starts the results of a window of about n groups.
func (w *sliceWindowAgg) emitBegin(n int) {
	w.ob.Reset()
	w.arena = w.arena[:0]
	need := min(n, sliceEmitRows) * w.proto.width
	if cap(w.arena) < need {
		w.arena = make([]types.Value, 0, need)
	}
}

// emitRow appends the result of the compact group s of key encoding key (without the window columns) of
// the window [sv, ev), pushing the rows when sliceEmitRows are pending.
func (w *sliceWindowAgg) emitRow(key []byte, s []int64, sv, ev types.Value) error {
	p := w.proto
	at := len(w.arena)
	w.arena = w.arena[:at+p.width]
	r := w.arena[at : at+p.width : at+p.width]
	w.decodePart(r, key)
	r[w.startKey], r[w.endKey] = sv, ev
	p.compactResults(s, r)
	w.ob.Append(changelog.Insert, r)
	if len(w.ob.Rows) < sliceEmitRows {
		return nil
	}
	// a large window goes out in batches of sliceEmitRows rows (the arena stays small)
	err := w.out.Push(&w.ob)
	w.ob.Reset()
	w.arena = w.arena[:0]
	return err
}

// emitFlush pushes the pending rows of a window.
func (w *sliceWindowAgg) emitFlush() error {
	if len(w.ob.Rows) == 0 {
		return nil
	}
	return w.out.Push(&w.ob)
}

// sliceEmitRows is the most rows a compact window's results push at once (a variable for tests).
var sliceEmitRows = 1024

// toGroup fills group st (of the prototype) from compact group slots s of the slice ending at end.
func (w *sliceWindowAgg) toGroup(st *group, end int64, key []byte, s []int64) {
	p := w.proto
	w.decodePart(st.prev, key)
	st.prev[w.startKey] = types.TimestampValue(end-w.spec.sliceSize(), 0)
	st.prev[w.endKey] = types.TimestampValue(end, 0)
	w.c.lay.slotsToGroup(st, s, false)
	p.compactResults(s, st.prev)
}

// fromGroup writes the accumulators of group st into slots s.
func (w *sliceWindowAgg) fromGroup(s []int64, st *group) { w.c.lay.slotsFromGroup(s, st) }

// eachCompact calls fn with every compact group: its slice's end, key encoding without the window columns
// (valid during the call) and slots.
func (w *sliceWindowAgg) eachCompact(fn func(end int64, key []byte, s []int64)) {
	stride := w.c.lay.stride
	for end, sl := range w.c.slices {
		sl.idx.each(func(key []byte, i int64) { fn(end, key, sl.group(int32(i-1), stride)) })
	}
}

// decompact moves the compact slices into the object path's slices for good.
func (w *sliceWindowAgg) decompact() {
	if w.c == nil {
		return
	}
	p := w.proto
	w.eachCompact(func(end int64, key []byte, s []int64) {
		st := p.newGroup()
		w.toGroup(st, end, key, s)
		w.keyBuf = appendGroupKey(w.keyBuf[:0], st.prev, p.keyIdx, p.keyTypes)
		w.slice(end).groups[string(w.keyBuf)] = st
	})
	w.c = nil
	p.compact = nil
}

// recompact moves the object path's slices into compact slices when every group fits them (after a
// restore); it reports whether it did.
func (w *sliceWindowAgg) recompact() bool {
	if !sliceCompactEligible(w) {
		return false
	}
	c := newSliceCompact(w)
	w.c = c
	ss := w.sliceSize()
	for end, sl := range w.slices {
		for _, st := range sl.groups {
			if !w.partKeyOK(st.prev, w.proto.keyIdx) || !w.proto.compactAccsOK(st) ||
				!identical(st.prev[w.startKey], types.TimestampValue(end-ss, 0)) ||
				!identical(st.prev[w.endKey], types.TimestampValue(end, 0)) {
				w.c = nil
				w.proto.compact = nil
				return false
			}
		}
	}
	for end, sl := range w.slices {
		cs := w.cslice(end)
		for _, st := range sl.groups {
			w.keyBuf = w.appendPart(w.keyBuf[:0], st.prev, w.proto.keyIdx)
			gi := cs.find(w.keyBuf, c.lay.stride)
			w.fromGroup(cs.group(gi, c.lay.stride), st)
			w.proto.recycle(st)
		}
		delete(w.slices, end)
	}
	return true
}

func (w *sliceWindowAgg) sliceSize() int64 { return w.spec.sliceSize() }
