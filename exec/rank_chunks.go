package exec

import (
	"bytes"
	"sort"
)

// A large partition of a Rank (its entries would take more than rsSmallBytes in its record) keeps its
// entries in a rankChunks: sorted chunks of entries in the record's form (appendRefEnt: sort key, arrival
// number, row length and reference; the rows stay in the row arena, rank_rows.go), each a byte slice of
// rcChunkCap bytes changed in place. An insertion or retraction moves the bytes after its entry within one
// chunk (at most rcChunkCap) and finds the chunk by a binary search over the chunks' first entries: its cost
// does not grow with the partition's rows (it copied a 4 KiB chunk of entries with their rows, with an
// allocation, until December 2026). A full chunk splits in two; a chunk that empties, or two neighbours that
// fit in half a chunk together (merged), go back to the store's pool (rankStore.freeChunks), which the next
// split takes from: chunks are allocated only as the state grows. Rows are never in the chunks, so that
// changing a chunk in place cannot change an emitted row's strings; an entry taken out of a chunk (a
// retraction's) is copied out first (rankStore.gone). Go pointers: one per chunk (rcChunkCap bytes, about 25
// rows of Nexmark q19's shape), none per row.

const rcChunkCap = 512

type rankChunks struct {
	chunks [][]byte
	rows   []int32 // entries per chunk
	total  int
	size   int // bytes of entries
}

// refEntLen is the size of e in the record's form (appendRefEnt).
func refEntLen(e *rEnt) int {
	return uvarintLen(uint64(e.ol)) + len(e.sk) + uvarintLen(uint64(e.rowLen())) + rsRefLen
}

func (bb *rankChunks) first(ci int) rEnt {
	e, _, _ := refEntAt(bb.chunks[ci], 0)
	return e
}

// newChunk returns an empty chunk with room for at least n bytes, from the pool when it has one.
func (rs *rankStore) newChunk(n int) []byte {
	if k := len(rs.freeChunks); k > 0 && n <= rcChunkCap {
		c := rs.freeChunks[k-1]
		rs.freeChunks[k-1] = nil
		rs.freeChunks = rs.freeChunks[:k-1]
		return c[:0]
	}
	return make([]byte, 0, max(n, rcChunkCap))
}

// freeChunk gives c back to the pool (a chunk of another size is left to the GC; the pool keeps at most
// rcPoolMax chunks).
func (rs *rankStore) freeChunk(c []byte) {
	if cap(c) == rcChunkCap && len(rs.freeChunks) < rcPoolMax {
		rs.freeChunks = append(rs.freeChunks, c[:0])
	}
}

const rcPoolMax = 4096

// add appends e (its row stored) after the entries (building from sorted entries), filling chunks to
// three quarters so that the next insertions do not split them at once.
func (bb *rankChunks) add(rs *rankStore, e *rEnt) {
	n := refEntLen(e)
	c := len(bb.chunks) - 1
	if c < 0 || len(bb.chunks[c])+n > rcChunkCap*3/4 && bb.rows[c] > 0 {
		bb.chunks = append(bb.chunks, rs.newChunk(n))
		bb.rows = append(bb.rows, 0)
		c++
	}
	if len(bb.chunks[c])+n > cap(bb.chunks[c]) {
		bb.grow(c, n)
	}
	bb.chunks[c] = appendRefEnt(bb.chunks[c], e)
	bb.rows[c]++
	bb.total++
	bb.size += n
}

// grow gives chunk ci room for n more bytes (an entry longer than a chunk has room for: a long sort key).
func (bb *rankChunks) grow(ci, n int) {
	c := bb.chunks[ci]
	nc := make([]byte, len(c), len(c)+n)
	copy(nc, c)
	bb.chunks[ci] = nc
}

// chunkOf returns the chunk where sort key sk belongs: the last whose first entry does not sort after it
// (ge: the last whose first entry sorts before it, for the earliest of equal keys).
func (bb *rankChunks) chunkOf(sk []byte, ge bool) int {
	ci := sort.Search(len(bb.chunks), func(i int) bool {
		f := bb.first(i)
		if ge {
			return bytes.Compare(f.order(), sk) >= 0
		}
		return bytes.Compare(f.sk, sk) > 0
	})
	return max(ci-1, 0)
}

// insert puts e in order (after the entries it does not sort before), storing its row in the row arena,
// and returns its position.
func (bb *rankChunks) insert(rs *rankStore, e rEnt) int64 { return bb.insertAt(rs, e, -1) }

