package exec

import (
	"bytes"
	"math/bits"
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

// The chunks are in groups of at most rcGroupMax, each with its count of entries, and a Fenwick tree over
// the groups' counts (rcIndex) finds a position's group, or counts the entries before a group, in
// O(log groups); within a group the chunks' counts are summed (at most rcGroupMax). A chunk split or drop
// shifts the chunks of its group only; a group split or drop shifts the groups (rcGroupMax times fewer)
// and marks the tree for a rebuild at its next use. Until December 2026 positions summed every chunk's
// count before them (a large OFFSET or a Rank without a limit: O(chunks) a change) and a split shifted the
// partition's every chunk.
const rcGroupMax = 64

type rcGroup struct {
	chunks [][]byte
	rows   []int32 // entries per chunk
	n      int     // entries in the group
}

type rankChunks struct {
	groups []rcGroup
	index  rcIndex
	total  int
	size   int // bytes of entries
	fill   int // add: the bytes it fills the last chunk to
}

// rcIndex is a Fenwick tree over the entry counts of a rankChunks' groups (fw[1:], 1-based), rebuilt at
// its next use once stale (a group came or went).
type rcIndex struct {
	fw    []int64
	stale bool
}

func (x *rcIndex) rebuild(gs []rcGroup) {
	n := len(gs)
	if cap(x.fw) < n+1 {
		x.fw = make([]int64, n+1, n+1+n/4)
	}
	x.fw = x.fw[:n+1]
	x.fw[0] = 0
	for k := 1; k <= n; k++ {
		x.fw[k] = int64(gs[k-1].n)
	}
	for k := 1; k <= n; k++ {
		if j := k + k&-k; j <= n {
			x.fw[j] += x.fw[k]
		}
	}
	x.stale = false
}

// add adds d to group g's count.
func (x *rcIndex) add(g int, d int64) {
	if x.stale {
		return
	}
	for k := g + 1; k < len(x.fw); k += k & -k {
		x.fw[k] += d
	}
}

// before returns the entries in the groups before g.
func (x *rcIndex) before(gs []rcGroup, g int) int64 {
	if x.stale || len(x.fw) != len(gs)+1 {
		x.rebuild(gs)
	}
	var s int64
	for k := g; k > 0; k -= k & -k {
		s += x.fw[k]
	}
	return s
}

// find returns the group of position p (0 <= p < the entries) and p's position within it.
func (x *rcIndex) find(gs []rcGroup, p int64) (int, int64) {
	if x.stale || len(x.fw) != len(gs)+1 {
		x.rebuild(gs)
	}
	n := len(gs)
	pos := 0
	for step := 1 << (bits.Len(uint(n)) - 1); step > 0; step >>= 1 {
		if j := pos + step; j <= n && x.fw[j] <= p {
			pos = j
			p -= x.fw[j]
		}
	}
	return pos, p
}

// refEntLen is the size of e in the record's form (appendRefEnt).
func refEntLen(e *rEnt) int {
	return uvarintLen(uint64(e.ol)) + len(e.sk) + uvarintLen(uint64(e.rowLen())) + rsRefLen
}

func (bb *rankChunks) first(g, ci int) rEnt {
	e, _, _ := refEntAt(bb.groups[g].chunks[ci], 0)
	return e
}

// chunks returns the number of chunks.
func (bb *rankChunks) chunks() int {
	n := 0
	for i := range bb.groups {
		n += len(bb.groups[i].chunks)
	}
	return n
}

// eachChunk calls fn with every chunk and its count of entries, in order.
func (bb *rankChunks) eachChunk(fn func(c []byte, rows int32)) {
	for i := range bb.groups {
		gr := &bb.groups[i]
		for ci, c := range gr.chunks {
			fn(c, gr.rows[ci])
		}
	}
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

// add appends e (its row stored) after the entries (building from sorted entries; rest is the bytes of the
// entries still to add, e's included). Chunks are filled to three quarters, so that the next insertions do
// not split them at once, except the last one or two of the build (rest at most two such fills: a
// partition just past rsSmallBytes, the global Top-N's first row): those share the rest evenly in chunks
// of about its size (rcTightCap), which grow as rows come (insertAt), instead of leaving most of two
// 512-byte chunks empty (about 10 B a row for partitions of 40 rows until December 2026).
func (bb *rankChunks) add(rs *rankStore, e *rEnt, rest int) {
	n := refEntLen(e)
	g := len(bb.groups) - 1
	if g < 0 {
		bb.groups = append(bb.groups, rcGroup{})
		bb.index.stale = true
		g = 0
	}
	gr := &bb.groups[g]
	c := len(gr.chunks) - 1
	if c < 0 || len(gr.chunks[c])+n > bb.fill && gr.rows[c] > 0 {
		if c+1 >= rcGroupMax {
			bb.groups = append(bb.groups, rcGroup{})
			bb.index.stale = true
			g++
			gr = &bb.groups[g]
		}
		var nc []byte
		if rest = max(rest, n); rest <= 2*rcFill {
			k := (rest + rcFill - 1) / rcFill
			nc = make([]byte, 0, rcTightCap((rest+k-1)/k))
			bb.fill = cap(nc)
		} else {
			nc = rs.newChunk(n)
			bb.fill = rcFill
		}
		gr.chunks = append(gr.chunks, nc)
		gr.rows = append(gr.rows, 0)
		c = len(gr.chunks) - 1
	}
	if len(gr.chunks[c])+n > cap(gr.chunks[c]) {
		gr.grow(c, n)
	}
	gr.chunks[c] = appendRefEnt(gr.chunks[c], e)
	gr.rows[c]++
	bb.counted(g, 1, n)
}

// rcFill is how full add fills a chunk of rcChunkCap bytes.
const rcFill = rcChunkCap * 3 / 4

// rcTightCap is the capacity of a chunk for n bytes of entries (and an eighth more, at least rcChunkMin,
// at most rcChunkCap); rcGrownCap that of a chunk grown to take n bytes (half its capacity more).
func rcTightCap(n int) int { return min(max(rcChunkMin, (n+n/8+15)&^15), rcChunkCap) }

func rcGrownCap(c, n int) int { return min(max(rcChunkMin, (max(c+c/2, n)+15)&^15), rcChunkCap) }

const rcChunkMin = 64

// chunkBytes is the bytes the chunks hold (their capacity: entries and room).
func (bb *rankChunks) chunkBytes() int {
	n := 0
	bb.eachChunk(func(c []byte, _ int32) { n += cap(c) })
	return n
}

// counted books d entries of n bytes (d is -1 or 1) more in group g.
func (bb *rankChunks) counted(g, d, n int) {
	bb.groups[g].n += d
	bb.index.add(g, int64(d))
	bb.total += d
	bb.size += d * n
}

// grow gives chunk ci room for n more bytes (an entry longer than a chunk has room for: a long sort key).
func (gr *rcGroup) grow(ci, n int) { gr.resize(ci, len(gr.chunks[ci])+n) }

// resize moves chunk ci into a new one of capacity c (the old one is left to the GC: it is not of the
// pool's size, or it is but its entries outgrew it).
func (gr *rcGroup) resize(ci, c int) {
	nc := make([]byte, len(gr.chunks[ci]), c)
	copy(nc, gr.chunks[ci])
	gr.chunks[ci] = nc
}

// chunkOf returns the chunk where sort key sk belongs (its group and its index there): the last whose
// first entry does not sort after it (ge: the last whose first entry sorts before it, for the earliest of
// equal keys).
func (bb *rankChunks) chunkOf(sk []byte, ge bool) (int, int) {
	after := func(f rEnt) bool {
		if ge {
			return bytes.Compare(f.order(), sk) >= 0
		}
		return bytes.Compare(f.sk, sk) > 0
	}
	g := max(sort.Search(len(bb.groups), func(i int) bool { return after(bb.first(i, 0)) })-1, 0)
	ci := sort.Search(len(bb.groups[g].chunks), func(i int) bool { return after(bb.first(g, i)) })
	return g, max(ci-1, 0)
}

// insert puts e in order (after the entries it does not sort before), storing its row in the row arena,
// and returns its position.
func (bb *rankChunks) insert(rs *rankStore, e rEnt) int64 { return bb.insertAt(rs, e, -1) }

// insertAt is insert returning the position capped at stop (when stop >= 0): counting the entries before
// the chunk stops there.
func (bb *rankChunks) insertAt(rs *rankStore, e rEnt, stop int64) int64 {
	if e.ref == 0 {
		e.rl = len(e.row)
		e.ref = rs.putRow(e.row)
	}
	if len(bb.groups) == 0 {
		bb.add(rs, &e, 0)
		return 0
	}
	n := refEntLen(&e)
	g, ci := bb.chunkOf(e.sk, false)
	gr := &bb.groups[g]
	c := gr.chunks[ci]
	p, k := 0, 0
	for p < len(c) {
		x, _, next := refEntAt(c, p)
		if bytes.Compare(x.sk, e.sk) > 0 {
			break
		}
		p, k = next, k+1
	}
	for len(gr.chunks[ci])+n > cap(gr.chunks[ci]) {
		if cap(gr.chunks[ci]) < rcChunkCap { // a chunk that started small (add) grows first
			gr.resize(ci, rcGrownCap(cap(gr.chunks[ci]), len(gr.chunks[ci])+n))
			continue
		}
		if gr.rows[ci] < 2 {
			gr.grow(ci, n)
			break
		}
		// a neighbour that started small takes a full chunk's size, so that entries can move into it
		// (shiftLeft, shift) rather than into a new chunk
		if ci > 0 && cap(gr.chunks[ci-1]) < rcChunkCap {
			gr.resize(ci-1, rcChunkCap)
		} else if ci+1 < len(gr.chunks) && cap(gr.chunks[ci+1]) < rcChunkCap {
			gr.resize(ci+1, rcChunkCap)
		}
		if q, m, l, ok := gr.shiftLeft(ci, n); ok {
			if k < m || k == m && p == q { // e goes after the entries moved: at the end of the previous chunk
				ci, p, k = ci-1, l+p, int(gr.rows[ci-1])-m+k
			} else {
				p, k = p-q, k-m
			}
			continue
		}
		q, half, ok := gr.shift(ci, n)
		if !ok {
			q, half = gr.split(rs, ci)
		}
		if k > half || k == half && p > q { // e goes after the entries that stayed: into the next chunk
			ci, p, k = ci+1, p-q, k-half
		}
	}
	c = gr.chunks[ci]
	l := len(c)
	c = c[:l+n]
	copy(c[p+n:], c[p:l])
	appendRefEnt(c[:p], &e)
	gr.chunks[ci] = c
	gr.rows[ci]++
	bb.counted(g, 1, n)
	pos := capAt(bb.prefix(g, ci, stop)+int64(k), stop)
	if len(gr.chunks) > rcGroupMax {
		bb.splitGroup(g)
	}
	return pos
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
func (gr *rcGroup) split(rs *rankStore, ci int) (q, half int) {
	c := gr.chunks[ci]
	half = int(gr.rows[ci]) / 2
	for range half {
		_, _, q = refEntAt(c, q)
	}
	d := append(rs.newChunk(len(c)-q), c[q:]...)
	gr.chunks[ci] = c[:q]
	gr.chunks = append(gr.chunks, nil)
	copy(gr.chunks[ci+2:], gr.chunks[ci+1:])
	gr.chunks[ci+1] = d
	gr.rows = append(gr.rows, 0)
	copy(gr.rows[ci+2:], gr.rows[ci+1:])
	gr.rows[ci+1] = gr.rows[ci] - int32(half)
	gr.rows[ci] = int32(half)
	return q, half
}

// shift makes room for an entry of n bytes in full chunk ci by moving its last entries to the front of the
// next chunk of its group, when that one has room: the two then hold about the same bytes, and each has
// room for the entry and an eighth of a chunk more (else it reports false and the chunk splits). Chunks
// so stay about four fifths full instead of two thirds (a split leaves two half-full chunks). It returns
// the offset where the moved entries began and the entries that stayed.
func (gr *rcGroup) shift(ci, n int) (q, stay int, ok bool) {
	if ci+1 >= len(gr.chunks) {
		return 0, 0, false
	}
	c, d := gr.chunks[ci], gr.chunks[ci+1]
	slack := rcChunkCap / 8
	if cap(c) != rcChunkCap || cap(d) != rcChunkCap || len(c)+len(d)+n+2*slack > 2*rcChunkCap {
		return 0, 0, false
	}
	target := (len(c) + len(d)) / 2
	for {
		_, _, next := refEntAt(c, q)
		if next > target || next >= len(c) {
			break
		}
		q, stay = next, stay+1
	}
	moved := len(c) - q
	if stay == 0 || q+n > rcChunkCap || len(d)+moved+n > rcChunkCap {
		return 0, 0, false
	}
	l := len(d)
	d = d[:l+moved]
	copy(d[moved:], d[:l])
	copy(d, c[q:])
	gr.chunks[ci], gr.chunks[ci+1] = c[:q], d
	m := gr.rows[ci] - int32(stay)
	gr.rows[ci] -= m
	gr.rows[ci+1] += m
	return q, stay, true
}

// shiftLeft is shift towards the previous chunk: it moves chunk ci's first entries to the end of chunk
// ci-1; it returns the offset where the entries that stayed began, the entries moved and the previous
// chunk's length before.
func (gr *rcGroup) shiftLeft(ci, n int) (q, m, l int, ok bool) {
	if ci == 0 {
		return 0, 0, 0, false
	}
	c, d := gr.chunks[ci], gr.chunks[ci-1]
	slack := rcChunkCap / 8
	if cap(c) != rcChunkCap || cap(d) != rcChunkCap || len(c)+len(d)+n+2*slack > 2*rcChunkCap {
		return 0, 0, 0, false
	}
	want := (len(c) - len(d)) / 2 // bytes to move
	for q < want {
		_, _, next := refEntAt(c, q)
		if next >= len(c) {
			break
		}
		q, m = next, m+1
	}
	if m == 0 || len(d)+q+n > rcChunkCap || len(c)-q+n > rcChunkCap {
		return 0, 0, 0, false
	}
	l = len(d)
	gr.chunks[ci-1] = append(d, c[:q]...)
	copy(c, c[q:])
	gr.chunks[ci] = c[:len(c)-q]
	gr.rows[ci-1] += int32(m)
	gr.rows[ci] -= int32(m)
	return q, m, l, true
}

// splitGroup moves the second half of group g's chunks into a new group after it.
func (bb *rankChunks) splitGroup(g int) {
	gr := &bb.groups[g]
	h := len(gr.chunks) / 2
	ng := rcGroup{chunks: make([][]byte, 0, rcGroupMax+1), rows: make([]int32, 0, rcGroupMax+1)}
	ng.chunks = append(ng.chunks, gr.chunks[h:]...)
	ng.rows = append(ng.rows, gr.rows[h:]...)
	for _, r := range ng.rows {
		ng.n += int(r)
	}
	clear(gr.chunks[h:])
	gr.chunks, gr.rows = gr.chunks[:h], gr.rows[:h]
	gr.n -= ng.n
	bb.groups = append(bb.groups, rcGroup{})
	copy(bb.groups[g+2:], bb.groups[g+1:])
	bb.groups[g+1] = ng
	bb.index.stale = true
}

// remove deletes the entry at offset p..end of chunk ci of group g (its row already dropped), and gives an
// emptied chunk back, or merges the chunk with a neighbour of its group when both fit in half a chunk.
func (bb *rankChunks) remove(rs *rankStore, g, ci, p, end int) {
	gr := &bb.groups[g]
	c := gr.chunks[ci]
	copy(c[p:], c[end:])
	c = c[:len(c)-(end-p)]
	gr.chunks[ci] = c
	gr.rows[ci]--
	bb.counted(g, -1, end-p)
	fits := func(d, into []byte) bool { return len(d)+len(into) <= rcChunkCap/2 && len(d)+len(into) <= cap(into) }
	switch {
	case gr.rows[ci] == 0:
		bb.drop(rs, g, ci)
	case ci+1 < len(gr.chunks) && fits(gr.chunks[ci+1], c):
		bb.merge(rs, g, ci)
	case ci > 0 && fits(c, gr.chunks[ci-1]):
		bb.merge(rs, g, ci-1)
	case ci+1 == len(gr.chunks) && g+1 < len(bb.groups) && fits(bb.groups[g+1].chunks[0], c):
		bb.mergeGroups(rs, g)
	case ci == 0 && g > 0 && fits(c, bb.groups[g-1].chunks[len(bb.groups[g-1].chunks)-1]):
		bb.mergeGroups(rs, g-1)
	}
}

// mergeGroups appends the first chunk of group g+1 to the last chunk of group g (neighbours across the
// groups' boundary: until December 2026 only chunks of one group merged, so a nearly empty chunk at a
// group's edge stayed).
func (bb *rankChunks) mergeGroups(rs *rankStore, g int) {
	gr, next := &bb.groups[g], &bb.groups[g+1]
	last, m := len(gr.chunks)-1, next.rows[0]
	gr.chunks[last] = append(gr.chunks[last], next.chunks[0]...)
	gr.rows[last] += m
	gr.n += int(m)
	next.n -= int(m)
	bb.index.add(g, int64(m))
	bb.index.add(g+1, -int64(m))
	next.rows[0] = 0
	bb.drop(rs, g+1, 0)
}

// merge appends chunk ci+1 of group g to chunk ci.
func (bb *rankChunks) merge(rs *rankStore, g, ci int) {
	gr := &bb.groups[g]
	gr.chunks[ci] = append(gr.chunks[ci], gr.chunks[ci+1]...)
	gr.rows[ci] += gr.rows[ci+1]
	gr.rows[ci+1] = 0
	bb.drop(rs, g, ci+1)
}

// drop removes chunk ci of group g (its entries gone) and gives it back; a group left without chunks goes.
func (bb *rankChunks) drop(rs *rankStore, g, ci int) {
	gr := &bb.groups[g]
	rs.freeChunk(gr.chunks[ci])
	copy(gr.chunks[ci:], gr.chunks[ci+1:])
	gr.chunks[len(gr.chunks)-1] = nil
	gr.chunks = gr.chunks[:len(gr.chunks)-1]
	gr.rows = append(gr.rows[:ci], gr.rows[ci+1:]...)
	if len(gr.chunks) == 0 {
		copy(bb.groups[g:], bb.groups[g+1:])
		bb.groups[len(bb.groups)-1] = rcGroup{}
		bb.groups = bb.groups[:len(bb.groups)-1]
		bb.index.stale = true
	}
}

// release gives every chunk back (the partition is deleted or written inline again).
func (bb *rankChunks) release(rs *rankStore) {
	bb.eachChunk(func(c []byte, _ int32) { rs.freeChunk(c) })
	*bb = rankChunks{}
}

// truncate keeps the first n entries, dropping the rows of the others.
func (bb *rankChunks) truncate(rs *rankStore, n int) {
	for bb.total > n {
		g := len(bb.groups) - 1
		gr := &bb.groups[g]
		last := len(gr.chunks) - 1
		c := gr.chunks[last]
		keep := max(n-(bb.total-int(gr.rows[last])), 0)
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
		d := int(gr.rows[last]) - keep
		gr.n -= d
		bb.index.add(g, -int64(d))
		bb.total -= d
		bb.size -= len(c) - cut
		gr.rows[last] = int32(keep)
		gr.chunks[last] = c[:cut]
		if keep == 0 {
			bb.drop(rs, g, last)
		}
	}
}

// prefix returns the number of entries before chunk ci of group g, stopping early once it reaches stop
// (when stop >= 0).
func (bb *rankChunks) prefix(g, ci int, stop int64) int64 {
	var n int64
	if g > 0 {
		n = bb.index.before(bb.groups, g)
		if stop >= 0 && n >= stop {
			return stop
		}
	}
	for _, r := range bb.groups[g].rows[:ci] {
		n += int64(r)
		if stop >= 0 && n >= stop {
			return stop
		}
	}
	return n
}

// locate returns the chunk of position p (its group and index) and p's position within it.
func (bb *rankChunks) locate(p int64) (g, ci int, k int64) {
	g, k = bb.index.find(bb.groups, p)
	for ci, r := range bb.groups[g].rows {
		if k < int64(r) {
			return g, ci, k
		}
		k -= int64(r)
	}
	return g, len(bb.groups[g].rows), k // not reached: the counts add up
}

// at returns the entry at position p.
func (bb *rankChunks) at(p int64) (rEnt, bool) {
	if p < 0 || p >= int64(bb.total) {
		return rEnt{}, false
	}
	g, ci, k := bb.locate(p)
	c := bb.groups[g].chunks[ci]
	q := 0
	for range k {
		_, _, q = refEntAt(c, q)
	}
	e, _, _ := refEntAt(c, q)
	return e, true
}

// appendEnts appends the entries of positions from .. from+n-1 (fewer when the partition ends before).
func (bb *rankChunks) appendEnts(dst []rEnt, from, n int64) []rEnt {
	if from < 0 || from >= int64(bb.total) || n <= 0 {
		return dst
	}
	g, ci, k := bb.locate(from)
	for ; g < len(bb.groups); g, ci = g+1, 0 {
		gr := &bb.groups[g]
		for ; ci < len(gr.chunks); ci++ {
			c := gr.chunks[ci]
			q := 0
			for range k {
				_, _, q = refEntAt(c, q)
			}
			k = 0
			for ; q < len(c); n-- {
				if n <= 0 {
					return dst
				}
				var e rEnt
				e, _, q = refEntAt(c, q)
				dst = append(dst, e)
			}
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
	if len(bb.groups) == 0 {
		return rEnt{}, 0, false
	}
	g, ci := bb.chunkOf(order, true)
	for ; g < len(bb.groups); g, ci = g+1, 0 {
		for ; ci < len(bb.groups[g].chunks); ci++ {
			c := bb.groups[g].chunks[ci]
			var pos int64
			for q := 0; q < len(c); pos++ {
				e, _, next := refEntAt(c, q)
				if k := bytes.Compare(e.order(), order); k > 0 {
					return rEnt{}, 0, false
				} else if k == 0 && same(rs.row(&e)) {
					rank := capAt(bb.prefix(g, ci, stop)+pos, stop)
					rs.gone = append(rs.gone[:0], e.sk...)
					e.sk = rs.gone[:len(e.sk):len(e.sk)]
					x := e
					rs.dropRow(&x)
					bb.remove(rs, g, ci, q, next)
					return e, rank, true
				}
				q = next
			}
		}
	}
	return rEnt{}, 0, false
}

// each calls fn with the entries in order until it returns false.
func (bb *rankChunks) each(fn func(e rEnt) bool) {
	for g := range bb.groups {
		for _, c := range bb.groups[g].chunks {
			for q := 0; q < len(c); {
				var e rEnt
				e, _, q = refEntAt(c, q)
				if !fn(e) {
					return
				}
			}
		}
	}
}

// moveRows copies the rows of the entries from the row arena's old chunks (compactRows) into its new ones
// and rewrites the references in place.
// (A loop of its own: eachRefEnt's callback would make each entry escape, an allocation a row.)
func (bb *rankChunks) moveRows(rs *rankStore, old [][]byte) {
	for g := range bb.groups {
		for _, c := range bb.groups[g].chunks {
			for q := 0; q < len(c); {
				e, at, next := refEntAt(c, q)
				row, _ := rowIn(old, e.ref-1)
				putRef(c[at:], rs.putRow(row))
				q = next
			}
		}
	}
}
