package exec

// A join bucket holds the rows of one side under one join key, each once with its multiplicity. Storing a
// row or retracting one finds it by its full-row encoding (ident): by a scan while the bucket is small, and
// through an index once it holds more than bucketIndexMin distinct rows, so that inserts and retractions
// stay O(1) for keys with many rows (a window-keyed join holds every row of a window under one key). Small
// buckets keep arrival order; large ones remove by moving the last row into the hole (the order of a key's
// matches is not part of a join's result).

const bucketIndexMin = 32

type joinBucket struct {
	recs []*joinRec
	idx  map[string]int32 // ident → position in recs; nil while the bucket is small
}

// find returns the position of the row with ident id, or -1.
func (bk *joinBucket) find(id string) int {
	if bk.idx != nil {
		if i, ok := bk.idx[id]; ok {
			return int(i)
		}
		return -1
	}
	for i, r := range bk.recs {
		if r.ident() == id {
			return i
		}
	}
	return -1
}

// add appends a row that is not in the bucket yet.
func (bk *joinBucket) add(r *joinRec) {
	bk.recs = append(bk.recs, r)
	if bk.idx != nil {
		bk.idx[r.ident()] = int32(len(bk.recs) - 1)
	} else if len(bk.recs) > bucketIndexMin {
		bk.reindex()
	}
}

// removeAt removes the row at position i.
func (bk *joinBucket) removeAt(i int) {
	n := len(bk.recs)
	if bk.idx == nil {
		copy(bk.recs[i:], bk.recs[i+1:])
	} else {
		delete(bk.idx, bk.recs[i].ident())
		if i != n-1 {
			last := bk.recs[n-1]
			bk.recs[i] = last
			bk.idx[last.ident()] = int32(i)
		}
	}
	bk.recs[n-1] = nil
	bk.recs = bk.recs[:n-1]
}

// reindex rebuilds the index after recs was rewritten (filtered or loaded).
func (bk *joinBucket) reindex() {
	if len(bk.recs) <= bucketIndexMin {
		bk.idx = nil
		return
	}
	bk.idx = make(map[string]int32, len(bk.recs))
	for i, r := range bk.recs {
		bk.idx[r.ident()] = int32(i)
	}
}