// insertAt is insert returning the position capped at stop (when stop >= 0): counting the entries before
// the chunk stops there, so that a global Top-N with many chunks finds a position past its window without
// summing every chunk's count.
func (bb *rankChunks) insertAt(rs *rankStore, e rEnt, stop int64) int64 {
	if e.ref == 0 {
		e.rl = len(e.row)
		e.ref = rs.putRow(e.row)
	}
	if len(bb.chunks) == 0 {
		bb.add(rs, &e)
		return 0
	}
	n := refEntLen(&e)
	ci := bb.chunkOf(e.sk, false)
	c := bb.chunks[ci]
	p, k := 0, 0
	for p < len(c) {
		x, _, next := refEntAt(c, p)
		if bytes.Compare(x.sk, e.sk) > 0 {
			break
		}
		p, k = next, k+1
	}
	for len(bb.chunks[ci])+n > cap(bb.chunks[ci]) {
		if bb.rows[ci] < 2 {
			bb.grow(ci, n)
			break
		}
		q, half := bb.split(rs, ci)
		if k > half || k == half && p > q { // e goes after the first half: into the new chunk
			ci, p, k = ci+1, p-q, k-half
		}
	}
	c = bb.chunks[ci]
	l := len(c)
	c = c[:l+n]
	copy(c[p+n:], c[p:l])
	appendRefEnt(c[:p], &e)
	bb.chunks[ci] = c
	bb.rows[ci]++
	bb.total++
	bb.size += n
	return capAt(bb.prefix(ci, stop)+int64(k), stop)
}

// capAt returns min(p, stop), or p when stop < 0 (no cap).
func capAt(p, stop int64) int64 {
	if stop >= 0 {
		return min(p, stop)
	}
	return p
}

// split moves the second half of chunk ci's entries into a new chunk after it; it returns the offset where
// they began and the entries that stayed.
func (bb *rankChunks) split(rs *rankStore, ci int) (q, half int) {
	c := bb.chunks[ci]
	half = int(bb.rows[ci]) / 2
	for range half {
		_, _, q = refEntAt(c, q)
	}
	d := append(rs.newChunk(len(c)-q), c[q:]...)
	bb.chunks[ci] = c[:q]
	bb.chunks = append(bb.chunks, nil)
	copy(bb.chunks[ci+2:], bb.chunks[ci+1:])
	bb.chunks[ci+1] = d
	bb.rows = append(bb.rows, 0)
	copy(bb.rows[ci+2:], bb.rows[ci+1:])
	bb.rows[ci+1] = bb.rows[ci] - int32(half)
	bb.rows[ci] = int32(half)
	return q, half
}

// remove deletes the entry at offset p..end of chunk ci (its row already dropped), and gives an emptied
// chunk back, or merges the chunk with a neighbour when both fit in half a chunk.
func (bb *rankChunks) remove(rs *rankStore, ci, p, end int) {
	c := bb.chunks[ci]
	copy(c[p:], c[end:])
	c = c[:len(c)-(end-p)]
	bb.chunks[ci] = c
	bb.rows[ci]--
	bb.total--
	bb.size -= end - p
	switch {
	case bb.rows[ci] == 0:
		bb.drop(rs, ci)
	case ci+1 < len(bb.chunks) && len(c)+len(bb.chunks[ci+1]) <= rcChunkCap/2 && len(c)+len(bb.chunks[ci+1]) <= cap(c):
		bb.merge(rs, ci)
	case ci > 0 && len(c)+len(bb.chunks[ci-1]) <= rcChunkCap/2 && len(c)+len(bb.chunks[ci-1]) <= cap(bb.chunks[ci-1]):
		bb.merge(rs, ci-1)
	}
}

// merge appends chunk ci+1 to chunk ci.
func (bb *rankChunks) merge(rs *rankStore, ci int) {
	bb.chunks[ci] = append(bb.chunks[ci], bb.chunks[ci+1]...)
	bb.rows[ci] += bb.rows[ci+1]
	bb.rows[ci+1] = 0
	bb.drop(rs, ci+1)
}

// drop removes chunk ci (its entries gone) from the partition and gives it back.
func (bb *rankChunks) drop(rs *rankStore, ci int) {
	rs.freeChunk(bb.chunks[ci])
	copy(bb.chunks[ci:], bb.chunks[ci+1:])
	bb.chunks[len(bb.chunks)-1] = nil
	bb.chunks = bb.chunks[:len(bb.chunks)-1]
	bb.rows = append(bb.rows[:ci], bb.rows[ci+1:]...)
}

// release gives every chunk back (the partition is deleted or written inline again).
func (bb *rankChunks) release(rs *rankStore) {
	for _, c := range bb.chunks {
		rs.freeChunk(c)
	}
	*bb = rankChunks{}
}

