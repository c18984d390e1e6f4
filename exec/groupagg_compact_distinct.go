package exec

import (
	"math/bits"
	"strings"

	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Compact groups with COUNT(DISTINCT x) and insert-only MIN/MAX of strings (issue 14; Nexmark q15, q16):
// a streaming group aggregate (not a window: window slices keep compactSpecsFit's calls) whose calls are
// those of compactSpecsFit or these keeps its groups in the slot arena too, with two side tables indexed by
// group like the slots:
//
//   - the DISTINCT sets: the COUNT(DISTINCT x) calls that read the same column of the same type (under any
//     FILTER) form a family sharing one set per group (compactSet, groupagg_compact_set.go), each call a
//     variant, as shareDistinct does for map groups; a call's slot holds its distinct count, its result;
//   - the MIN/MAX strings: a call's slot is 1 once a value was seen, the value is in the group's strings.
//
// The sets' tables hold no pointers (distinct_set.go), so the GC scans only the set headers and
// the strings, and a row touches the group's slots (one or two cache lines), its families' headers and
// their tables: no accumulator object, no previous results (recomputed from the slots before the row).
// Snapshots still write groupagg_state.go's entries (the sets as each DISTINCT call's view, built through
// a scratch group), so checkpoints of map groups and of compact groups restore into each other. An
// asynchronous snapshot of such groups encodes its entries under the job's lock (the sets are not copied).

const (
	ckDistinct = iota + 32 // COUNT(DISTINCT x) of one argument column
	ckMinStr               // insert-only MIN of a CHAR/VARCHAR column
	ckMaxStr               // insert-only MAX of a CHAR/VARCHAR column
)

// compactExtra is the side state of compact groups with DISTINCT or string MIN/MAX calls.
type compactExtra struct {
	calls   []int          // the calls of these kinds
	fam     []int          // per call: its DISTINCT family, or -1
	variant []int          // per call: its variant in the family
	famNV   []int          // per family: its variants
	famCall [][]int        // per family: its calls, by variant
	strCall []int          // the string MIN/MAX calls
	mask    bool           // insert-only input: families keep bitmasks (distinct_shared.go)
	fams    [][]compactSet // per block of compactExtraBlock groups: the groups' sets, by family
	str     []int          // per call: its index among the group's strings, or -1
	nstr    int
	strs    [][]string
	dkey    []byte
	blk     compactBlock // pushCompactBlocks' scratch (groupagg_compact_block.go)
}

// compactExtraSpecsFit reports whether every call of g fits compact slots once DISTINCT COUNTs of one
// argument and insert-only MIN/MAX of CHAR/VARCHAR columns are allowed.
func compactExtraSpecsFit(g *groupAgg) bool {
	for _, s := range g.specs {
		if compactExtraKind(s) >= 0 {
			continue
		}
		if s.distinct {
			return false
		}
		one := &groupAgg{specs: []*aggSpec{s}}
		if !compactSpecsFit(one) || s.class == numDecimal || (s.fn == "MIN" || s.fn == "MAX") && !s.argType.IsIntegral() {
			return false // DECIMAL calls would send the columnar batches through rows (compactArgColsFit)
		}
	}
	return true
}

// compactExtraKind is s's kind when s is one of this file's calls, else -1.
func compactExtraKind(s *aggSpec) int {
	switch {
	case s.distinct && s.fn == "COUNT" && len(s.args) == 1:
		return ckDistinct
	case s.distinct:
		return -1
	case (s.fn == "MIN" || s.fn == "MAX") && !s.retract && len(s.args) == 1 &&
		(s.argType.Kind == types.VarChar || s.argType.Kind == types.Char):
		if s.fn == "MIN" {
			return ckMinStr
		}
		return ckMaxStr
	}
	return -1
}

// setupExtra lays out the side state of c's calls of this file's kinds (c.kinds set by newCompactGroups).
func (c *compactGroups) setupExtra(g *groupAgg) {
	x := &compactExtra{mask: !g.cfg.Batch && g.cfg.InsertOnly}
	for i, s := range g.specs {
		x.fam = append(x.fam, -1)
		x.variant = append(x.variant, 0)
		x.str = append(x.str, -1)
		switch c.kinds[i] {
		case ckDistinct:
			x.calls = append(x.calls, i)
			for j := range i {
				if x.fam[j] < 0 || c.kinds[j] != ckDistinct || !sameCompactDistinctArg(s, g.specs[j]) {
					continue
				}
				if f := x.fam[j]; x.famNV[f] < sdMaxMaskVariants { // variants are bits of an int64
					x.fam[i], x.variant[i] = f, x.famNV[f]
					x.famNV[f]++
					break
				}
			}
			if x.fam[i] < 0 {
				x.fam[i] = len(x.famNV)
				x.famNV = append(x.famNV, 1)
				x.famCall = append(x.famCall, nil)
			}
			x.famCall[x.fam[i]] = append(x.famCall[x.fam[i]], i)
		case ckMinStr, ckMaxStr:
			x.calls = append(x.calls, i)
			x.str[i] = x.nstr
			x.nstr++
			x.strCall = append(x.strCall, i)
		}
	}
	if len(x.calls) > 0 {
		c.x = x
	}
}

func sameCompactDistinctArg(a, b *aggSpec) bool {
	return a.args[0] == b.args[0] && a.argType.Equal(b.argType)
}

// compactExtraBlock is the number of groups per block of the side tables. A block is allocated whole when
// its first group is (a set header is 48 bytes: a block of 256 groups is 12 KiB per argument column), so
// that the tables never grow by copying (growing a chunk's table one group at a time cost q16 ~5 % of its
// CPU in copies of the headers).
const compactExtraBlock = 256

// allocExtra makes room for new group i's side state.
func (c *compactGroups) allocExtra(i int32) {
	x := c.x
	b := int(i) / compactExtraBlock
	for len(x.fams) <= b {
		x.fams = append(x.fams, nil)
		x.strs = append(x.strs, nil)
	}
	if x.fams[b] == nil && len(x.famNV) > 0 {
		x.fams[b] = make([]compactSet, compactExtraBlock*len(x.famNV))
	}
	if x.strs[b] == nil && x.nstr > 0 {
		x.strs[b] = make([]string, compactExtraBlock*x.nstr)
	}
}

// famAt returns group i's set of family f (groupagg_compact_set.go).
func (x *compactExtra) famAt(i int32, f int) *compactSet {
	return &x.fams[int(i)/compactExtraBlock][int(i)%compactExtraBlock*len(x.famNV)+f]
}

// shared returns group i's set of family f as a sharedDistinct (multiplicities, retractions).
func (x *compactExtra) shared(i int32, f int) *sharedDistinct {
	return x.famAt(i, f).shared(x.famNV[f], x.mask)
}

// strings returns group i's MIN/MAX strings.
func (c *compactGroups) groupStrs(i int32) []string {
	x := c.x
	o := int(i) % compactExtraBlock * x.nstr
	return x.strs[int(i)/compactExtraBlock][o : o+x.nstr : o+x.nstr]
}

// releaseExtra empties group i's side state (its tables are kept for the group that reuses the index).
func (c *compactGroups) releaseExtra(i int32) {
	for f := range c.x.famNV {
		c.x.famAt(i, f).reset()
	}
	clear(c.groupStrs(i))
}

// compactStrResults writes the results of group i's MIN/MAX strings into dst (after compactResults).
func (g *groupAgg) compactStrResults(i int32, s []int64, dst []types.Value) {
	c := g.compact
	if c.x == nil || c.x.nstr == 0 {
		return
	}
	strs := c.groupStrs(i)
	for _, j := range c.x.calls {
		if k := c.x.str[j]; k >= 0 {
			if s[c.off[j]] == 0 {
				dst[g.nk+j] = types.NullValue
			} else {
				dst[g.nk+j] = types.StringValue(strs[k])
			}
		}
	}
}

// changeDistinct adds (sign 1) or retracts (sign -1) argument encoding key in call j of group i, whose
// count is slot cnt.
func (c *compactGroups) changeDistinct(i int32, j int, key []byte, sign int64, cnt *int64) {
	x := c.x
	sd := x.shared(i, x.fam[j])
	if sign > 0 {
		if sd.add(key, x.variant[j], 1) {
			*cnt++
		}
	} else if sd.sub(key, x.variant[j]) == 0 {
		*cnt--
	}
}

// putStr offers string v (not NULL) to MIN/MAX call j of group i (slots s); it is cloned when kept.
func (c *compactGroups) putStr(i int32, j int, s []int64, v string) {
	o, strs := c.off[j], c.groupStrs(i)
	k := c.x.str[j]
	switch {
	case s[o] == 0:
		s[o] = 1
	case c.kinds[j] == ckMinStr && v < strs[k], c.kinds[j] == ckMaxStr && v > strs[k]:
	default:
		return
	}
	strs[k] = strings.Clone(v)
}

// orFamily adds one occurrence of argument encoding key to the variants bits of family f of group i (slots
// s) in mask mode: one probe for all of them, and each variant that did not hold key counts it.
func (c *compactGroups) orFamily(i int32, f int, key []byte, bits int64, s []int64) {
	c.countNew(s, f, c.orFamilyNew(i, f, key, bits))
}

// orFamilyNew is orFamily without the slots: it returns the variants of bits that did not hold key.
func (c *compactGroups) orFamilyNew(i int32, f int, key []byte, bits int64) int64 {
	return c.x.famAt(i, f).or(key, bits, c.x.famNV[f])
}

// countNew adds one to the DISTINCT counts in slots s of family f's variants in nb (those whose set took a
// new value).
func (c *compactGroups) countNew(s []int64, f int, nb int64) {
	for ; nb != 0; nb &= nb - 1 {
		s[c.off[c.x.famCall[f][bitsTrailing(nb)]]]++
	}
}

// compactAccumulateExtra is compactAccumulate of row's DISTINCT and string MIN/MAX calls in group i.
func (g *groupAgg) compactAccumulateExtra(i int32, s []int64, row []types.Value, sign int64) {
	c := g.compact
	x := c.x
	for f, calls := range x.famCall {
		sp := g.specs[calls[0]]
		v := row[sp.args[0]]
		if v.T == types.TagNull {
			continue
		}
		var bits int64
		for k, j := range calls {
			if fc := g.specs[j].filter; fc < 0 || isTrue(row[fc]) {
				bits |= 1 << k
			}
		}
		if bits == 0 {
			continue
		}
		x.dkey = types.AppendKey(x.dkey[:0], v, sp.argType)
		c.changeFamily(i, f, bits, sign, s)
	}
	for _, j := range x.strCall {
		sp := g.specs[j]
		if fc := sp.filter; fc >= 0 && !isTrue(row[fc]) {
			continue
		}
		if v := row[sp.args[0]]; v.T != types.TagNull {
			c.putStr(i, j, s, v.S) // compactArgsOK: a plain string
		}
	}
}

// changeFamily adds (sign 1) or retracts (sign -1) the argument encoding in x.dkey in the variants bits of
// family f of group i (slots s).
func (c *compactGroups) changeFamily(i int32, f int, bits, sign int64, s []int64) {
	x := c.x
	if x.mask && sign > 0 {
		c.orFamily(i, f, x.dkey, bits, s)
		return
	}
	for ; bits != 0; bits &= bits - 1 {
		c.changeDistinct(i, x.famCall[f][bitsTrailing(bits)], x.dkey, sign, &s[c.off[x.famCall[f][bitsTrailing(bits)]]])
	}
}

// compactAccumulateColumnsExtra is compactAccumulateExtra of physical row r of the bound batch.
func (g *groupAgg) compactAccumulateColumnsExtra(i int32, s []int64, r int, sign int64) {
	c := g.compact
	x := c.x
	for f, calls := range x.famCall {
		bits := g.familyBits(calls, r)
		if bits == 0 {
			continue
		}
		col := g.cols[calls[0]].args[0]
		x.dkey = types.AppendKey(x.dkey[:0], keyValue(col, r), g.specs[calls[0]].argType)
		c.changeFamily(i, f, bits, sign, s)
	}
	g.compactStrColumns(i, s, r)
}

// familyBits returns the variants of a family (its calls) that physical row r of the bound batch goes to:
// those whose FILTER holds, none when the argument is NULL.
func (g *groupAgg) familyBits(calls []int, r int) int64 {
	if g.cols[calls[0]].args[0].Nulls.Get(r) {
		return 0
	}
	var bits int64
	for k, j := range calls {
		if fc := g.cols[j].filter; fc == nil || colTrue(fc, r) {
			bits |= 1 << k
		}
	}
	return bits
}

// plainStr reports whether v is a string value with nothing but its text.
func plainStr(v types.Value) bool {
	return v.T == types.TagString && v.N == 0 && v.I == 0 && v.X == nil
}

// strColFits reports whether col holds plain strings (a string MIN/MAX call's column).
func strColFits(col *vec.Col) bool { return col.Kind == vec.Bytes && col.Tag == types.TagString }

// extrasToGroup sets st's DISTINCT and string MIN/MAX accumulators from group i (slots s). st's DISTINCT
// accumulators are emptied first.
func (c *compactGroups) extrasToGroup(st *group, i int32, s []int64) {
	if c.x == nil {
		return
	}
	for _, j := range c.x.calls {
		switch a := st.accs[j].(type) {
		case *distinctAcc:
			a.reset()
			if a.sh != nil {
				a.sh.flush()
			} else {
				// a new table: the entry lists the values in an order that depends on them only, not on the
				// groups the scratch group held before (the sizes its table grew to)
				a.seen = distinctSet{narrowOK: true}
			}
			c.x.famAt(i, c.x.fam[j]).each(c.x.variant[j], func(key []byte, n int64) {
				if a.sh != nil {
					a.sh.add(key, a.v, n)
				} else {
					a.seen.add(key, n)
				}
			})
			a.inner.(*countAcc).n = s[c.off[j]]
		case *minMaxAcc:
			a.has, a.v = s[c.off[j]] != 0, types.Value{}
			if a.has {
				a.v = types.StringValue(c.groupStrs(i)[c.x.str[j]])
			}
		}
	}
}

// extrasFromGroup writes st's DISTINCT and string MIN/MAX accumulators into the empty group i (slots s).
func (c *compactGroups) extrasFromGroup(i int32, s []int64, st *group) {
	if c.x == nil {
		return
	}
	for _, j := range c.x.calls {
		switch a := st.accs[j].(type) {
		case *distinctAcc:
			f, v := c.x.fam[j], c.x.variant[j]
			put := func(key []byte, n int64) { c.x.shared(i, f).add(key, v, n) }
			if c.x.mask {
				cs, nv := c.x.famAt(i, f), c.x.famNV[f]
				put = func(key []byte, _ int64) { cs.or(key, 1<<v, nv) } // sharedDistinct.add in mask mode
			}
			if a.sh != nil {
				a.sh.each(a.v, put)
			} else {
				a.seen.each(put)
			}
			s[c.off[j]] = a.inner.(*countAcc).n
		case *minMaxAcc:
			if a.has {
				s[c.off[j]] = 1
				c.groupStrs(i)[c.x.str[j]] = a.v.S
			}
		}
	}
}

// extraAccsOK reports whether a restored group's string MIN/MAX values are plain strings.
func (c *compactGroups) extraAccsOK(st *group) bool {
	if c.x == nil {
		return true
	}
	for _, j := range c.x.calls {
		if a, ok := st.accs[j].(*minMaxAcc); ok && a.has && !plainStr(a.v) {
			return false
		}
	}
	return true
}

// snapshotNowExtra is snapshotAsyncCompact of groups with side state: the entries are encoded now, under
// the job's lock, and the returned writer only writes them.
func (g *groupAgg) snapshotNowExtra() (func(w state.Writer) error, error) {
	var buf entryBuffer
	keys, index := g.listCompact()
	if err := g.snapshotCompact(&buf, keys, index, g.compact.chunks); err != nil {
		return nil, err
	}
	return func(w state.Writer) error {
		for _, e := range buf.entries {
			if err := w.Put(e.ns, e.key, e.value); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// entryBuffer is a state.Writer that keeps copies of the entries.
type entryBuffer struct {
	entries []bufferedEntry
}

type bufferedEntry struct {
	ns         uint8
	key, value []byte
}

func (b *entryBuffer) Put(ns uint8, key, value []byte) error {
	b.entries = append(b.entries, bufferedEntry{ns, append([]byte(nil), key...), append([]byte(nil), value...)})
	return nil
}

func bitsTrailing(b int64) int { return bits.TrailingZeros64(uint64(b)) }
