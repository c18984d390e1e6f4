package exec

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"math"
	"sort"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// The interval join's expiry index: which keys of a side hold rows whose time bound passes soon, so that a
// watermark visits only the keys with rows to drop (Flink registers a cleanup timer per row time) rather
// than every key in state. It is derived state: not checkpointed, rebuilt from the rows after a restore.

// expiryGrain is the width (ms) of the expiry index's time buckets: a key is listed once per bucket its
// rows' expiries fall in, so a key whose rows are not all expired may be visited (and re-listed) early.
const expiryGrain = 128

// expiryIndex lists, per time bucket (expiry / expiryGrain), the keys of one side with a row expiring in it.
// A bucket holds its keys back to back (length-prefixed) in one byte slice: about a key's bytes per listing,
// with a key listed again in a bucket only when recent (the hash-indexed cache) does not show it there yet;
// prune dedupes what remains.
type expiryIndex struct {
	buckets map[int64]*expBucket
	order   bucketHeap // the buckets' numbers, smallest first
	free    []*expBucket
	popped  []*expBucket // buckets popped by the running prune (their keys are in use until it ends)
	recent  [expiryRecent]recentListing
	gen     uint64
}

const expiryRecent = 1 << 10

type expBucket struct {
	id   uint64 // never reused: recent's entries of a popped bucket never match again
	keys []byte
}

// recentListing says that the key hashed to its position was listed in bucket id at offset off.
type recentListing struct {
	id  uint64
	off int
}

// keyAt returns the key listed at offset off of b and the offset after it.
func (b *expBucket) keyAt(off int) ([]byte, int) {
	n, w := binary.Uvarint(b.keys[off:])
	start := off + w
	return b.keys[start : start+int(n)], start + int(n)
}

type bucketHeap []int64

