package exec

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
)

// A joinStore holds the rows of one side of a regular or interval join, without a Go object, string or map
// entry per row or per key:
//
//   - keys live in an open-addressing table (slots, linear probing, at most 85 % full, doubled when full:
//     each key is moved once per doubling, so about once in all, amortized; the move is a sequential pass,
//     as a key's home slot grows with its hash tag) whose
//     entries are the position of the key's record in an append-only byte arena (chunks) plus the top 24
//     bits of the key's hash, which also choose the key's home slot: the table grows and deletes without
//     reading the arena, and most probes that miss never read it;
//   - a key's record is: uvarint key length, the key (join_rec.go: a compact encoding of integer, string and
//     time keys, else the key encoding), uvarint body tag, then — while the key holds at most jsSmallRows
//     rows — its row entries (tag = length<<1). A record that changes is written anew at the arena's end and the old one
//     becomes garbage, which compaction (at a push's end, when it is more than the live bytes) drops;
//   - a key with more rows keeps them in a bigBucket (join_bucket.go: its own entries and a hash index of
//     them, so inserts and retractions are O(1)); the record then holds tag = index<<1 | 1.
//
// A row entry is: uvarint count (how many times the row is in state; 0: a dead entry of a bigBucket), on an
// outer side the number of matches on the other side (4 bytes, little endian, int32), with a TTL the time of
// the last write (8 bytes, Unix ms), uvarint body length, the body (join_rec.go). The fixed fields are
// updated in place while the other side iterates the rows; the count changes only by stores and removals,
// in place when its width allows (varints may be padded), else by rewriting the entry.
//
// Bytes once written to the arena are never changed except the entry fields above, and chunks are never
// reused: rows emitted downstream reference their strings in place (join_rec.go decodes without copying).

const (
	jsChunkBits  = 18 // records start at an offset below 1<<jsChunkBits in their chunk
	jsChunkMax   = 1 << jsChunkBits
	jsChunkMin   = 4 << 10
	jsPosBits    = 40
	jsPosMask    = 1<<jsPosBits - 1
	jsSmallRows  = 8   // a key with more distinct rows gets a bigBucket
	jsSmallBytes = 512 // as does a key whose record would be larger (a new row copies the record)
)

type joinStore struct {
	outer, ttl bool // entries carry a match count / a write time
	// appendOnly: rows are only added and dropped by scans (an interval join's insert-only sides, a regular
	// join's insert-only sides without TTL), not looked up by identity but by a scan of the key (a stray
	// retraction): a row stored again is a new entry (count 1), and big buckets have no index.
	appendOnly  bool
	fixLen      int // bytes of those fields
	seed        maphash.Seed
	slots       []uint64 // 0: empty; else hash tag<<jsPosBits | (record position + 1)
	keys        int
	chunks      [][]byte
	used        int         // bytes written to chunks
	garbage     int         // bytes of records that were rewritten or deleted
	bigs        []bigBucket // by value: storing into a big key reads the struct, not a pointer to it first
	freeBigs    []uint32
	compactSink byte    // compact's reads ahead
	warmBigs    []int32 // warm's scratch (join_warm.go)
}

func newJoinStore(outer, ttl bool, seed maphash.Seed) joinStore {
	st := joinStore{outer: outer, ttl: ttl, seed: seed}
	if outer {
		st.fixLen += 4
	}
	if ttl {
		st.fixLen += 8
	}
	return st
}

func (st *joinStore) hash(b []byte) uint64 { return maphash.Bytes(st.seed, b) }

// jsTag is the part of a slot that comes from the key's hash: its top 24 bits.
func jsTag(h uint64) uint64 { return h &^ jsPosMask }

// home is the first slot to probe for a slot value (or hash) v: a function of its tag only, so that the
// table grows and deletes without reading keys.
func (st *joinStore) home(v uint64) int {
	return int((v >> jsPosBits) * uint64(len(st.slots)) >> (64 - jsPosBits))
}

// at returns the arena from position pos to its chunk's end.
func (st *joinStore) at(pos uint64) []byte {
	return st.chunks[pos>>jsChunkBits][pos&(jsChunkMax-1):]
}

// jsRecord is a parsed key record.
type jsRecord struct {
	key  []byte
	tag  uint64
	body []byte // entries of a small bucket
	size int    // bytes of the record
}

