package exec

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
)

// The batch sort orders its buffered rows through small entries instead of moving the rows: an entry holds the
// first 16 bytes of the row's sort key encoding (appendSortKey, byte-comparable) as two big-endian words
// (zero-padded) and the row's index. Entries compare by those words, then, where the words are equal, by
// the whole encodings (unless both are 16 bytes or shorter and of the same length: then they are equal), then
// by index (arrival), which keeps the sort stable. Fixed-width keys (a BIGINT is 9 bytes, two are 18) are
// mostly told apart by the words alone, with no indirection to the key bytes; the rows are then put in order
// in place, each moved once, instead of being swapped about by the sort.

// sortEntry is a buffered row's normalized key prefix and index.
type sortEntry struct {
	p0, p1 uint64
	idx    uint32
}

// sortPrefixOf returns key's first 16 bytes as two big-endian words, zero-padded.
func sortPrefixOf(key []byte) (p0, p1 uint64) {
	if len(key) >= 16 {
		return binary.BigEndian.Uint64(key), binary.BigEndian.Uint64(key[8:])
	}
	var b [16]byte
	copy(b[:], key)
	return binary.BigEndian.Uint64(b[:]), binary.BigEndian.Uint64(b[8:])
}

// sortRows orders the buffered rows by key, then arrival.
func (s *sortOp) sortRows() {
	n := len(s.rows)
	if n < 2 {
		return
	}
	if uint64(n) > 1<<32-1 { // entries index rows in 32 bits
		slices.SortFunc(s.rows, func(a, b sortRow) int { return cmpSortRow(&a, &b) })
		return
	}
	es := s.entries[:0]
	for i := range s.rows {
		p0, p1 := sortPrefixOf(s.rows[i].key)
		es = append(es, sortEntry{p0: p0, p1: p1, idx: uint32(i)})
	}
	rows := s.rows
	slices.SortFunc(es, func(a, b sortEntry) int {
		if a.p0 != b.p0 {
			return cmp.Compare(a.p0, b.p0)
		}
		if a.p1 != b.p1 {
			return cmp.Compare(a.p1, b.p1)
		}
		ka, kb := rows[a.idx].key, rows[b.idx].key
		if len(ka) > 16 || len(kb) > 16 || len(ka) != len(kb) {
			if c := bytes.Compare(ka, kb); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.idx, b.idx)
	})
	// Put the rows in order in place, a cycle of the permutation at a time: position i gets row es[i].idx;
	// a placed position's entry is marked by its own index.
	for i := range es {
		if es[i].idx == uint32(i) {
			continue
		}
		tmp, j := rows[i], i
		for {
			k := int(es[j].idx)
			es[j].idx = uint32(j)
			if k == i {
				rows[j] = tmp
				break
			}
			rows[j] = rows[k]
			j = k
		}
	}
	s.entries = es[:0]
}
