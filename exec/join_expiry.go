package exec

import (
	"container/heap"
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
type expiryIndex struct {
	buckets map[int64]map[string]struct{}
	order   bucketHeap            // the buckets' numbers, smallest first
	free    []map[string]struct{} // emptied bucket sets, reused
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

// bucket returns the key set of bucket b, created when missing.
func (x *expiryIndex) bucket(b int64) map[string]struct{} {
	if set, ok := x.buckets[b]; ok {
		return set
	}
	if x.buckets == nil {
		x.buckets = make(map[int64]map[string]struct{})
	}
	var set map[string]struct{}
	if n := len(x.free); n > 0 {
		set, x.free = x.free[n-1], x.free[:n-1]
	} else {
		set = make(map[string]struct{})
	}
	x.buckets[b] = set
	heap.Push(&x.order, b)
	return set
}

// add lists key under the bucket of expiry e (the key bytes are copied when the pair is new).
func (x *expiryIndex) add(e int64, key []byte) {
	set := x.bucket(expiryBucket(e))
	if _, ok := set[string(key)]; !ok {
		set[string(key)] = struct{}{}
	}
}

// addString is add for a key already held as a string (no copy).
func (x *expiryIndex) addString(e int64, key string) {
	x.bucket(expiryBucket(e))[key] = struct{}{}
}

// due reports whether a row of the index may expire below watermark w (its bucket starts before w).
func (x *expiryIndex) due(w int64) bool {
	return len(x.order) > 0 && x.order[0]*expiryGrain < w
}

// popDue removes the buckets that start before w and appends their keys, each once, to keys (seen: a
// scratch set, cleared here).
func (x *expiryIndex) popDue(w int64, keys []string, seen map[string]struct{}) []string {
	clear(seen)
	for x.due(w) {
		b := heap.Pop(&x.order).(int64)
		set := x.buckets[b]
		delete(x.buckets, b)
		for k := range set {
			if _, ok := seen[k]; !ok {
				seen[k] = struct{}{}
				keys = append(keys, k)
			}
		}
		clear(set)
		x.free = append(x.free, set)
	}
	return keys
}

// size is the number of (bucket, key) pairs listed (tests).
func (x *expiryIndex) size() int {
	n := 0
	for _, set := range x.buckets {
		n += len(set)
	}
	return n
}

// rowExpiry is the time after which no future row of the other side can join a row of side s with values
// vals (see prune), and false when its time is NULL (the row never expires).
func (j *joinOp) rowExpiry(s int, vals []types.Value) (int64, bool) {
	iv := j.cfg.Interval
	if s == 0 {
		t := vals[iv.LeftTime]
		return t.I - iv.Lower, !t.IsNull()
	}
	t := vals[iv.RightTime]
	return t.I + iv.Upper, !t.IsNull()
}

// indexRow lists a row of side s just stored under key in the expiry index.
func (j *joinOp) indexRow(s int, key []byte, vals []types.Value) {
	if e, ok := j.rowExpiry(s, vals); ok {
		j.expiry[s].add(e, key)
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
			for it := st.iter(&r); it.next(); {
				j.indexRow(s, r.key, j.rowVals(s, it.row(), kv, 0))
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
	if j.expSeen == nil {
		j.expSeen = make(map[string]struct{})
	}
	for s := 0; s < 2; s++ {
		sd := &j.sides[s]
		x := &j.expiry[s]
		if !x.due(w) {
			continue
		}
		keys := x.popDue(w, j.expKeys[:0], j.expSeen)
		j.expKeys = keys
		if sd.outer {
			sort.Slice(keys, func(a, b int) bool { return j.keyLess([]byte(keys[a]), []byte(keys[b])) })
		}
		var dead [][]byte
		for _, k := range keys {
			slot, ok := sd.st.find([]byte(k), sd.st.hash([]byte(k)))
			if !ok {
				continue // a stale listing: the key went with its last row
			}
			r := sd.st.record(slot)
			kv := j.keyVals(r.key)
			next, kept := int64(0), false
			empty := j.filterBucket(s, slot, kv, func(it *jsIter) bool {
				j.pruneVisits++
				vals := j.rowVals(s, it.row(), kv, 0)
				e, ok := j.rowExpiry(s, vals)
				if ok && e < w {
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
				x.addString(next, k) // its bucket was popped: list the key again
			}
		}
		j.deleteKeys(s, dead)
	}
	return j.flushPadded()
}
