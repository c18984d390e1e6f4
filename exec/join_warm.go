package exec

import (
	"encoding/binary"

	"github.com/sluicesql/sluice/changelog"
)

// Key lookups in a large join side (Nexmark q7's bids keyed by price: millions of keys over gigabytes of
// arena) miss the caches several times per row: the key table's home slot, the key's record in the arena
// and, for a key whose rows are in a bigBucket, the bucket, its chunk list and the end of its last chunk,
// where an insert-only row is appended. Done row after row, each miss waits for the one before it, so the
// cost per row grows with the state (10M events cost more per event than 1M). warm instead computes the join
// keys and hashes of a push's rows up front (push then uses them) and reads, one level per loop over the
// rows, what those lookups will read: each loop is loads only, the loads of one loop do not depend on one
// another, so the processor overlaps their misses (a prefetch: nothing read is used but keys and hashes).
// Tables that fit in the caches are not warmed.

const joinWarmSlots = 1 << 15 // 256 KiB of key table

// warm fills j.wkeys, j.wkoff, j.whas and j.whash for rows[:n] of side s and returns n: the rows up to the
// first one whose key does not encode (push reports it), or 0 when both sides' tables are small.
func (j *joinOp) warm(s int, rows []changelog.Row) int {
	me := &j.sides[s].st
	if !j.warmable(s, len(rows)) {
		return 0
	}
	j.wkeys, j.wkoff, j.whas, j.whash = j.wkeys[:0], append(j.wkoff[:0], 0), j.whas[:0], j.whash[:0]
	for _, r := range rows {
		key, hasKey, err := j.keyBytes(s, r.Vals)
		if err != nil {
			break
		}
		j.wkeys = append(j.wkeys, key...)
		j.wkoff = append(j.wkoff, len(j.wkeys))
		j.whas = append(j.whas, hasKey)
		j.whash = append(j.whash, me.hash(key))
	}
	j.warmReads(s, len(rows))
	return len(j.whash)
}

// warmable reports whether a push of n rows to side s warms: either side's table is large.
func (j *joinOp) warmable(s, n int) bool {
	me, other := &j.sides[s].st, &j.sides[1-s].st
	return n >= 2 && (len(me.slots) >= j.warmSlots && len(me.slots) > 0 || len(other.slots) >= j.warmSlots && len(other.slots) > 0)
}

// warmReads reads ahead what the lookups of the keys of hashes j.whash will read, when the push of n rows
// to side s warms.
func (j *joinOp) warmReads(s, n int) {
	if !j.warmable(s, n) {
		return
	}
	me, other := &j.sides[s].st, &j.sides[1-s].st
	var sink uint64
	if len(me.slots) >= j.warmSlots && len(me.slots) > 0 {
		sink += me.warm(j.whash, true)
	}
	if len(other.slots) >= j.warmSlots && len(other.slots) > 0 {
		sink += other.warm(j.whash, false)
	}
	j.warmSink = sink // the reads stay
}

// warmKey returns the join key, whether it has no NULL, and its hash for rows[i] as warm computed them.
func (j *joinOp) warmKey(i int) ([]byte, bool, uint64) {
	return j.wkeys[j.wkoff[i]:j.wkoff[i+1]:j.wkoff[i+1]], j.whas[i], j.whash[i]
}

// warm reads, for keys of hashes hs, the key table's home slots, then the records of the first slots with
// the keys' tags, then (tails: where an append-only side adds rows) the last chunks' ends of their
// bigBuckets. It returns a sum of what it read, for the caller to keep so that the reads are not dropped.
func (st *joinStore) warm(hs []uint64, tails bool) uint64 {
	slots := st.slots
	n := len(slots)
	if n == 0 {
		return 0
	}
	var sink uint64
	for _, h := range hs {
		i := st.home(h)
		sink += slots[i] + slots[min(i+8, n-1)] // and the next line, where a miss's probe often goes on
	}
	for _, h := range hs {
		pos := st.warmSlot(h)
		if pos != 0 {
			b := st.at(pos - 1)
			sink += uint64(b[0])
			if len(b) > 64 {
				sink += uint64(b[64])
			}
		}
	}
	if !tails || len(st.bigs) == 0 {
		return sink
	}
	bigs := st.warmBigs[:0] // the bigBuckets of the keys that have one
	for _, h := range hs {
		if i := st.warmBig(h); i >= 0 {
			sink += uint64(len(st.bigs[i].chunks))
			bigs = append(bigs, int32(i))
		}
	}
	st.warmBigs = bigs
	for _, i := range bigs {
		if c := st.bigs[i].chunks; len(c) > 0 {
			sink += uint64(cap(c[len(c)-1]))
		}
	}
	for _, i := range bigs {
		if c := st.bigs[i].chunks; len(c) > 0 {
			if last := c[len(c)-1]; len(last) > 0 {
				sink += uint64(last[len(last)-1])
			}
		}
	}
	return sink
}

// warmSlot returns the position + 1 of the record in the first of a few slots from h's home that has h's
// tag, or 0: a guess (the key is not compared), good enough for warming.
func (st *joinStore) warmSlot(h uint64) uint64 {
	tag := jsTag(h)
	for i, k := st.home(h), 0; k < 4; k++ {
		v := st.slots[i]
		if v == 0 {
			return 0
		}
		if v&^jsPosMask == tag {
			return v & jsPosMask
		}
		if i++; i == len(st.slots) {
			i = 0
		}
	}
	return 0
}

// warmBig returns the index in st.bigs of the bigBucket of the record warmSlot guesses for h, or -1.
func (st *joinStore) warmBig(h uint64) int {
	pos := st.warmSlot(h)
	if pos == 0 {
		return -1
	}
	b := st.at(pos - 1)
	kl, k := binary.Uvarint(b)
	if k <= 0 || k+int(kl) > len(b) {
		return -1
	}
	tag, m := binary.Uvarint(b[k+int(kl):])
	if m <= 0 || tag&1 == 0 || int(tag>>1) >= len(st.bigs) {
		return -1
	}
	return int(tag >> 1)
}
