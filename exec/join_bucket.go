package exec

import "fmt"

// A bigBucket holds the rows of a join key that has more than jsSmallRows distinct rows (or larger ones):
// its row entries (join_store.go) appended in arrival order to chunks (the first grows by a quarter, by a
// copy, up to 4 KiB: growChunk; then each holds a quarter of the bucket's bytes, up to 32 KiB: appending to
// them never copies what is there), and an open-addressing index from the rows' identity hashes to
// their entries, so that storing or retracting a row is O(1) however many rows the key holds (a
// window-keyed join holds every row of a window under one key). A removed row's entry stays as a dead entry
// (count 0) until dead entries are more than half of the bytes; then the live ones are copied, in order,
// into new chunks (the old ones are not overwritten: emitted rows may reference their strings).

type bigBucket struct {
	chunks [][]byte
	idx    []uint64 // power-of-two table; 0: empty, else hash<<32 | (ref + 1)
	rows   int      // live entries
	size   int      // bytes of entries
	dead   int      // bytes of dead entries
	// flat: no index (an append-only side, join_rows.go: rows are never looked up by identity, so a row
	// stored twice is two entries and the index would only cost a cache miss and 11 bytes per row).
	flat bool
	// timed (an interval join's side): times bounds the times of each chunk's rows (join_chunktimes.go), and
	// chunks hold about bbTimedChunkRows rows, so that those bounds are fine-grained.
	timed bool
	times *chunkTimes // behind a pointer: most buckets are not timed, and the struct is kept per key
}

// An entry's ref is its chunk's index << bbChunkBits | its offset in the chunk; chunks hold at most
// bbChunkMax bytes unless one entry is larger (it then has a chunk of its own, at offset 0).
const (
	bbChunkBits = 15
	bbChunkMax  = 1 << bbChunkBits
	bbChunkMin  = 256
	bbMaxChunks = 1<<(32-bbChunkBits) - 1 // refs in the index are 32 bits (flat buckets have no limit)
	bbGrowMax   = 4 << 10                 // the first chunk grows up to this many bytes (growChunk)
	// bbTimedChunkRows: the chunks of a timed bucket hold about this many rows (of the bucket's average
	// size; at least bbChunkMin bytes): a probe or watermark reads at most about a chunk of rows outside its
	// time bounds at either end, and each chunk's bounds cost 32 bytes.
	bbTimedChunkRows = 32
)

var errBigBucket = fmt.Errorf("a join key holds more than %d chunks of rows", bbMaxChunks)

// entry returns the chunk and offset of ref.
func (bb *bigBucket) entry(ref int) ([]byte, int) {
	return bb.chunks[ref>>bbChunkBits], ref & (bbChunkMax - 1)
}

// find returns the ref of the entry with hash h for which eq is true, or -1.
func (bb *bigBucket) find(h uint32, eq func(ref int) bool) int {
	if len(bb.idx) == 0 {
		return -1
	}
	mask := len(bb.idx) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		v := bb.idx[i]
		if v == 0 {
			return -1
		}
		if uint32(v>>32) == h && eq(int(uint32(v))-1) {
			return int(uint32(v)) - 1
		}
	}
}

// add appends an entry whose row hashes to h: head then body (an entry's bytes may be all in head).
func (bb *bigBucket) add(h uint32, head, body []byte) error {
	n := len(head) + len(body)
	c := len(bb.chunks) - 1
	if c == 0 && !bb.timed && len(bb.chunks[0])+n > cap(bb.chunks[0]) && len(bb.chunks[0])+n <= bbGrowMax {
		bb.chunks[0] = growChunk(bb.chunks[0], n)
	}
	if c < 0 || len(bb.chunks[c])+n > cap(bb.chunks[c]) {
		size := bbChunkMin
		if c >= 0 {
			// A quarter of the bucket's bytes: the last chunk's unused room (the bucket's slack) stays
			// below a quarter of them, near an eighth on average.
			size = min(max(bb.size/4, bbChunkMin), bbChunkMax)
			if bb.timed {
				// Growing by half keeps the slack near a sixth of the bytes, where doubling leaves a
				// quarter; the chunks hold about bbTimedChunkRows rows.
				size = min(cap(bb.chunks[c])*3/2, bbChunkMax, max(bbChunkMin, bbTimedChunkRows*bb.size/max(bb.rows, 1)))
			}
		}
		if c+1 >= bbMaxChunks && !bb.flat {
			return errBigBucket
		}
		bb.chunks = append(bb.chunks, make([]byte, 0, max(size, n)))
		if bb.timed {
			bb.times.grow(len(bb.chunks))
		}
		c++
	}
	b := bb.chunks[c]
	off := len(b)
	b = append(b, head...)
	bb.chunks[c] = append(b, body...)
	bb.rows++
	bb.size += n
	bb.index(h, c<<bbChunkBits|off)
	return nil
}

