package exec

import (
	"math"
	"sort"
)

// chunkTimes bounds the times of the live rows in each chunk of an interval join's bigBucket (join_bucket.go),
// whose rows a key appends in arrival order, so roughly in time order: a watermark reads only the oldest
// chunks, those that may hold a row to drop, and a probe only the chunks that may hold a row inside its time
// bounds, found by binary search. Bounds may be wider than the rows (a superset is always safe): compaction
// unites those of the chunks it copies from, and a prune that scans a chunk makes them exact.
type chunkTimes struct {
	lo, hi []int64 // chunk c's rows with a time have times in [lo[c], hi[c]] (lo > hi: there is none)
	maxHi  []int64 // maxHi[c] >= hi[0..c]; non-decreasing
	minLo  []int64 // minLo[c] <= lo[c..]; non-decreasing
	from   int     // the chunks before from hold no live row
}

// grow gives chunks up to n (the bucket's chunk count) empty bounds.
func (ct *chunkTimes) grow(n int) {
	for c := len(ct.lo); c < n; c++ {
		prev := int64(math.MinInt64)
		if c > 0 {
			prev = ct.maxHi[c-1]
		}
		ct.lo = append(ct.lo, math.MaxInt64)
		ct.hi = append(ct.hi, math.MinInt64)
		ct.maxHi = append(ct.maxHi, prev)
		ct.minLo = append(ct.minLo, math.MaxInt64)
	}
}

// widen extends the bounds of chunk c, the last one, to [lo, hi]. A time earlier than the later chunks'
// lowers minLo back to the first chunk whose minLo is not above it (with rows in about time order, a few).
func (ct *chunkTimes) widen(c int, lo, hi int64) {
	ct.lo[c], ct.hi[c] = min(ct.lo[c], lo), max(ct.hi[c], hi)
	ct.maxHi[c] = max(ct.maxHi[c], hi)
	for i := c; i >= 0 && ct.minLo[i] > lo; i-- {
		ct.minLo[i] = lo
	}
}

// span returns the chunks [first, end) that may hold live rows with times in [lo, hi]; the caller still
// checks each chunk's own bounds.
func (ct *chunkTimes) span(lo, hi int64) (first, end int) {
	n := len(ct.lo)
	first = ct.from + sort.Search(n-ct.from, func(i int) bool { return ct.maxHi[ct.from+i] >= lo })
	end = sort.Search(n, func(i int) bool { return ct.minLo[i] > hi })
	return first, max(first, end)
}

// overlaps reports whether chunk c may hold a row with a time in [lo, hi].
func (ct *chunkTimes) overlaps(c int, lo, hi int64) bool {
	return ct.lo[c] <= hi && ct.hi[c] >= lo
}

func (ct *chunkTimes) reset() {
	ct.lo, ct.hi, ct.maxHi, ct.minLo, ct.from = ct.lo[:0], ct.hi[:0], ct.maxHi[:0], ct.minLo[:0], 0
}
