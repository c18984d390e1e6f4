package exec

import "fmt"

// A bigBucket holds the rows of a join key that has more than jsSmallRows distinct rows (or larger ones):
// its row entries (join_store.go) appended in arrival order, and an open-addressing index from the rows'
// identity hashes to their entries, so that storing or retracting a row is O(1) however many rows the key
// holds (a window-keyed join holds every row of a window under one key). A removed row's entry stays as a
// dead entry (count 0) until dead entries are more than half of the data; then the live ones are copied, in
// order, into new data (the old data is not overwritten: emitted rows may reference its strings).

type bigBucket struct {
	data []byte
	idx  []uint64 // power-of-two table; 0: empty, else hash<<32 | (entry offset + 1)
	rows int      // live entries
	dead int      // bytes of dead entries
}

// bigBucketMax is the most bytes of entries a bigBucket holds (its index keeps 32-bit offsets).
const bigBucketMax = 1<<32 - 2

var errBigBucket = fmt.Errorf("a join key holds more than %d bytes of rows", bigBucketMax)

// find returns the offset of the entry with hash h for which eq is true, or -1.
func (bb *bigBucket) find(h uint32, eq func(off int) bool) int {
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

// add appends an entry whose row hashes to h.
func (bb *bigBucket) add(h uint32, entry []byte) error {
	if len(bb.data)+len(entry) > bigBucketMax {
		return errBigBucket
	}
	off := len(bb.data)
	bb.data = append(bb.data, entry...)
	bb.rows++
	bb.index(h, off)
	return nil
}

func (bb *bigBucket) index(h uint32, off int) {
	if (bb.rows+1)*4 > len(bb.idx)*3 {
		n := max(64, 2*len(bb.idx))
		old := bb.idx
		bb.idx = make([]uint64, n)
		for _, v := range old {
			if v != 0 {
				bb.place(v)
			}
		}
	}
	bb.place(uint64(h)<<32 | uint64(off+1))
}

func (bb *bigBucket) place(v uint64) {
	mask := len(bb.idx) - 1
	i := int(uint32(v>>32)) & mask
	for bb.idx[i] != 0 {
		i = (i + 1) & mask
	}
	bb.idx[i] = v
}

// unindex removes the index entry of the entry at off (hash h).
func (bb *bigBucket) unindex(h uint32, off int) {
	mask := len(bb.idx) - 1
	want := uint64(h)<<32 | uint64(off+1)
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

// kill marks the entry x dead (its count written as 0 in the same width) and unindexes it.
func (bb *bigBucket) kill(h uint32, x *jsEntry) {
	putUvarintWidth(bb.data[x.e:x.fix], 0)
	bb.unindex(h, x.e)
	bb.rows--
	bb.dead += x.end - x.e
}

// compact copies the live entries, in order, into new data and rebuilds the index (hash gives an entry
// body's hash) when dead entries are most of the data.
func (bb *bigBucket) compact(st *joinStore, hash func(body []byte) uint32) {
	if bb.dead*2 <= len(bb.data) {
		return
	}
	old := bb.data
	bb.data = make([]byte, 0, len(old)-bb.dead)
	bb.idx = make([]uint64, len(bb.idx))
	bb.rows, bb.dead = 0, 0
	for p := 0; p < len(old); {
		x := st.parseEntry(old, p)
		p = x.end
		if x.count == 0 {
			continue
		}
		off := len(bb.data)
		bb.data = append(bb.data, old[x.e:x.end]...)
		bb.rows++
		bb.index(hash(old[x.body:x.end]), off)
	}
}
