package exec

// Reading ahead in a large compact group table. A row's group lookup (groupagg_compact.go) reads the key
// index's slot, the key's bytes in the index's arena and the group's accumulator slots: three cache misses
// per row once the groups outgrow the caches (Nexmark q17's (auction, day) groups at 10M events), each
// waiting for the one before it, so that the cost per row grows with the number of groups. A push over such
// a table first encodes and hashes the keys of a block of rows, then reads, one level per loop over the
// block, the slots of their hashes and then the arena bytes and group slots those slots point to: the loads
// of a loop do not depend on one another, so the processor overlaps their misses (a prefetch: the values
// read are not used). The rows then look their keys up with the hashes computed here. Small tables (or an
// index that is a Go map: one integer key column) are not read ahead.

const (
	compactWarmSlots = 1 << 15 // index slots (24 bytes each: 768 KiB) from which lookups read ahead
	compactWarmRows  = 64      // rows per read-ahead block
)

// warmable reports whether lookups in c read ahead.
func (c *compactGroups) warmable() bool {
	return !c.one && c.idx.bytes && len(c.idx.slots) >= c.warmSlots
}

// warmReset starts a block of keys to read ahead.
func (c *compactGroups) warmReset() {
	c.wkeys, c.woff, c.whash = c.wkeys[:0], append(c.woff[:0], 0), c.whash[:0]
}

// warmAdded records the key that was appended to c.wkeys since the last one.
func (c *compactGroups) warmAdded() {
	c.woff = append(c.woff, len(c.wkeys))
	c.whash = append(c.whash, hashKey(c.wkeys[c.woff[len(c.woff)-2]:]))
}

// warmKey returns the i-th key of the block and its hash.
func (c *compactGroups) warmKey(i int) ([]byte, uint32) {
	return c.wkeys[c.woff[i]:c.woff[i+1]:c.woff[i+1]], c.whash[i]
}

// warmReads reads the index slots of the block's hashes, then the key bytes and group slots of the first
// slot (of a few from the home) that has each hash.
func (c *compactGroups) warmReads() {
	slots, arena := c.idx.slots, c.idx.arena
	mask := uint32(len(slots) - 1)
	var sink uint64
	for _, h := range c.whash {
		sink += uint64(slots[h&mask].cnt)
	}
	for _, h := range c.whash {
		for i, k := h&mask, 0; k < 4; i, k = (i+1)&mask, k+1 {
			sl := &slots[i]
			if sl.cnt == 0 {
				break
			}
			if sl.hash != h {
				continue
			}
			if sl.off < uint64(len(arena)) {
				sink += uint64(arena[sl.off])
			}
			if gi := sl.cnt - 1; gi >= 0 && gi < int64(c.n) {
				s := groupSlots(c.chunks, int32(gi), c.stride)
				sink += uint64(s[0] + s[len(s)-1])
			}
			break
		}
	}
	c.wsink += sink // the reads stay
}

// hashOf returns the hash that lookupHashed and insertHashed take for key (0 when the index does not use it).
func (c *compactGroups) hashOf(key []byte) uint32 {
	if c.one || !c.idx.bytes {
		return 0
	}
	return hashKey(key)
}

// lookupHashed is lookup of key whose hashOf is h.
func (c *compactGroups) lookupHashed(key []byte, h uint32) (int32, bool) {
	if c.one || !c.idx.bytes {
		return c.lookup(key)
	}
	i, ok := c.idx.getHashed(key, h)
	return int32(i - 1), ok
}

// insertHashed is insert of key whose hashOf is h.
func (c *compactGroups) insertHashed(key []byte, h uint32, i int32) {
	if c.one || !c.idx.bytes {
		c.insert(key, i)
		return
	}
	c.idx.addBytesHashed(key, h, int64(i)+1)
}