func parseRecord(b []byte) jsRecord {
	kl, k := binary.Uvarint(b)
	key := b[k : k+int(kl)]
	p := k + int(kl)
	tag, m := binary.Uvarint(b[p:])
	p += m
	r := jsRecord{key: key, tag: tag}
	if tag&1 == 0 {
		r.body = b[p : p+int(tag>>1)]
		p += int(tag >> 1)
	}
	r.size = p
	return r
}

func (st *joinStore) record(slot int) jsRecord {
	return parseRecord(st.at(st.slots[slot]&jsPosMask - 1))
}

// big returns the record's bigBucket, or nil: a pointer into st.bigs, valid until newBig.
func (r *jsRecord) big(st *joinStore) *bigBucket {
	if r.tag&1 == 0 {
		return nil
	}
	return &st.bigs[r.tag>>1]
}

// find returns the slot of key (hash h) and whether it is there; when not, the slot where it would go.
func (st *joinStore) find(key []byte, h uint64) (int, bool) {
	n := len(st.slots)
	if n == 0 {
		return -1, false
	}
	tag := jsTag(h)
	for i := st.home(h); ; {
		v := st.slots[i]
		if v == 0 {
			return i, false
		}
		if v&^jsPosMask == tag {
			b := st.at(v&jsPosMask - 1)
			kl, k := binary.Uvarint(b)
			if int(kl) == len(key) && bytes.Equal(b[k:k+int(kl)], key) {
				return i, true
			}
		}
		if i++; i == n {
			i = 0
		}
	}
}

// reserve returns the index of the arena chunk where n more bytes go, starting a chunk when needed.
func (st *joinStore) reserve(n int) int {
	c := len(st.chunks) - 1
	if c < 0 || len(st.chunks[c])+n > cap(st.chunks[c]) {
		size := jsChunkMin
		if c >= 0 {
			size = min(2*cap(st.chunks[c]), jsChunkMax)
		}
		st.chunks = append(st.chunks, make([]byte, 0, max(size, n)))
		c++
	}
	return c
}

// put copies rec into the arena and returns its position.
func (st *joinStore) put(rec []byte) uint64 {
	c := st.reserve(len(rec))
	off := len(st.chunks[c])
	st.chunks[c] = append(st.chunks[c], rec...)
	st.used += len(rec)
	return uint64(c)<<jsChunkBits | uint64(off)
}

// putRecord writes a record of key with the given body tag and small-bucket entries (in parts) straight
// into the arena and returns its position. The parts may point into the arena (appending never overwrites).
func (st *joinStore) putRecord(key []byte, tag uint64, parts ...[]byte) uint64 {
	n := uvarintLen(uint64(len(key))) + len(key) + uvarintLen(tag)
	for _, p := range parts {
		n += len(p)
	}
	c := st.reserve(n)
	b := st.chunks[c]
	off := len(b)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, tag)
	for _, p := range parts {
		b = append(b, p...)
	}
	st.chunks[c] = b
	st.used += n
	return uint64(c)<<jsChunkBits | uint64(off)
}

// uvarintLen is the length of v's uvarint encoding.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// insertKey adds a key (not present, hash h) whose record is key, tag and parts (putRecord); it returns the
// key's slot.
func (st *joinStore) insertKey(h uint64, key []byte, tag uint64, parts ...[]byte) int {
	if (st.keys+1)*20 > len(st.slots)*17 {
		st.resize(max(16, len(st.slots)*2, (st.keys+1)*20/17+1))
	}
	pos := st.putRecord(key, tag, parts...)
	i := st.home(h)
	for st.slots[i] != 0 {
		if i++; i == len(st.slots) {
			i = 0
		}
	}
	st.slots[i] = jsTag(h) | (pos + 1)
	st.keys++
	return i
}

// replace writes a new record (key, tag, parts: putRecord) for the key at slot (its old record, of old
// bytes, becomes garbage).
func (st *joinStore) replace(slot int, old int, key []byte, tag uint64, parts ...[]byte) {
	pos := st.putRecord(key, tag, parts...)
	st.slots[slot] = st.slots[slot]&^jsPosMask | (pos + 1)
	st.garbage += old
}

