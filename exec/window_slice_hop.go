package exec

import (
	"bytes"
	"encoding/binary"
	"slices"

	"github.com/sluicesql/sluice/types"
)

// Firing a HOP window over compact slices without a scratch hash table. A HOP window is the merge of
// size/gcd(size, slide) slices, and every slice belongs to as many windows. Merging the slices' groups into
// one hash table per window and sorting its keys costs a random access per (window, key): once a window's
// keys outgrow the CPU caches, that is a cache miss per group per window, and the cost per row grows with
// the number of keys (Nexmark q5 at 10M events). Instead each slice keeps its keys sorted (cslice.ord),
// sorted once when a window first needs it and again only when the slice has gained keys since; a window
// fires as a k-way merge of its slices' sorted keys, which reads every slice sequentially and emits the keys
// in order as it goes. The results are the hash merge's: each key's slots are the zero slots merged with the
// slices' in slice order (sliceCompact.mergeSlots), in the same key order (fixed-width keys as uint64s,
// others by their encoding's bytes).
//
// Decimal sums (lay.hasDec) keep the hash merge (fireWindowCompact), which checks that a window's sums fit
// int64 before it emits anything.

// ordKey is one key of a slice in sorted order: fixed-width keys (distinctSet's fixed mode) by value,
// others by their offset and length in the slice index's arena.
type ordKey struct {
	key  uint64 // fixed mode: the key; bytes mode: the key's offset in the index's arena
	klen uint32 // bytes mode: the key's length
	i    int32  // the group number
}

// sortedKeys returns the keys of s in order, sorting them when s has gained keys since they were sorted.
func (c *sliceCompact) sortedKeys(s *cslice) []ordKey {
	if s.ordN == s.n && len(s.ord) == int(s.n) {
		return s.ord
	}
	s.ord = s.ord[:0]
	if !s.idx.bytes {
		for _, sl := range s.idx.fixed {
			if sl.cnt != 0 {
				s.ord = append(s.ord, ordKey{key: sl.key, i: int32(sl.cnt - 1)})
			}
		}
		c.tmp = radixSortKeys(s.ord, c.tmp)
	} else {
		for _, sl := range s.idx.slots {
			if sl.cnt != 0 {
				s.ord = append(s.ord, ordKey{key: sl.off, klen: sl.klen, i: int32(sl.cnt - 1)})
			}
		}
		arena := s.idx.arena
		slices.SortFunc(s.ord, func(a, b ordKey) int {
			return bytes.Compare(arena[a.key:a.key+uint64(a.klen)], arena[b.key:b.key+uint64(b.klen)])
		})
	}
	s.ordN = s.n
	return s.ord
}

// radixSortKeys sorts keys by key (least significant byte first, skipping the bytes every key shares),
// using tmp as scratch space; it returns tmp for reuse.
func radixSortKeys(keys, tmp []ordKey) []ordKey {
	if len(keys) < 64 {
		slices.SortFunc(keys, func(a, b ordKey) int {
			switch {
			case a.key < b.key:
				return -1
			case a.key > b.key:
				return 1
			}
			return 0
		})
		return tmp
	}
	var counts [8][256]int
	for _, k := range keys {
		for d := range 8 {
			counts[d][byte(k.key>>(8*d))]++
		}
	}
	if cap(tmp) < len(keys) {
		tmp = make([]ordKey, len(keys))
	}
	tmp = tmp[:len(keys)]
	src, dst := keys, tmp
	for d := range 8 {
		cnt := &counts[d]
		if cnt[byte(keys[0].key>>(8*d))] == len(keys) {
			continue // every key has this byte
		}
		pos := 0
		for b := range cnt {
			n := cnt[b]
			cnt[b] = pos
			pos += n
		}
		for _, k := range src {
			b := byte(k.key >> (8 * d))
			dst[cnt[b]] = k
			cnt[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
	return tmp
}

// hopCursor walks one slice's sorted keys during a window's merge.
type hopCursor struct {
	s   *cslice
	ord []ordKey
	pos int
	kb  [9]byte // fixed mode: the current key's encoding
}

// key returns the encoding of the current key.
func (h *hopCursor) key() []byte {
	o := &h.ord[h.pos]
	if !h.s.idx.bytes {
		binary.BigEndian.PutUint64(h.kb[1:], o.key)
		return h.kb[:]
	}
	return h.s.idx.arena[o.key : o.key+uint64(o.klen)]
}

// hopMergeMax is the most slices a window merges by their sorted keys (the least key is found by a linear
// scan over the slices); windows of more slices merge through the hash table.
const hopMergeMax = 16

// fireHopCompact emits the results of the HOP window [start, end) by a k-way merge of its slices' sorted
// keys (see above); it reports false, having done nothing, when the window is for the hash merge.
func (w *sliceWindowAgg) fireHopCompact(start, end int64) (bool, error) {
	c := w.c
	if c.lay.hasDec {
		return false, nil
	}
	cur := c.cursors[:0]
	total := 0
	fixed := true
	step := w.spec.sliceSize()
	for se := start + step; se <= end; se += step {
		sl := c.slices[se]
		if sl == nil || sl.n == 0 {
			continue
		}
		if len(cur) == hopMergeMax {
			c.cursors = cur[:0]
			return false, nil
		}
		if sl.idx.bytes || (len(cur) > 0 && sl.idx.prefix != cur[0].s.idx.prefix) {
			fixed = false
		}
		cur = append(cur, hopCursor{s: sl})
		total += int(sl.n)
	}
	c.cursors = cur
	for i := range cur {
		cur[i].ord = c.sortedKeys(cur[i].s)
		cur[i].kb[0] = cur[i].s.idx.prefix
	}
	stride := c.lay.stride
	if cap(c.scratch) < stride {
		c.scratch = make([]int64, stride)
	}
	acc := c.scratch[:stride]
	at := c.at[:0]
	sv, ev := types.TimestampValue(start, 0), types.TimestampValue(end, 0)
	w.emitBegin(total)
	var err error
	for len(cur) > 0 && err == nil {
		// the least current key, and every cursor at it (in slice order, the hash merge's order)
		m := 0
		for i := 1; i < len(cur); i++ {
			if fixed {
				if cur[i].ord[cur[i].pos].key < cur[m].ord[cur[m].pos].key {
					m = i
				}
			} else if bytes.Compare(cur[i].key(), cur[m].key()) < 0 {
				m = i
			}
		}
		at = at[:0]
		if fixed {
			mk := cur[m].ord[cur[m].pos].key
			for i := range cur {
				if cur[i].ord[cur[i].pos].key == mk {
					at = append(at, i)
				}
			}
		} else {
			mk := cur[m].key()
			for i := range cur {
				if i == m || bytes.Equal(cur[i].key(), mk) {
					at = append(at, i)
				}
			}
		}
		clear(acc)
		for _, i := range at {
			h := &cur[i]
			c.mergeSlots(acc, h.s.group(h.ord[h.pos].i, stride), w.proto)
		}
		err = w.emitRow(cur[m].key(), acc, sv, ev)
		// move the cursors at the key on, dropping the ones at their end
		done := false
		for _, i := range at {
			cur[i].pos++
			done = done || cur[i].pos == len(cur[i].ord)
		}
		if done {
			cur = slices.DeleteFunc(cur, func(h hopCursor) bool { return h.pos == len(h.ord) })
		}
	}
	c.at = at
	clear(c.cursors[:cap(c.cursors)])
	if err != nil {
		return true, err
	}
	return true, w.emitFlush()
}