// truncate keeps the first n entries, dropping the rows of the others.
func (bb *rankChunks) truncate(rs *rankStore, n int) {
	for bb.total > n {
		last := len(bb.chunks) - 1
		c := bb.chunks[last]
		keep := max(n-(bb.total-int(bb.rows[last])), 0)
		q := 0
		for range keep {
			_, _, q = refEntAt(c, q)
		}
		cut := q
		for q < len(c) {
			e, _, next := refEntAt(c, q)
			rs.dropRow(&e)
			q = next
		}
		bb.total -= int(bb.rows[last]) - keep
		bb.size -= len(c) - cut
		bb.rows[last] = int32(keep)
		bb.chunks[last] = c[:cut]
		if keep == 0 {
			bb.drop(rs, last)
		}
	}
}

// prefix returns the number of entries in the chunks before ci, stopping early once it reaches stop (when
// stop >= 0).
func (bb *rankChunks) prefix(ci int, stop int64) int64 {
	var n int64
	for _, r := range bb.rows[:ci] {
		n += int64(r)
		if stop >= 0 && n >= stop {
			return stop
		}
	}
	return n
}

// at returns the entry at position p.
func (bb *rankChunks) at(p int64) (rEnt, bool) {
	if p < 0 || p >= int64(bb.total) {
		return rEnt{}, false
	}
	for ci, r := range bb.rows {
		if p >= int64(r) {
			p -= int64(r)
			continue
		}
		c := bb.chunks[ci]
		q := 0
		for range p {
			_, _, q = refEntAt(c, q)
		}
		e, _, _ := refEntAt(c, q)
		return e, true
	}
	return rEnt{}, false
}

// appendEnts appends the entries of positions from .. from+n-1 (fewer when the partition ends before).
func (bb *rankChunks) appendEnts(dst []rEnt, from, n int64) []rEnt {
	for ci, r := range bb.rows {
		if n <= 0 {
			break
		}
		if from >= int64(r) {
			from -= int64(r)
			continue
		}
		c := bb.chunks[ci]
		q := 0
		for range from {
			_, _, q = refEntAt(c, q)
		}
		from = 0
		for ; q < len(c) && n > 0; n-- {
			var e rEnt
			e, _, q = refEntAt(c, q)
			dst = append(dst, e)
		}
	}
	return dst
}

// removeEqual removes the earliest entry whose sort key (without its arrival number) is order and whose row
// same accepts, dropping its row; it returns the entry, its sort key copied to rs.gone (the chunk's bytes
// move), and its former position.
func (bb *rankChunks) removeEqual(rs *rankStore, order []byte, same func(row []byte) bool) (rEnt, int64, bool) {
	return bb.removeEqualAt(rs, order, same, -1)
}

// removeEqualAt is removeEqual returning the position capped at stop (when stop >= 0; insertAt).
func (bb *rankChunks) removeEqualAt(rs *rankStore, order []byte, same func(row []byte) bool, stop int64) (rEnt, int64, bool) {
	for ci := bb.chunkOf(order, true); ci < len(bb.chunks); ci++ {
		c := bb.chunks[ci]
		var pos int64
		for q := 0; q < len(c); pos++ {
			e, _, next := refEntAt(c, q)
			if k := bytes.Compare(e.order(), order); k > 0 {
				return rEnt{}, 0, false
			} else if k == 0 && same(rs.row(&e)) {
				rank := capAt(bb.prefix(ci, stop)+pos, stop)
				rs.gone = append(rs.gone[:0], e.sk...)
				e.sk = rs.gone[:len(e.sk):len(e.sk)]
				x := e
				rs.dropRow(&x)
				bb.remove(rs, ci, q, next)
				return e, rank, true
			}
			q = next
		}
	}
	return rEnt{}, 0, false
}

// each calls fn with the entries in order until it returns false.
func (bb *rankChunks) each(fn func(e rEnt) bool) {
	for _, c := range bb.chunks {
		for q := 0; q < len(c); {
			var e rEnt
			e, _, q = refEntAt(c, q)
			if !fn(e) {
				return
			}
		}
	}
}

// moveRows copies the rows of the entries from the row arena's old chunks (compactRows) into its new ones
// and rewrites the references in place.
// (A loop of its own: eachRefEnt's callback would make each entry escape, an allocation a row.)
func (bb *rankChunks) moveRows(rs *rankStore, old [][]byte) {
	for _, c := range bb.chunks {
		for q := 0; q < len(c); {
			e, at, next := refEntAt(c, q)
			row, _ := rowIn(old, e.ref-1)
			putRef(c[at:], rs.putRow(row))
			q = next
		}
	}
}