// resize rebuilds the slot table with n slots.
func (st *joinStore) resize(n int) {
	old := st.slots
	st.slots = make([]uint64, n)
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := st.home(v)
		for st.slots[i] != 0 {
			if i++; i == n {
				i = 0
			}
		}
		st.slots[i] = v
	}
}

// deleteSlot removes the key at slot i (backward-shift deletion: no tombstones). Its big bucket, if any, is
// freed.
func (st *joinStore) deleteSlot(i int) {
	r := st.record(i)
	st.garbage += r.size
	if r.tag&1 == 1 {
		st.bigs[r.tag>>1] = bigBucket{}
		st.freeBigs = append(st.freeBigs, uint32(r.tag>>1))
	}
	n := len(st.slots)
	for j := i; ; {
		if j++; j == n {
			j = 0
		}
		v := st.slots[j]
		if v == 0 {
			break
		}
		h := st.home(v)
		// The entry at j stays when its home lies cyclically in (i, j].
		if (i < j && i < h && h <= j) || (i > j && (h > i || h <= j)) {
			continue
		}
		st.slots[i] = v
		i = j
	}
	st.slots[i] = 0
	st.keys--
}

// newBig registers (a copy of) b and returns its body tag; b and pointers from jsRecord.big are stale
// afterwards.
func (st *joinStore) newBig(b *bigBucket) uint64 {
	if n := len(st.freeBigs); n > 0 {
		i := st.freeBigs[n-1]
		st.freeBigs = st.freeBigs[:n-1]
		st.bigs[i] = *b
		return uint64(i)<<1 | 1
	}
	st.bigs = append(st.bigs, *b)
	return uint64(len(st.bigs)-1)<<1 | 1
}

// tidy, at a point where no row of the store is being iterated, compacts the arena when most of it is
// garbage and shrinks the slot table when most keys went.
func (st *joinStore) tidy() {
	if st.keys*8 < len(st.slots) && len(st.slots) > 64 {
		st.resize(max(16, st.keys*2))
		if st.keys == 0 {
			st.bigs, st.freeBigs = nil, nil
		}
	}
	if st.garbage > jsChunkMin && st.garbage*2 > st.used {
		st.compact()
	}
}

// compact copies the live records into new chunks (the old ones are left to the GC: emitted rows may still
// reference their strings). Records are visited in slot order, so their reads land all over the old arena:
// each block of jsCompactBlock slots first reads the start of its records in a loop of loads only, so that
// their cache misses overlap (join_warm.go says why), then copies them.
func (st *joinStore) compact() {
	old := st.chunks
	live := st.used - st.garbage
	st.chunks, st.used, st.garbage = nil, 0, 0
	if live > 0 {
		st.chunks = [][]byte{make([]byte, 0, min(max(live, jsChunkMin), jsChunkMax))}
	}
	slots := st.slots
	var sink byte
	for start := 0; start < len(slots); start += jsCompactBlock {
		block := slots[start:min(start+jsCompactBlock, len(slots))]
		for _, v := range block {
			if v != 0 {
				p := v&jsPosMask - 1
				sink += old[p>>jsChunkBits][p&(jsChunkMax-1)]
			}
		}
		for i, v := range block {
			if v == 0 {
				continue
			}
			p := v&jsPosMask - 1
			b := old[p>>jsChunkBits][p&(jsChunkMax-1):]
			r := parseRecord(b)
			pos := st.put(b[:r.size])
			block[i] = v&^jsPosMask | (pos + 1)
		}
	}
	st.compactSink += sink // the reads stay
}

const jsCompactBlock = 32 // slots whose records compact reads ahead

// jsEntry is a parsed row entry at b[e:end].
type jsEntry struct {
	e, fix, body, end int
	count             uint64
}

func (st *joinStore) parseEntry(b []byte, p int) jsEntry {
	c, k := binary.Uvarint(b[p:])
	x := jsEntry{e: p, fix: p + k, count: c}
	q := x.fix + st.fixLen
	l, m := binary.Uvarint(b[q:])
	x.body = q + m
	x.end = x.body + int(l)
	return x
}

// appendEntry appends a row entry.
func (st *joinStore) appendEntry(dst []byte, count uint64, assoc int, touched int64, body []byte) []byte {
	return append(st.appendHead(dst, count, assoc, touched, len(body)), body...)
}

