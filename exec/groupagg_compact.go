package exec

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Compact group state. A streaming in-memory group aggregate whose keys are integer columns (TINYINT..BIGINT)
// and whose aggregates are COUNT, SUM, SUM0 and AVG over integer, floating-point or DECIMAL(p <= 18) numbers
// and, over an insert-only input, MIN and MAX of integers or DECIMAL(p <= 18) (no DISTINCT;
// groupagg_compact_decimal.go), and which has no state TTL, keeps its groups as fixed-size slots in one []int64 arena, found through a map from
// the key encoding (types.AppendKey) to the group's index: no pointer, accumulator object or Value per group,
// so the heap holds about the map entry, the key bytes and 8 bytes per slot, and the GC scans only the keys.
//
// A group's slots: the row count, then per aggregate — COUNT: n; SUM/SUM0/AVG: the count of non-NULL values
// and the sum (int64, or the bits of a float64); MIN/MAX: 1 once a value was seen, and the value. The last emitted results are not kept: they are the
// results of the slots before a row changes them (COUNT and SUM results are functions of the slots), and a
// row's key values are those of the group (two TagInt values with the same key encoding are identical).
//
// Snapshots write the entries of groupagg_state.go unchanged (built through a scratch group), so a checkpoint
// of either representation restores into the other. Operators that drive a groupAgg's groups themselves
// (mini-batch, two-phase, windows) keep the map of *group: compactOK is cleared for them.

// compactChunk is the number of groups per chunk of the slot arena.
const compactChunk = 4096

const (
	ckCount = iota
	ckSumInt
	ckSumFloat
	ckMin    // insert-only MIN of an integer (or DECIMAL, compactDec) column
	ckMax    // insert-only MAX of an integer (or DECIMAL, compactDec) column
	ckSumDec // SUM, SUM0, AVG of a DECIMAL(p <= 18) (groupagg_compact_decimal.go)
)

type compactGroups struct {
	stride int
	idx    distinctSet      // key encoding → group index + 1 (several key columns; pointer-free, distinct_set.go)
	idx1   map[uint64]int32 // one integer key column: its non-NULL encoding (8 bytes after the marker) → index
	null1  int32            // one key column: the index of the NULL key's group, or -1
	one    bool             // one integer key column: idx1 and null1 are used instead of idx
	chunks [][]int64        // compactChunk groups of stride slots each (no append slack, no big copies)
	n      int32            // groups allocated in chunks
	free   []int32          // indices of dropped groups
	kinds  []uint8          // per aggregate
	off    []int            // per aggregate: its first slot
	dec    []compactDec     // per aggregate: its DECIMAL layout (on false: integers, floats)
	hasDec bool             // a ckSumDec call: rows are checked for int64 overflow first
	old    []types.Value    // scratch: the results before a row
	// read-ahead of a block of rows' lookups (groupagg_warm.go): their keys back to back, the keys' ends,
	// their hashes, and a sum of what was read
	wkeys []byte
	woff  []int
	whash []uint32
	wsink uint64
	// warmSlots: the index size from which lookups read ahead (compactWarmSlots; tests and benchmarks change it)
	warmSlots int
	// blockGroups: the groups from which columnar pushes go by blocks (compactBlockGroups; tests change it)
	blockGroups int
	// x: the DISTINCT sets and MIN/MAX strings of the groups (groupagg_compact_distinct.go); nil without
	x *compactExtra
}

// compactEligible reports whether g's groups can live in a compactGroups.
func compactEligible(g *groupAgg) bool {
	cfg := g.cfg
	if cfg.Batch || cfg.Store != nil || cfg.TTL > 0 {
		return false
	}
	for _, t := range g.keyTypes {
		switch t.Kind {
		case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Char, types.VarChar:
		default:
			return false
		}
	}
	return compactSpecsFit(g) || compactExtraSpecsFit(g) // groupagg_compact_distinct.go
}