func (h bucketHeap) Len() int           { return len(h) }
func (h bucketHeap) Less(a, b int) bool { return h[a] < h[b] }
func (h bucketHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *bucketHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *bucketHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// expiryBucket is the bucket of expiry time e (floor division: times may be negative).
func expiryBucket(e int64) int64 {
	b := e / expiryGrain
	if e%expiryGrain < 0 {
		b--
	}
	return b
}

// bucket returns bucket b, created when missing.
func (x *expiryIndex) bucket(b int64) *expBucket {
	if bk, ok := x.buckets[b]; ok {
		return bk
	}
	if x.buckets == nil {
		x.buckets = make(map[int64]*expBucket)
	}
	var bk *expBucket
	if n := len(x.free); n > 0 {
		bk, x.free = x.free[n-1], x.free[:n-1]
	} else {
		bk = &expBucket{}
	}
	x.gen++
	bk.id = x.gen
	x.buckets[b] = bk
	heap.Push(&x.order, b)
	return bk
}

// add lists key (hash h) under the bucket of expiry e, unless recent shows it listed there already.
func (x *expiryIndex) add(e int64, key []byte, h uint64) {
	bk := x.bucket(expiryBucket(e))
	rc := &x.recent[h&(expiryRecent-1)]
	if rc.id == bk.id {
		if k, _ := bk.keyAt(rc.off); bytes.Equal(k, key) {
			return
		}
	}
	rc.id, rc.off = bk.id, len(bk.keys)
	bk.keys = binary.AppendUvarint(bk.keys, uint64(len(key)))
	bk.keys = append(bk.keys, key...)
}

// due reports whether a row of the index may expire below watermark w (its bucket starts before w).
func (x *expiryIndex) due(w int64) bool {
	return len(x.order) > 0 && x.order[0]*expiryGrain < w
}

// popDue removes the buckets that start before w and appends their keys to keys, each once (the slices
// point into the popped buckets, valid until release).
func (x *expiryIndex) popDue(w int64, keys [][]byte) [][]byte {
	for x.due(w) {
		b := heap.Pop(&x.order).(int64)
		bk := x.buckets[b]
		delete(x.buckets, b)
		x.popped = append(x.popped, bk)
		for off := 0; off < len(bk.keys); {
			var k []byte
			k, off = bk.keyAt(off)
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(a, b int) bool { return bytes.Compare(keys[a], keys[b]) < 0 })
	n := 0
	for i, k := range keys {
		if i == 0 || !bytes.Equal(k, keys[n-1]) {
			keys[n] = k
			n++
		}
	}
	return keys[:n]
}

// release recycles the buckets popDue took (a bucket that grew large is left to the GC).
func (x *expiryIndex) release() {
	for _, bk := range x.popped {
		if cap(bk.keys) <= 1<<16 {
			bk.keys = bk.keys[:0]
			x.free = append(x.free, bk)
		}
	}
	clear(x.popped)
	x.popped = x.popped[:0]
}

// size is the number of (bucket, key) pairs listed (tests).
func (x *expiryIndex) size() int {
	n := 0
	for _, bk := range x.buckets {
		for off := 0; off < len(bk.keys); n++ {
			_, off = bk.keyAt(off)
		}
	}
	return n
}

// rowExpiry is the time after which no future row of the other side can join a row of side s with values
// vals (see prune), and false when its time is NULL (the row never expires).
func (j *joinOp) rowExpiry(s int, vals []types.Value) (int64, bool) {
	t := j.rowTime(s, vals)
	return j.timeExpiry(s, t.I), !t.IsNull()
}

// rowTime is the time attribute of a row of side s of an interval join (NULL for other joins).
func (j *joinOp) rowTime(s int, vals []types.Value) types.Value {
	iv := j.cfg.Interval
	if iv == nil {
		return types.NullValue
	}
	if s == 0 {
		return vals[iv.LeftTime]
	}
	return vals[iv.RightTime]
}

// timeExpiry is rowExpiry of a row of side s with time t: t - Lower on the left, t + Upper on the right
// (saturating).
func (j *joinOp) timeExpiry(s int, t int64) int64 {
	if s == 0 {
		return satAdd(t, -j.cfg.Interval.Lower)
	}
	return satAdd(t, j.cfg.Interval.Upper)
}

// probeWindow is the range of times of side 1-s's rows that a row of side s with time t can join:
// Lower <= l.t - r.t <= Upper (saturating).
func (j *joinOp) probeWindow(s int, t int64) (lo, hi int64) {
	iv := j.cfg.Interval
	if s == 0 {
		return satAdd(t, -iv.Upper), satAdd(t, -iv.Lower)
	}
	return satAdd(t, iv.Lower), satAdd(t, iv.Upper)
}

// satAdd is a + b, clamped to the int64 range.
func satAdd(a, b int64) int64 {
	c := a + b
	if (b > 0 && c < a) || (b < 0 && c > a) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return c
}

// indexRow lists a row of side s just stored under key in the expiry index.
func (j *joinOp) indexRow(s int, key []byte, h uint64, vals []types.Value) {
	if e, ok := j.rowExpiry(s, vals); ok {
		j.expiry[s].add(e, key, h)
	}
}

// rebuildExpiry lists every stored row in the expiry index (after a restore).
func (j *joinOp) rebuildExpiry() {
	for s := range 2 {
		j.expiry[s] = expiryIndex{}
		st := &j.sides[s].st
		for i, v := range st.slots {
			if v == 0 {
				continue
			}
			r := st.record(i)
			kv := j.keyVals(r.key)
			h := st.hash(r.key)
			for it := st.iter(&r); it.next(); {
				j.indexRow(s, r.key, h, j.rowVals(s, it.row(), kv, 0))
			}
		}
	}
}

// pruneIndexed is prune through the expiry index: only the keys listed in buckets that start before w are
// visited; a visited key that keeps a row expiring in such a bucket is listed again under that row's bucket.
func (j *joinOp) pruneIndexed(w int64) error {
	if !j.expiry[0].due(w) && !j.expiry[1].due(w) {
		return nil
	}
	j.ob.Reset()
	j.arena = j.arena[:0]
	for s := 0; s < 2; s++ {
		sd := &j.sides[s]
		x := &j.expiry[s]
		if !x.due(w) {
			continue
		}
		keys := x.popDue(w, j.expKeys[:0])
		j.expKeys = keys
		if sd.outer && j.kcats != nil { // popDue sorted them bytewise: the order of key encodings already
			sort.Slice(keys, func(a, b int) bool { return j.keyLess(keys[a], keys[b]) })
		}
		dead := j.deadKeys[:0]
		for _, k := range keys {
			h := sd.st.hash(k)
			slot, ok := sd.st.find(k, h)
			if !ok {
				continue // a stale listing: the key went with its last row
			}
			r := sd.st.record(slot)
			kv := j.keyVals(r.key)
			if bb := r.big(&sd.st); bb != nil && bb.timed {
				empty, next, kept := j.pruneChunks(s, k, bb, kv, w)
				if empty {
					dead = append(dead, r.key)
				} else if kept && expiryBucket(next)*expiryGrain < w {
					x.add(next, k, h)
				}
				continue
			}
			next, kept := int64(0), false
			empty := j.filterBucket(s, slot, kv, func(it *jsIter) bool {
				j.pruneVisits++
				vals := j.rowVals(s, it.row(), kv, 0)
				e, ok := j.rowExpiry(s, vals)
				if ok && e < w {
					if j.changed != nil { // join_keyed.go
						j.noteRow(s, k, j.rowTime(s, vals))
					}
					if sd.outer && it.assoc() == 0 {
						for range it.count() {
							j.pair(s, vals, nil, changelog.Insert)
						}
					}
					return false
				}
				if ok && (!kept || e < next) {
					next, kept = e, true
				}
				return true
			})
			if empty {
				dead = append(dead, r.key)
			} else if kept && expiryBucket(next)*expiryGrain < w {
				x.add(next, k, h) // its bucket was popped: list the key again
			}
		}
		j.deleteKeys(s, dead)
		clear(dead)
		j.deadKeys = dead[:0]
		x.release()
	}
	return j.flushPadded()
}

// pruneChunks drops the rows of a timed bigBucket of side s (kv: its key's values) that expire below w,
// reading only the oldest chunks, up to the first whose minLo says that no later row expires, and of those
// only the ones whose bounds say they hold such a row (join_chunktimes.go): with a key's rows in about time
// order, a watermark reads the expiring rows and about a chunk of others, however many the key holds. It
// reports whether the bucket is empty, and else the earliest expiry of its rows (kept: there is one).
func (j *joinOp) pruneChunks(s int, key []byte, bb *bigBucket, kv []types.Value, w int64) (empty bool, next int64, kept bool) {
	sd := &j.sides[s]
	st := &sd.st
	ct := bb.times
	next = math.MaxInt64
	c := ct.from
	for ; c < len(bb.chunks) && j.timeExpiry(s, ct.minLo[c]) < w; c++ {
		b := bb.chunks[c]
		if ct.lo[c] > ct.hi[c] || j.timeExpiry(s, ct.lo[c]) >= w {
			if ct.lo[c] <= ct.hi[c] {
				next, kept = min(next, j.timeExpiry(s, ct.lo[c])), true
			}
			if c == ct.from && c < len(bb.chunks)-1 && !hasLiveEntry(st, b) {
				ct.from++
			}
			continue
		}
		lo, hi, live := int64(math.MaxInt64), int64(math.MinInt64), false
		for p := 0; p < len(b); {
			x := st.parseEntry(b, p)
			p = x.end
			if x.count == 0 {
				continue
			}
			j.pruneVisits++
			vals := j.rowVals(s, b[x.body:x.end], kv, 0)
			t := j.rowTime(s, vals)
			if t.IsNull() {
				live = true
				continue
			}
			if e := j.timeExpiry(s, t.I); e >= w {
				lo, hi, live = min(lo, t.I), max(hi, t.I), true
				next, kept = min(next, e), true
				continue
			}
			if sd.outer && st.assoc(b, &x) == 0 {
				for range x.count {
					j.pair(s, vals, nil, changelog.Insert)
				}
			}
			if j.changed != nil { // join_keyed.go
				j.noteRow(s, key, t)
			}
			bb.kill(0, c<<bbChunkBits|x.e, &x)
		}
		ct.lo[c], ct.hi[c] = lo, hi
		if !live && c == ct.from && c < len(bb.chunks)-1 { // the last chunk takes new rows
			ct.from++
		}
	}
	if c < len(bb.chunks) && ct.minLo[c] != math.MaxInt64 {
		next, kept = min(next, j.timeExpiry(s, ct.minLo[c])), true // the later chunks' rows expire after
	}
	if bb.rows == 0 {
		return true, 0, false
	}
	bb.compact(st, nil)
	return false, next, kept
}

// hasLiveEntry reports whether the chunk b of a bigBucket holds a live row entry.
func hasLiveEntry(st *joinStore, b []byte) bool {
	for p := 0; p < len(b); {
		x := st.parseEntry(b, p)
		if x.count != 0 {
			return true
		}
		p = x.end
	}
	return false
}