// appendHead appends the fields of a row entry that precede its body (of n bytes).
func (st *joinStore) appendHead(dst []byte, count uint64, assoc int, touched int64, n int) []byte {
	dst = binary.AppendUvarint(dst, count)
	if st.outer {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(int32(assoc)))
	}
	if st.ttl {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(touched))
	}
	return binary.AppendUvarint(dst, uint64(n))
}

func (st *joinStore) assoc(b []byte, x *jsEntry) int {
	if !st.outer {
		return 0
	}
	return int(int32(binary.LittleEndian.Uint32(b[x.fix:])))
}

func (st *joinStore) setAssoc(b []byte, x *jsEntry, n int) {
	if st.outer {
		binary.LittleEndian.PutUint32(b[x.fix:], uint32(int32(n)))
	}
}

func (st *joinStore) touched(b []byte, x *jsEntry) int64 {
	if !st.ttl {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(b[x.fix+st.fixLen-8:]))
}

func (st *joinStore) setTouched(b []byte, x *jsEntry, t int64) {
	if st.ttl {
		binary.LittleEndian.PutUint64(b[x.fix+st.fixLen-8:], uint64(t))
	}
}

// putUvarintWidth writes v as a uvarint of exactly len(b) bytes (padded); false when it does not fit.
func putUvarintWidth(b []byte, v uint64) bool {
	w := len(b)
	if w < 10 && v>>(7*uint(w)) != 0 {
		return false
	}
	for i := 0; i < w-1; i++ {
		b[i] = byte(v) | 0x80
		v >>= 7
	}
	b[w-1] = byte(v)
	return true
}

// jsIter iterates the live entries of a bucket: a small bucket's body or a bigBucket's chunks.
type jsIter struct {
	st   *joinStore
	win  *bigBucket // iterWithin: the timed bucket whose chunks outside [lo, hi] (the times asked for) are skipped
	lo   int64
	hi   int64
	b    []byte   // the entries being read
	more [][]byte // a bigBucket's chunks after b
	ci   int      // b's chunk index (bigBucket)
	p    int
	x    jsEntry
}

func (st *joinStore) iter(r *jsRecord) jsIter {
	if bb := r.big(st); bb != nil {
		if len(bb.chunks) == 0 {
			return jsIter{st: st}
		}
		return jsIter{st: st, b: bb.chunks[0], more: bb.chunks[1:]}
	}
	return jsIter{st: st, b: r.body}
}

// iterWithin is iter that may skip rows whose time (of an interval join's side) is outside [lo, hi]: the
// chunks of a timed bigBucket whose bounds do not meet it. Rows it yields still need the time check.
func (st *joinStore) iterWithin(r *jsRecord, lo, hi int64) jsIter {
	if bb := r.big(st); bb != nil && bb.timed {
		first, end := bb.times.span(lo, hi)
		return jsIter{st: st, win: bb, lo: lo, hi: hi, more: bb.chunks[first:end], ci: first - 1}
	}
	it := st.iter(r)
	it.lo, it.hi = lo, hi
	return it
}

func (it *jsIter) next() bool {
	for {
		for it.p < len(it.b) {
			it.x = it.st.parseEntry(it.b, it.p)
			it.p = it.x.end
			if it.x.count != 0 {
				return true
			}
		}
		if len(it.more) == 0 {
			return false
		}
		it.b, it.more, it.p = it.more[0], it.more[1:], 0
		it.ci++
		if it.win != nil && !it.win.times.overlaps(it.ci, it.lo, it.hi) {
			it.b = nil
		}
	}
}

// ref is the bigBucket ref of the current entry.
func (it *jsIter) ref() int { return it.ci<<bbChunkBits | it.x.e }

func (it *jsIter) count() int         { return int(it.x.count) }
func (it *jsIter) row() []byte        { return it.b[it.x.body:it.x.end] }
func (it *jsIter) assoc() int         { return it.st.assoc(it.b, &it.x) }
func (it *jsIter) setAssoc(n int)     { it.st.setAssoc(it.b, &it.x, n) }
func (it *jsIter) touched() int64     { return it.st.touched(it.b, &it.x) }
func (it *jsIter) setTouched(t int64) { it.st.setTouched(it.b, &it.x, t) }
