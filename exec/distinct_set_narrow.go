package exec

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Narrow mode of a distinctSet: the fixed mode's table with 8-byte slots, half its memory, for a set whose
// owner allows it (narrowOK: DISTINCT aggregates' sets; not the group indexes of compact groups and window
// slices, which read the fixed table themselves). A slot holds the low 32 bits of the key's 8 bytes and a
// 32-bit count; the high 32 bits are the same for every key (hi: integer ids below 2^31 share them). The
// first key or count that does not fit — another high half, a count past 2^32-1 (a mask bit past the 32nd)
// — moves the set to fixed mode for good (widen), which keeps the slot positions: both modes place key k
// at the same home for the same table size.
//
// Once the sets of many groups outgrow the CPU caches (Nexmark q15/q16 per day, and per channel: the
// number of values per group grows with the events), the probe is a cache miss whose cost grows with the
// bytes the sets span; halving them lowers it, and halves the copying of a table that doubles.

type narrowSlot struct {
	key uint32
	cnt uint32
}

// home is the first slot to probe for fixed key k in a table of size slots (a power of two).
func home(k uint64, size int) uint64 {
	return mix64(k) >> (64 - bits.TrailingZeros(uint(size)))
}

// narrowMode reports whether the set is in narrow mode, starting it for a new set that allows it.
func (s *distinctSet) narrowMode() bool {
	if s.narrow != nil {
		return true
	}
	return s.narrowOK && !s.bytes && len(s.fixed) == 0
}

// narrowProbe returns the slot of key k in narrow mode (grown first if an insert would pass 3/4 full): the
// key's slot, or the empty slot it would take; ok false when k's high half is not the set's.
func (s *distinctSet) narrowProbe(k uint64) (sl *narrowSlot, ok bool) {
	if s.n == 0 {
		s.hi = uint32(k >> 32)
	} else if uint32(k>>32) != s.hi {
		return nil, false
	}
	if len(s.narrow) == 0 || (s.n+1)*4 > len(s.narrow)*3 {
		s.growNarrow()
	}
	mask := uint64(len(s.narrow) - 1)
	lo := uint32(k)
	for i := home(k, len(s.narrow)); ; i = (i + 1) & mask {
		if sl := &s.narrow[i]; sl.cnt == 0 || sl.key == lo {
			return sl, true
		}
	}
}

// addNarrow is addFixed in narrow mode: ok false when key k or its new count does not fit (nothing changed).
func (s *distinctSet) addNarrow(k uint64, d int64) (int64, bool) {
	sl, ok := s.narrowProbe(k)
	if !ok {
		return 0, false
	}
	c := int64(sl.cnt) + d
	if !s.putNarrow(sl, k, c) {
		return 0, false
	}
	return c, true
}

// orNarrow is orBits in narrow mode: ok false when the new count does not fit (nothing changed).
func (s *distinctSet) orNarrow(k uint64, bits int64) (int64, bool) {
	sl, ok := s.narrowProbe(k)
	if !ok {
		return 0, false
	}
	old := int64(sl.cnt)
	if !s.putNarrow(sl, k, old|bits) {
		return 0, false
	}
	return old, true
}

// putNarrow sets the count of key k's slot sl (narrowProbe; an empty slot is taken) to c: false when c does
// not fit a narrow count (nothing changed).
func (s *distinctSet) putNarrow(sl *narrowSlot, k uint64, c int64) bool {
	if c < 1 || c > math.MaxUint32 {
		return false
	}
	if sl.cnt == 0 {
		sl.key = uint32(k)
		s.n++
	}
	sl.cnt = uint32(c)
	return true
}

func (s *distinctSet) growNarrow() {
	old := s.narrow
	s.narrow = make([]narrowSlot, max(distinctSetMinSlots, 2*len(old)))
	mask := uint64(len(s.narrow) - 1)
	for _, sl := range old {
		if sl.cnt == 0 {
			continue
		}
		i := home(uint64(s.hi)<<32|uint64(sl.key), len(s.narrow))
		for s.narrow[i].cnt != 0 {
			i = (i + 1) & mask
		}
		s.narrow[i] = sl
	}
}

func (s *distinctSet) getNarrow(k uint64) (int64, bool) {
	if len(s.narrow) == 0 || uint32(k>>32) != s.hi {
		return 0, false
	}
	mask := uint64(len(s.narrow) - 1)
	lo := uint32(k)
	for i := home(k, len(s.narrow)); ; i = (i + 1) & mask {
		sl := &s.narrow[i]
		if sl.cnt == 0 {
			return 0, false
		}
		if sl.key == lo {
			return int64(sl.cnt), true
		}
	}
}

func (s *distinctSet) subNarrow(k uint64) int64 {
	if len(s.narrow) == 0 || uint32(k>>32) != s.hi {
		return -1
	}
	mask := uint64(len(s.narrow) - 1)
	lo := uint32(k)
	for i := home(k, len(s.narrow)); ; i = (i + 1) & mask {
		sl := &s.narrow[i]
		if sl.cnt == 0 {
			return -1
		}
		if sl.key != lo {
			continue
		}
		if sl.cnt--; sl.cnt > 0 {
			return int64(sl.cnt)
		}
		s.n--
		// Backward-shift deletion, as subFixed.
		for j := (i + 1) & mask; s.narrow[j].cnt != 0; j = (j + 1) & mask {
			h := home(uint64(s.hi)<<32|uint64(s.narrow[j].key), len(s.narrow))
			if (j-h)&mask >= (j-i)&mask {
				s.narrow[i] = s.narrow[j]
				i = j
			}
		}
		s.narrow[i] = narrowSlot{}
		return 0
	}
}

// eachNarrow is each in narrow mode.
func (s *distinctSet) eachNarrow(fn func(key []byte, cnt int64)) {
	s.keyBuf[0] = s.prefix
	for _, sl := range s.narrow {
		if sl.cnt != 0 {
			binary.BigEndian.PutUint64(s.keyBuf[1:], uint64(s.hi)<<32|uint64(sl.key))
			fn(s.keyBuf[:], int64(sl.cnt))
		}
	}
}

// widen moves a narrow set to fixed mode. The fixed table has the narrow table's size, so every key keeps
// its slot (home depends on the key and the size only).
func (s *distinctSet) widen() {
	old := s.narrow
	s.narrow, s.narrowOK = nil, false
	if len(old) == 0 {
		return
	}
	s.fixed = make([]fixedSlot, len(old))
	for i, sl := range old {
		if sl.cnt != 0 {
			s.fixed[i] = fixedSlot{key: uint64(s.hi)<<32 | uint64(sl.key), cnt: int64(sl.cnt)}
		}
	}
}