// growChunk returns a copy of the chunk b with room for at least n more bytes: a quarter more than b holds
// (at most bbGrowMax, at least what is needed), rounded up to the allocator's size class. The first chunk
// of a bucket that is not timed so grows, up to bbGrowMax bytes, in place of starting a second chunk, which
// would stay mostly empty while the key holds a few more rows (most keys of a join that outgrow their
// record keep a few dozen rows); each of those bytes is copied about four times. Larger buckets chain
// chunks (copying would cost more there than their last chunk's slack saves). b itself is left as it is:
// emitted rows may reference its strings.
func growChunk(b []byte, n int) []byte {
	want := len(b) + n
	c := min(max(want, cap(b)+cap(b)/4), bbGrowMax)
	c = max(c, want)
	// append sets the capacity to the size class it allocates (make would hide the rounding).
	nb := append([]byte(nil), make([]byte, c)...)[:len(b)]
	copy(nb, b)
	return nb
}

// newBigBucket returns an empty bucket whose first chunk holds n bytes (the rows moving in), so that a key
// outgrowing its record does not go through the smallest chunks.
func newBigBucket(n int, flat bool) *bigBucket {
	if n > bbChunkMax {
		return &bigBucket{flat: flat}
	}
	return &bigBucket{chunks: [][]byte{make([]byte, 0, max(n, bbChunkMin))}, flat: flat}
}

// setTimed makes bb keep time bounds per chunk.
func (bb *bigBucket) setTimed() {
	bb.timed = true
	bb.times = &chunkTimes{}
	bb.times.grow(len(bb.chunks))
}

// widen extends the time bounds of the last chunk (where add just wrote) to [lo, hi].
func (bb *bigBucket) widen(lo, hi int64) {
	bb.times.widen(len(bb.chunks)-1, lo, hi)
}

func (bb *bigBucket) index(h uint32, ref int) {
	if bb.flat {
		return
	}
	if (bb.rows+1)*4 > len(bb.idx)*3 {
		n := max(16, 2*len(bb.idx))
		old := bb.idx
		bb.idx = make([]uint64, n)
		for _, v := range old {
			if v != 0 {
				bb.place(v)
			}
		}
	}
	bb.place(uint64(h)<<32 | uint64(ref+1))
}

func (bb *bigBucket) place(v uint64) {
	mask := len(bb.idx) - 1
	i := int(uint32(v>>32)) & mask
	for bb.idx[i] != 0 {
		i = (i + 1) & mask
	}
	bb.idx[i] = v
}

// unindex removes the index entry of the entry at ref (hash h).
func (bb *bigBucket) unindex(h uint32, ref int) {
	if bb.flat {
		return
	}
	mask := len(bb.idx) - 1
	want := uint64(h)<<32 | uint64(ref+1)
	i := int(h) & mask
	for bb.idx[i] != want {
		if bb.idx[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		v := bb.idx[j]
		if v == 0 {
			break
		}
		k := int(uint32(v>>32)) & mask
		if (i < j && i < k && k <= j) || (i > j && (k > i || k <= j)) {
			continue
		}
		bb.idx[i] = v
		i = j
	}
	bb.idx[i] = 0
}

// kill marks the entry x at ref dead (its count written as 0 in the same width) and unindexes it.
func (bb *bigBucket) kill(h uint32, ref int, x *jsEntry) {
	b, _ := bb.entry(ref)
	putUvarintWidth(b[x.e:x.fix], 0)
	bb.unindex(h, ref)
	bb.rows--
	bb.dead += x.end - x.e
}

// compact copies the live entries, in order, into new chunks and rebuilds the index (hash gives an entry
// body's hash; unused when flat) when dead entries are most of the bytes.
func (bb *bigBucket) compact(st *joinStore, hash func(body []byte) uint32) {
	if bb.dead*2 <= bb.size {
		return
	}
	old := bb.chunks
	bb.chunks = nil
	var oldLo, oldHi []int64
	if bb.timed {
		oldLo, oldHi = append([]int64(nil), bb.times.lo...), append([]int64(nil), bb.times.hi...)
		bb.times.reset()
	}
	if !bb.flat {
		n := 16
		for n*3 < bb.rows*4+4 {
			n *= 2
		}
		bb.idx = make([]uint64, n)
	}
	bb.rows, bb.size, bb.dead = 0, 0, 0
	for c, b := range old {
		for p := 0; p < len(b); {
			x := st.parseEntry(b, p)
			p = x.end
			if x.count != 0 {
				var h uint32
				if !bb.flat {
					h = hash(b[x.body:x.end])
				}
				// Fewer bytes than before: no chunk limit is reached.
				_ = bb.add(h, b[x.e:x.end], nil)
				if bb.timed {
					bb.widen(oldLo[c], oldHi[c])
				}
			}
		}
	}
}
