package exec

import (
	"encoding/binary"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Block-wise DISTINCT updates of compact groups (issue 14, Nexmark q16). Over a columnar insert-only input
// (the sets' bitmask mode: nothing retracts, no group is ever deleted) with many groups, a row's DISTINCT
// work is a chain of cache misses — the family's set header, then the set's slot — each waiting for the one
// before it, for each argument column. pushCompactBlocks takes the rows a block of compactBlockRows at a
// time:
//
//  1. the rows' groups, in row order (a group is allocated by its first row);
//  2. the DISTINCT arguments' encodings and FILTER bits of each row and family, then one loop that reads
//     every (row, family)'s set header and every row's group slots (their first and last cache lines) and
//     MIN/MAX string headers, and one that reads the set slot each value hashes to and the bytes of the
//     kept strings: the loads of a loop do not depend on one another, so the processor overlaps their
//     misses (a prefetch: the values read are not used);
//  3. the set updates, in row order, each recording which variants took a new value;
//  4. in row order, as pushCompactColumns: the row's previous results from the slots, its slot updates
//     (the DISTINCT counts from step 3's bits), its change.
//
// A set's updates are the same operations in the same order as row by row (sets belong to one group, and
// step 3 runs in row order), and step 4 reads only the group's slots, which only step 4 changes, in row
// order: outputs and state are those of pushCompactColumns (TestCompactBlocksMatchRows).

const (
	compactBlockRows   = 64   // rows per block
	compactBlockGroups = 1024 // groups from which pushes go by blocks (fewer stay in the caches)
)

// compactBlock is pushCompactBlocks' scratch, per block.
type compactBlock struct {
	gi   []int32 // per row: its group
	ok   []bool  // per row: its group existed before it
	bits []int64 // per row and family: the variants whose FILTER holds (0: none, or a NULL argument)
	koff []int32 // per row and family: the end of its argument's encoding in keys
	keys []byte
	newb []int64 // per row and family: the variants that took a new value
	sink uint64
}

// blockable reports whether a push over c goes by blocks.
func (c *compactGroups) blockable() bool {
	return c.x != nil && c.x.mask && len(c.x.famCall) > 0 && int(c.n) >= c.blockGroups
}

// pushCompactBlocks is pushCompactColumns by blocks of rows (blockable).
func (g *groupAgg) pushCompactBlocks(b *vec.Batch) error {
	c := g.compact
	x := c.x
	bl := &x.blk
	nf := len(x.famCall)
	n := b.Len()
	warm := c.warmable()
	for k0 := 0; k0 < n; k0 += compactBlockRows {
		k1 := min(k0+compactBlockRows, n)
		// 1. groups
		if warm {
			c.warmReset()
			for q := k0; q < k1; q++ {
				c.wkeys = g.appendColumnKey(c.wkeys, b, b.Row(q))
				c.warmAdded()
			}
			c.warmReads()
		}
		bl.gi, bl.ok = bl.gi[:0], bl.ok[:0]
		var rerr error
		for k := k0; k < k1; k++ {
			i := b.Row(k)
			if _, err := g.rowKind(b, i); err != nil {
				rerr, k1 = err, k // the rows before it are aggregated and emitted, as row by row
				break
			}
			var key []byte
			var h uint32
			if warm {
				key, h = c.warmKey(k - k0)
			} else {
				g.keyBuf = g.appendColumnKey(g.keyBuf[:0], b, i)
				key, h = g.keyBuf, c.hashOf(g.keyBuf)
			}
			gi, ok := c.lookupHashed(key, h)
			if !ok {
				gi = c.alloc()
				c.insertHashed(key, h, gi)
			}
			bl.gi, bl.ok = append(bl.gi, gi), append(bl.ok, ok)
		}
		// 2. arguments, then the read-ahead of headers and slots
		bl.bits, bl.koff, bl.keys = bl.bits[:0], bl.koff[:0], bl.keys[:0]
		for k := k0; k < k1; k++ {
			i := b.Row(k)
			for _, calls := range x.famCall {
				bits := g.familyBits(calls, i)
				if bits != 0 {
					col := g.cols[calls[0]].args[0]
					bl.keys = types.AppendKey(bl.keys, keyValue(col, i), g.specs[calls[0]].argType)
				}
				bl.bits, bl.koff = append(bl.bits, bits), append(bl.koff, int32(len(bl.keys)))
			}
		}
		sink := bl.sink
		for r, gi := range bl.gi {
			for f := range nf {
				if bl.bits[r*nf+f] != 0 {
					sink += uint64(len(x.famAt(gi, f).narrow))
				}
			}
			s := c.group(gi)
			sink += uint64(s[0] + s[len(s)-1]) // the slots' first and last cache lines (step 4)
			if x.nstr > 0 {
				sink += uint64(len(c.groupStrs(gi)[0])) // the strings' headers
			}
		}
		for r, gi := range bl.gi {
			for f := range nf {
				e := r*nf + f
				if bl.bits[e] == 0 {
					continue
				}
				key := bl.keys[bl.keyStart(e):bl.koff[e]]
				if t := x.famAt(gi, f).narrow; len(t) > 0 && len(key) == 9 {
					sink += uint64(t[home(binary.BigEndian.Uint64(key[1:]), len(t))].cnt)
				}
			}
			for _, v := range c.groupStrs(gi) { // the kept MIN/MAX strings' bytes (putStr compares them)
				if len(v) > 0 {
					sink += uint64(v[0])
				}
			}
		}
		bl.sink = sink // the reads stay
		// 3. set updates
		bl.newb = bl.newb[:0]
		for r, gi := range bl.gi {
			for f := range nf {
				e := r*nf + f
				var nb int64
				if bits := bl.bits[e]; bits != 0 {
					nb = c.orFamilyNew(gi, f, bl.keys[bl.keyStart(e):bl.koff[e]], bits)
				}
				bl.newb = append(bl.newb, nb)
			}
		}
		// 4. slots and changes
		for r, gi := range bl.gi {
			i := b.Row(k0 + r)
			ok := bl.ok[r]
			s := c.group(gi)
			old := c.old
			for j, kc := range g.cfg.Keys {
				if col := b.Cols[kc]; col.Kind == vec.Bytes {
					old[j] = col.Value(i)
				} else {
					old[j] = colKeyValue(col, i)
				}
			}
			if ok {
				g.compactResults(s, old)
				g.compactStrResults(gi, s, old)
			}
			g.compactAccumulateColumns(s, i, 1)
			for f := range nf {
				c.countNew(s, f, bl.newb[r*nf+f])
			}
			g.compactStrColumns(gi, s, i)
			g.compactEmitChange(s, gi, ok) // never a deletion: every row adds one to its group's count
		}
		if rerr != nil {
			return rerr // the rows emitted so far go with the next push, as on the row path
		}
	}
	return g.flush()
}

// keyStart is the start in keys of entry e's argument encoding.
func (bl *compactBlock) keyStart(e int) int32 {
	if e == 0 {
		return 0
	}
	return bl.koff[e-1]
}

// compactStrColumns is the string MIN/MAX part of compactAccumulateColumnsExtra.
func (g *groupAgg) compactStrColumns(i int32, s []int64, r int) {
	c := g.compact
	for _, j := range c.x.strCall {
		cc := &g.cols[j]
		if cc.filter != nil && !colTrue(cc.filter, r) {
			continue
		}
		if col := cc.args[0]; !col.Nulls.Get(r) {
			c.putStr(i, j, s, col.Str(r)) // compactArgColsFit: a Bytes column of strings
		}
	}
}