// compactSpecsFit reports whether every aggregate call of g fits compact int64 slots: COUNT, SUM, SUM0 and
// AVG of integers, floats or DECIMAL(p <= 18), MIN/MAX of one integer or DECIMAL(p <= 18) argument without
// retraction, no DISTINCT.
func compactSpecsFit(g *groupAgg) bool {
	for _, s := range g.specs {
		if s.distinct {
			return false
		}
		switch s.fn {
		case "COUNT":
		case "SUM", "SUM0", "AVG":
			if s.class != numInt && s.class != numFloat && !decimalSpecFits(s, true) {
				return false
			}
		case "MIN", "MAX":
			if s.retract || len(s.args) != 1 || !s.argType.IsIntegral() && !decimalSpecFits(s, false) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func newCompactGroups(g *groupAgg) *compactGroups {
	c := &compactGroups{stride: 1, old: make([]types.Value, g.width), null1: -1, warmSlots: compactWarmSlots, blockGroups: compactBlockGroups}
	if k := g.keyTypes; len(k) == 1 && k[0].Kind != types.Char && k[0].Kind != types.VarChar {
		c.one, c.idx1 = true, map[uint64]int32{}
	} else {
	}
	for _, s := range g.specs {
		c.off = append(c.off, c.stride)
		c.dec = append(c.dec, compactDec{})
		if k := compactExtraKind(s); k >= 0 {
			c.kinds = append(c.kinds, uint8(k))
			c.stride++
			continue
		}
		switch {
		case s.fn == "COUNT":
			c.kinds = append(c.kinds, ckCount)
			c.stride++
		case s.fn == "MIN" || s.fn == "MAX":
			k := uint8(ckMin)
			if s.fn == "MAX" {
				k = ckMax
			}
			if !s.argType.IsIntegral() {
				c.dec[len(c.dec)-1] = newCompactDec(s, false)
			}
			c.kinds = append(c.kinds, k)
			c.stride += 2
		case s.class == numDecimal:
			c.dec[len(c.dec)-1] = newCompactDec(s, true)
			c.kinds = append(c.kinds, ckSumDec)
			c.hasDec = true
			c.stride += 2
		case s.class == numInt:
			c.kinds = append(c.kinds, ckSumInt)
			c.stride += 2
		default:
			c.kinds = append(c.kinds, ckSumFloat)
			c.stride += 2
		}
	}
	c.setupExtra(g)
	return c
}

// lookup finds the group of key encoding key.
func (c *compactGroups) lookup(key []byte) (int32, bool) {
	if !c.one {
		i, ok := c.idx.get(key)
		return int32(i - 1), ok
	}
	if len(key) != 9 {
		return c.null1, c.null1 >= 0
	}
	i, ok := c.idx1[binary.BigEndian.Uint64(key[1:])]
	return i, ok
}

func (c *compactGroups) insert(key []byte, i int32) {
	switch {
	case !c.one:
		c.idx.add(key, int64(i)+1)
	case len(key) != 9:
		c.null1 = i
	default:
		c.idx1[binary.BigEndian.Uint64(key[1:])] = i
	}
}

func (c *compactGroups) remove(key []byte) {
	switch {
	case !c.one:
		c.idx.del(key)
	case len(key) != 9:
		c.null1 = -1
	default:
		delete(c.idx1, binary.BigEndian.Uint64(key[1:]))
	}
}

// alloc returns the index of a zeroed group.
func (c *compactGroups) alloc() int32 {
	if n := len(c.free); n > 0 {
		i := c.free[n-1]
		c.free = c.free[:n-1]
		return i
	}
	i := c.n
	if int(i)%compactChunk == 0 {
		c.chunks = append(c.chunks, make([]int64, compactChunk*c.stride))
	}
	c.n++
	if c.x != nil {
		c.allocExtra(i)
	}
	return i
}

func (c *compactGroups) release(i int32) {
	clear(c.group(i))
	if c.x != nil {
		c.releaseExtra(i)
	}
	c.free = append(c.free, i)
}

func (c *compactGroups) group(i int32) []int64 {
	return groupSlots(c.chunks, i, c.stride)
}

func groupSlots(chunks [][]int64, i int32, stride int) []int64 {
	o := int(i) % compactChunk * stride
	return chunks[int(i)/compactChunk][o : o+stride : o+stride]
}

// results writes the results of group slots s after the key columns of dst.
func (g *groupAgg) compactResults(s []int64, dst []types.Value) {
	c := g.compact
	for i, sp := range g.specs {
		o := c.off[i]
		switch c.kinds[i] {
		case ckCount:
			dst[g.nk+i] = types.IntValue(s[o])
			continue
		case ckMin, ckMax:
			switch {
			case s[o] == 0:
				dst[g.nk+i] = types.NullValue
			case c.dec[i].on:
				dst[g.nk+i] = types.DecimalValue(s[o+1], int(c.dec[i].argScale))
			default:
				dst[g.nk+i] = types.IntValue(s[o+1])
			}
			continue
		case ckSumDec:
			dst[g.nk+i] = decSumResult(sp, c.dec[i], s[o], s[o+1])
			continue
		case ckDistinct:
			dst[g.nk+i] = types.IntValue(s[o])
			continue
		case ckMinStr, ckMaxStr: // compactStrResults
			continue
		}
		cnt := s[o]
		if cnt == 0 {
			switch {
			case sp.fn != "SUM0":
				dst[g.nk+i] = types.NullValue
			case c.kinds[i] == ckSumFloat:
				dst[g.nk+i] = types.FloatValue(0)
			default:
				dst[g.nk+i] = types.IntValue(0)
			}
			continue
		}
		avg := sp.fn == "AVG"
		if c.kinds[i] == ckSumInt {
			v := s[o+1]
			if avg {
				v /= cnt
			}
			dst[g.nk+i] = types.IntValue(wrapInt(v, sp.resType.Kind))
			continue
		}
		f := math.Float64frombits(uint64(s[o+1]))
		if avg {
			f /= float64(cnt)
		}
		if sp.resType.Kind == types.Float {
			f = float64(float32(f))
		}
		dst[g.nk+i] = types.FloatValue(f)
	}
}

// compactAccumulate adds (sign 1) or retracts (sign -1) row into group slots s, as the accumulators do.
func (g *groupAgg) compactAccumulate(s []int64, row []types.Value, sign int64) {
	c := g.compact
	s[0] += sign
	for i, sp := range g.specs {
		if f := sp.filter; f >= 0 && !isTrue(row[f]) {
			continue
		}
		o := c.off[i]
		switch c.kinds[i] {
		case ckCount:
			counts := true
			for _, a := range sp.args {
				if row[a].T == types.TagNull {
					counts = false
					break
				}
			}
			if counts {
				s[o] += sign
			}
		case ckSumInt:
			v := row[sp.args[0]]
			if v.T == types.TagNull {
				continue
			}
			s[o] += sign
			s[o+1] += sign * asInt(v)
		case ckSumDec: // compactDecFits checked the row first
			v := row[sp.args[0]]
			if v.T == types.TagNull {
				continue
			}
			s[o] += sign
			s[o+1] += sign * v.I * c.dec[i].mul
		case ckMin, ckMax:
			v := row[sp.args[0]]
			switch {
			case v.T == types.TagNull:
			case s[o] == 0:
				s[o], s[o+1] = 1, v.I
			case c.kinds[i] == ckMin && v.I < s[o+1], c.kinds[i] == ckMax && v.I > s[o+1]:
				s[o+1] = v.I
			}
		case ckSumFloat:
			v := row[sp.args[0]]
			if v.T == types.TagNull {
				continue
			}
			s[o] += sign
			f := math.Float64frombits(uint64(s[o+1]))
			if sign > 0 {
				f += asFloat(v)
			} else {
				f -= asFloat(v)
			}
			if sp.resType.Kind == types.Float {
				f = float64(float32(f))
			}
			s[o+1] = int64(math.Float64bits(f))
		}
	}
}

// pushCompact is Push over compact groups: the contract of apply (groupagg.go) without per-group objects.
func (g *groupAgg) pushCompact(b *changelog.Batch) error {
	c := g.compact
	warm := c.warmable()
	for ri, r := range b.Rows {
		if !g.compactKeyOK(r.Vals, g.cfg.Keys) || !g.compactArgsOK(r.Vals) {
			// A key value that its encoding does not give back exactly: this operator goes on with the map of
			// *group from this row on.
			g.decompact()
			rest := changelog.Batch{Rows: b.Rows[ri:]}
			return g.Push(&rest)
		}
		sign := int64(1)
		if !r.Kind.IsAccumulate() {
			if g.cfg.InsertOnly {
				return fmt.Errorf("%w: %s", ErrRetractionInInsertOnlyInput, r.Kind)
			}
			sign = -1
		}
		var h uint32
		if warm {
			if k := ri % compactWarmRows; k == 0 {
				c.warmReset()
				for _, w := range b.Rows[ri:min(ri+compactWarmRows, len(b.Rows))] {
					c.wkeys = appendGroupKey(c.wkeys, w.Vals, g.cfg.Keys, g.keyTypes)
					c.warmAdded()
				}
				c.warmReads()
			}
			var key []byte
			key, h = c.warmKey(ri % compactWarmRows)
			g.keyBuf = append(g.keyBuf[:0], key...)
		} else {
			g.keyBuf = appendGroupKey(g.keyBuf[:0], r.Vals, g.cfg.Keys, g.keyTypes)
			h = c.hashOf(g.keyBuf)
		}
		gi, ok := c.lookupHashed(g.keyBuf, h)
		if c.hasDec {
			var s []int64
			if ok {
				s = c.group(gi)
			}
			if (ok || sign > 0) && !g.compactDecFits(s, r.Vals, sign) {
				// a decimal sum past int64: the objects add it exactly, from this row on
				g.decompact()
				rest := changelog.Batch{Rows: b.Rows[ri:]}
				return g.Push(&rest)
			}
		}
		if !ok {
			if sign < 0 {
				continue // retraction for a key without state (Flink drops it)
			}
			gi = c.alloc()
			c.insertHashed(g.keyBuf, h, gi)
		}
		s := c.group(gi)
		old := c.old
		for i, k := range g.cfg.Keys {
			old[i] = r.Vals[k]
		}
		if ok {
			g.compactResults(s, old)
			g.compactStrResults(gi, s, old)
		}
		g.compactAccumulate(s, r.Vals, sign)
		if c.x != nil {
			g.compactAccumulateExtra(gi, s, r.Vals, sign)
		}
		g.compactEmitChange(s, gi, ok)
	}
	return g.flush()
}

// compactEmitChange emits the change of compact group gi (its key encoding in g.keyBuf) whose accumulators s
// a row just moved: c.old holds the group's key and, when it existed before the row, its previous results.
// A group whose row count fell to zero is deleted; an unchanged result emits nothing.
func (g *groupAgg) compactEmitChange(s []int64, gi int32, existed bool) {
	c := g.compact
	old := c.old
	if s[0] <= 0 {
		if existed {
			g.emit(changelog.Delete, old)
		}
		c.remove(g.keyBuf)
		c.release(gi)
		return
	}
	next := g.scratch
	copy(next, old[:g.nk])
	g.compactResults(s, next)
	g.compactStrResults(gi, s, next)
	if !existed {
		g.emit(changelog.Insert, next)
		return
	}
	if valsEqual(old[g.nk:], next[g.nk:], g.specs) {
		return
	}
	if g.cfg.EmitUpdateBefore {
		g.emit(changelog.UpdateBefore, old)
	}
	g.emit(changelog.UpdateAfter, next)
}

// compactKeyOK reports whether row's key values are exactly what their key encoding decodes to (integers as
// TagInt, CHAR/VARCHAR as TagString, or NULL), so that compact groups, which keep only the encoding, emit
// and snapshot them unchanged.
func (g *groupAgg) compactKeyOK(row []types.Value, cols []int) bool {
	for i, k := range cols {
		v := row[k]
		if v.T == types.TagNull {
			continue
		}
		if v.N != 0 || v.X != nil {
			return false
		}
		switch g.keyTypes[i].Kind {
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

// compactArgsOK reports whether row's MIN/MAX arguments are plain integers (TagInt and nothing else) or NULL,
// and its DECIMAL arguments int64-backed decimals of their column's scale or NULL, which the compact slots
// keep exactly.
func (g *groupAgg) compactArgsOK(row []types.Value) bool {
	c := g.compact
	for i, sp := range g.specs {
		k := c.kinds[i]
		if k != ckMin && k != ckMax && k != ckSumDec && k != ckMinStr && k != ckMaxStr {
			continue
		}
		v := row[sp.args[0]]
		if v.T == types.TagNull {
			continue
		}
		if k == ckMinStr || k == ckMaxStr {
			if !plainStr(v) {
				return false
			}
			continue
		}
		if d := c.dec[i]; d.on && !plainDec(v, d.argScale) || !d.on && !plainInt(v) {
			return false
		}
	}
	return true
}

// compactAccsOK reports whether a restored group's MIN/MAX values are plain integers or decimals of their
// column's scale (or absent), and its decimal sums fit their slots.
func (g *groupAgg) compactAccsOK(st *group) bool {
	c := g.compact
	for i, a := range st.accs {
		d := c.dec[i]
		switch a := a.(type) {
		case *minMaxAcc:
			if k := c.kinds[i]; k == ckMinStr || k == ckMaxStr {
				continue // extraAccsOK
			}
			if a.has && (d.on && !plainDec(a.v, d.argScale) || !d.on && !plainInt(a.v)) {
				return false
			}
		case *sumAcc:
			if _, ok := decSumFromAcc(a, d); c.kinds[i] == ckSumDec && !ok {
				return false
			}
		}
	}
	return c.extraAccsOK(st)
}

func plainInt(v types.Value) bool { return v.T == types.TagInt && v.N == 0 && v.X == nil && v.S == "" }

// decompact moves the compact groups into the map of *group and drops the compact table.
func (g *groupAgg) decompact() {
	keys, index := g.listCompact()
	c := g.compact
	for j, k := range keys {
		st := g.newGroup()
		st.epoch = g.snap.epoch // an asynchronous snapshot under way has its own copy of the cut
		if err := g.compactToGroup(st, []byte(k), c.group(index[j]), index[j]); err != nil {
			continue // cannot happen: the keys were encoded by this operator
		}
		g.groups[k] = st
	}
	g.compact = nil
}

// newScratchGroup returns a group that belongs to no operator state (for encoding compact groups).
func (g *groupAgg) newScratchGroup() *group {
	st := &group{accs: make([]accumulator, len(g.specs)), prev: make([]types.Value, g.width)}
	for i, s := range g.specs {
		st.accs[i] = s.newAcc()
	}
	return st
}

// compactToGroup fills scratch group st from key encoding key and group slots s (of group gi, whose side
// state compactExtra holds).
func (g *groupAgg) compactToGroup(st *group, key []byte, s []int64, gi int32) error {
	c := g.compact
	for i, t := range g.keyTypes {
		switch {
		case len(key) >= 1 && key[0] == keyNullByte:
			st.prev[i] = types.NullValue
			key = key[1:]
		case t.Kind == types.Char || t.Kind == types.VarChar:
			v, n, ok := decodeKeyString(key[1:])
			if !ok {
				return fmt.Errorf("group aggregate: a compact group key does not decode")
			}
			st.prev[i] = types.StringValue(v)
			key = key[1+n:]
		case len(key) >= 9:
			st.prev[i] = types.IntValue(int64(binary.BigEndian.Uint64(key[1:9]) ^ (1 << 63)))
			key = key[9:]
		default:
			return fmt.Errorf("group aggregate: a compact group key is too short")
		}
	}
	c.slotsToGroup(st, s, true)
	c.extrasToGroup(st, gi, s)
	g.compactResults(s, st.prev)
	g.compactStrResults(gi, s, st.prev)
	return nil
}

// slotsToGroup sets the count and accumulators of st from slots s. With emptySumUnknown, a SUM whose slots
// saw no value gets an undecided class, as a sum that never saw a value.
func (c *compactGroups) slotsToGroup(st *group, s []int64, emptySumUnknown bool) {
	st.count = s[0]
	for i, a := range st.accs {
		o := c.off[i]
		switch a := a.(type) {
		case *countAcc:
			a.n = s[o]
		case *sumAcc:
			a.reset()
			if emptySumUnknown && s[o] == 0 && s[o+1] == 0 {
				a.class = numUnknown
			}
			a.cnt = s[o]
			switch c.kinds[i] {
			case ckSumInt:
				a.i = s[o+1]
			case ckSumDec:
				if s[o] != 0 || s[o+1] != 0 {
					a.d = types.DecimalValue(s[o+1], int(c.dec[i].sumScale))
				}
			default:
				a.f = math.Float64frombits(uint64(s[o+1]))
			}
		case *minMaxAcc:
			if k := c.kinds[i]; k == ckMinStr || k == ckMaxStr {
				continue // extrasToGroup
			}
			a.has, a.v = s[o] != 0, types.Value{}
			switch {
			case a.has && c.dec[i].on:
				a.v = types.DecimalValue(s[o+1], int(c.dec[i].argScale))
			case a.has:
				a.v = types.IntValue(s[o+1])
			}
		}
	}
}

// decodeKeyString decodes a string that types.AppendKey escaped (NUL as 00 FF, ended by 00 01) and returns
// it with the bytes it took.
func decodeKeyString(b []byte) (string, int, bool) {
	var out []byte
	for i := 0; i+1 < len(b); i++ {
		if b[i] != 0 {
			continue
		}
		switch b[i+1] {
		case 0x01:
			if out == nil {
				return string(b[:i]), i + 2, true
			}
			return string(append(out, b[:i]...)), i + 2, true
		case 0xFF:
			out = append(append(out, b[:i]...), 0)
			b = b[i+2:]
			n, m, ok := decodeKeyString(b)
			if !ok {
				return "", 0, false
			}
			return string(out) + n, i + 2 + m, true
		default:
			return "", 0, false
		}
	}
	return "", 0, false
}

// compactFromGroup writes a restored group into new slots of key key.
func (g *groupAgg) compactFromGroup(key []byte, st *group) {
	c := g.compact
	gi := c.alloc()
	c.slotsFromGroup(c.group(gi), st)
	c.extrasFromGroup(gi, c.group(gi), st)
	c.insert(key, gi)
}

// slotsFromGroup writes the count and accumulators of group st into slots s.
func (c *compactGroups) slotsFromGroup(s []int64, st *group) {
	s[0] = st.count
	for i, a := range st.accs {
		o := c.off[i]
		switch a := a.(type) {
		case *countAcc:
			s[o] = a.n
		case *sumAcc:
			s[o] = a.cnt
			switch c.kinds[i] {
			case ckSumInt:
				s[o+1] = a.i
			case ckSumDec:
				s[o+1], _ = decSumFromAcc(a, c.dec[i]) // compactAccsOK checked it
			default:
				s[o+1] = int64(math.Float64bits(a.f))
			}
		case *minMaxAcc:
			if k := c.kinds[i]; k == ckMinStr || k == ckMaxStr {
				continue // extrasFromGroup
			}
			if a.has {
				s[o], s[o+1] = 1, a.v.I
			}
		}
	}
}

// snapshotCompact writes the groups listed in keys/index with slots arena (a copy, for async snapshots).
func (g *groupAgg) snapshotCompact(w state.Writer, keys []string, index []int32, chunks [][]int64) error {
	if err := w.Put(nsMeta, nil, appendMeta(nil, g.signature("GroupAggregate"))); err != nil {
		return err
	}
	st := g.newScratchGroup()
	stride := g.compact.stride
	var kb, vb []byte
	for j, k := range keys {
		kb = append(kb[:0], k...)
		if err := g.compactToGroup(st, kb, groupSlots(chunks, index[j], stride), index[j]); err != nil {
			return err
		}
		vb = g.appendGroupState(vb[:0], st)
		if err := w.Put(0, kb, vb); err != nil {
			return err
		}
	}
	return nil
}

// list lists the compact groups' key encodings and indices.
func (c *compactGroups) list(keyType types.Type) ([]string, []int32) {
	if !c.one {
		keys := make([]string, 0, c.idx.len())
		index := make([]int32, 0, c.idx.len())
		c.idx.each(func(k []byte, i int64) {
			keys = append(keys, string(k))
			index = append(index, int32(i-1))
		})
		return keys, index
	}
	keys := make([]string, 0, len(c.idx1)+1)
	index := make([]int32, 0, len(c.idx1)+1)
	if c.null1 >= 0 {
		keys = append(keys, string(types.AppendKey(nil, types.NullValue, keyType)))
		index = append(index, c.null1)
	}
	var kb []byte
	for k, i := range c.idx1 {
		kb = types.AppendKey(kb[:0], types.IntValue(int64(k^(1<<63))), keyType)
		keys = append(keys, string(kb))
		index = append(index, i)
	}
	return keys, index
}

// listCompact lists g's compact groups.
func (g *groupAgg) listCompact() ([]string, []int32) {
	var t types.Type
	if g.nk == 1 {
		t = g.keyTypes[0]
	}
	return g.compact.list(t)
}

// snapshotAsyncCompact copies the arena and the key list under the job's lock; the writer encodes them later.
func (g *groupAgg) snapshotAsyncCompact() (func(w state.Writer) error, error) {
	s := &g.snap
	if s.active.Load() {
		return nil, fmt.Errorf("snapshot %s: the previous snapshot is still being written", g.opName())
	}
	if g.compact.x != nil {
		return g.snapshotNowExtra()
	}
	keys, index := g.listCompact()
	chunks := make([][]int64, len(g.compact.chunks))
	for i, ch := range g.compact.chunks {
		chunks[i] = append([]int64(nil), ch...)
	}
	s.active.Store(true)
	return func(w state.Writer) error {
		defer s.active.Store(false)
		return g.snapshotCompact(w, keys, index, chunks)
	}, nil
}

// restoreCompact loads the entries a SnapshotState wrote into compact groups.
func (g *groupAgg) restoreCompact(r state.Reader) error {
	op := g.opName()
	return restoreLoop(r, op, g.signature("GroupAggregate"), nil, func(ns uint8, key, value []byte) error {
		if ns != 0 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		if g.compact != nil {
			if _, dup := g.compact.lookup(key); dup {
				return corrupt(op, "key %x appears twice", key)
			}
		} else if _, dup := g.groups[string(key)]; dup {
			return corrupt(op, "key %x appears twice", key)
		}
		st, err := g.loadGroupState(key, value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		if g.compact != nil && (!g.compactKeyOK(st.prev, g.keyIdx) || !g.compactAccsOK(st)) {
			g.decompact()
		}
		if g.compact == nil {
			g.groups[string(key)] = st
			return nil
		}
		g.compactFromGroup(key, st)
		g.recycle(st)
		return nil
	})
}
