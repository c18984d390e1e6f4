package exec

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
)

// distinctSet is the multiset of a DISTINCT aggregate's argument encodings (types.AppendKey of the argument
// columns) with the multiplicity of each: an open-addressing hash table (linear probing, backward-shift
// deletion) whose slots hold no Go pointers, so that the garbage collector never scans it however large it
// grows, and no allocation per entry.
//
// It starts in fixed mode, where every key is 9 bytes with the same first byte (one non-NULL integer,
// date or time argument: the not-NULL marker then 8 bytes): a slot is the 8 bytes as a uint64 and the
// count, 16 bytes. The first key of another shape moves the set to bytes mode for good: keys back to back
// in one byte arena, a slot is the key's offset, length, hash and count, 24 bytes. Deleted keys' bytes are
// reclaimed by compacting the arena when they are more than half of it.
//
// A slot is free when its count is 0 (a live key's count is at least 1). Iteration (each) visits the keys
// in slot order. compactGroups (groupagg_compact.go) uses the same table as its index from group-key
// encodings to group numbers (the "count" is the group number + 1).
type distinctSet struct {
	n      int // live keys
	bytes  bool
	prefix byte // fixed mode: the first byte of every key (valid when n > 0 or fixed has slots)
	fixed  []fixedSlot
	slots  []byteSlot
	arena  []byte
	dead   int // bytes mode: arena bytes of deleted keys
	keyBuf [9]byte
	// narrow mode (distinct_set_narrow.go): fixed keys in 8-byte slots
	narrowOK bool // the owner allows narrow mode (set before the first add; widen clears it)
	narrow   []narrowSlot
	hi       uint32 // narrow mode: the high 32 bits of every key
}

type fixedSlot struct {
	key uint64
	cnt int64
}

type byteSlot struct {
	off  uint64
	klen uint32
	hash uint32
	cnt  int64
}

// distinctSetMinSlots is the table size of a set's first key; tables double at 3/4 load.
const distinctSetMinSlots = 8

var distinctSeed = maphash.MakeSeed()

func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// fixedHome is the first slot to probe for fixed key k: the top bits of its hash, so that the slots hold
// the keys in the order of their hashes (but for the probe runs that wrap around the table's end) and growing
// the table (growFixed) writes the new table front to back instead of at random, which keeps a table larger
// than the CPU caches from costing a cache miss per key when it doubles.
func (s *distinctSet) fixedHome(k uint64) uint64 {
	return mix64(k) >> (64 - bits.TrailingZeros(uint(len(s.fixed))))
}

func (s *distinctSet) fixedKey(key []byte) (uint64, bool) {
	if s.bytes || len(key) != 9 || (s.n > 0 && key[0] != s.prefix) {
		return 0, false
	}
	return binary.BigEndian.Uint64(key[1:]), true
}

// len returns the number of distinct keys.
func (s *distinctSet) len() int { return s.n }

// add adds d to key's count and returns the new count. d must be ≥ 1 for a new key, and a count must stay ≥ 1.
func (s *distinctSet) add(key []byte, d int64) int64 {
	if k, ok := s.fixedKey(key); ok {
		if s.n == 0 {
			s.prefix = key[0]
		}
		if s.narrowMode() {
			if c, ok := s.addNarrow(k, d); ok {
				return c
			}
			s.widen()
		}
		return s.addFixed(k, d)
	}
	if !s.bytes {
		s.toBytes()
	}
	return s.addBytes(key, d)
}

// sub subtracts 1 from key's count, deleting the key at 0, and returns the new count (-1: key absent).
func (s *distinctSet) sub(key []byte) int64 {
	if s.n == 0 {
		return -1
	}
	if !s.bytes {
		k, ok := s.fixedKey(key)
		if !ok {
			return -1 // every key of a fixed set has the fixed shape
		}
		if s.narrow != nil {
			return s.subNarrow(k)
		}
		return s.subFixed(k)
	}
	return s.subBytes(key)
}

// get returns key's count (0, false: absent).
func (s *distinctSet) get(key []byte) (int64, bool) {
	if s.n == 0 {
		return 0, false
	}
	if !s.bytes {
		k, ok := s.fixedKey(key)
		if !ok {
			return 0, false
		}
		if s.narrow != nil {
			return s.getNarrow(k)
		}
		mask := uint64(len(s.fixed) - 1)
		for i := s.fixedHome(k); ; i = (i + 1) & mask {
			sl := &s.fixed[i]
			if sl.cnt == 0 {
				return 0, false
			}
			if sl.key == k {
				return sl.cnt, true
			}
		}
	}
	return s.getHashed(key, hashKey(key))
}

// getHashed is get of a bytes-mode set's key whose hashKey is h.
func (s *distinctSet) getHashed(key []byte, h uint32) (int64, bool) {
	if s.n == 0 {
		return 0, false
	}
	mask := uint32(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		sl := &s.slots[i]
		if sl.cnt == 0 {
			return 0, false
		}
		if sl.hash == h && int(sl.klen) == len(key) && string(s.arena[sl.off:sl.off+uint64(sl.klen)]) == string(key) {
			return sl.cnt, true
		}
	}
}

// del deletes key whatever its count (used as a map from keys to positive values: see compactGroups).
func (s *distinctSet) del(key []byte) {
	if n, ok := s.get(key); ok {
		s.add(key, 1-n) // count 1, which sub takes to 0 and deletes
		s.sub(key)
	}
}

// reset empties the set, keeping its mode and tables for reuse.
func (s *distinctSet) reset() {
	clear(s.fixed)
	clear(s.narrow)
	clear(s.slots)
	s.arena = s.arena[:0]
	s.n, s.dead = 0, 0
}

// each calls fn with every key and its count (key is valid during the call only).
func (s *distinctSet) each(fn func(key []byte, cnt int64)) {
	if s.narrow != nil {
		s.eachNarrow(fn)
		return
	}
	if !s.bytes {
		s.keyBuf[0] = s.prefix
		for _, sl := range s.fixed {
			if sl.cnt != 0 {
				binary.BigEndian.PutUint64(s.keyBuf[1:], sl.key)
				fn(s.keyBuf[:], sl.cnt)
			}
		}
		return
	}
	for _, sl := range s.slots {
		if sl.cnt != 0 {
			fn(s.arena[sl.off:sl.off+uint64(sl.klen)], sl.cnt)
		}
	}
}

func (s *distinctSet) addFixed(k uint64, d int64) int64 {
	if len(s.fixed) == 0 || (s.n+1)*4 > len(s.fixed)*3 {
		s.growFixed()
	}
	mask := uint64(len(s.fixed) - 1)
	for i := s.fixedHome(k); ; i = (i + 1) & mask {
		sl := &s.fixed[i]
		if sl.cnt == 0 {
			sl.key, sl.cnt = k, d
			s.n++
			return d
		}
		if sl.key == k {
			sl.cnt += d
			return sl.cnt
		}
	}
}

// orBits sets bits (> 0) in key's count, adding key with count bits when it is absent, and returns the
// count before (0: key was absent): one probe where get then add take two (sharedDistinct's mask mode).
func (s *distinctSet) orBits(key []byte, bits int64) int64 {
	if k, ok := s.fixedKey(key); ok {
		if s.n == 0 {
			s.prefix = key[0]
		}
		if s.narrowMode() {
			if c, ok := s.orNarrow(k, bits); ok {
				return c
			}
			s.widen()
		}
		if len(s.fixed) == 0 || (s.n+1)*4 > len(s.fixed)*3 {
			s.growFixed()
		}
		mask := uint64(len(s.fixed) - 1)
		for i := s.fixedHome(k); ; i = (i + 1) & mask {
			sl := &s.fixed[i]
			if sl.cnt == 0 {
				sl.key, sl.cnt = k, bits
				s.n++
				return 0
			}
			if sl.key == k {
				old := sl.cnt
				sl.cnt |= bits
				return old
			}
		}
	}
	if !s.bytes {
		s.toBytes()
	}
	h := hashKey(key)
	if c, ok := s.getHashed(key, h); ok {
		if c|bits != c {
			s.addBytesHashed(key, h, c|bits-c)
		}
		return c
	}
	s.addBytesHashed(key, h, bits)
	return 0
}

func (s *distinctSet) growFixed() {
	old := s.fixed
	s.fixed = make([]fixedSlot, max(distinctSetMinSlots, 2*len(old)))
	mask := uint64(len(s.fixed) - 1)
	for _, sl := range old {
		if sl.cnt == 0 {
			continue
		}
		i := s.fixedHome(sl.key)
		for s.fixed[i].cnt != 0 {
			i = (i + 1) & mask
		}
		s.fixed[i] = sl
	}
}

func (s *distinctSet) subFixed(k uint64) int64 {
	if len(s.fixed) == 0 {
		return -1
	}
	mask := uint64(len(s.fixed) - 1)
	for i := s.fixedHome(k); ; i = (i + 1) & mask {
		sl := &s.fixed[i]
		if sl.cnt == 0 {
			return -1
		}
		if sl.key != k {
			continue
		}
		if sl.cnt--; sl.cnt > 0 {
			return sl.cnt
		}
		s.n--
		// Backward-shift deletion: move later keys of the probe run into the hole.
		for j := (i + 1) & mask; s.fixed[j].cnt != 0; j = (j + 1) & mask {
			home := s.fixedHome(s.fixed[j].key)
			if (j-home)&mask >= (j-i)&mask {
				s.fixed[i] = s.fixed[j]
				i = j
			}
		}
		s.fixed[i] = fixedSlot{}
		return 0
	}
}

// toBytes moves a fixed set's keys into bytes mode.
func (s *distinctSet) toBytes() {
	s.widen()
	old := s.fixed
	s.bytes, s.n, s.fixed = true, 0, nil
	var kb [9]byte
	kb[0] = s.prefix
	for _, sl := range old {
		if sl.cnt != 0 {
			binary.BigEndian.PutUint64(kb[1:], sl.key)
			s.addBytes(kb[:], sl.cnt)
		}
	}
}

func hashKey(key []byte) uint32 {
	h := maphash.Bytes(distinctSeed, key)
	return uint32(h ^ h>>32)
}

func (s *distinctSet) addBytes(key []byte, d int64) int64 {
	return s.addBytesHashed(key, hashKey(key), d)
}

// addBytesHashed is addBytes of a key whose hashKey is h.
func (s *distinctSet) addBytesHashed(key []byte, h uint32, d int64) int64 {
	if len(s.slots) == 0 || (s.n+1)*4 > len(s.slots)*3 {
		s.growBytes()
	}
	mask := uint32(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		sl := &s.slots[i]
		if sl.cnt == 0 {
			off := uint64(len(s.arena))
			s.arena = append(s.arena, key...)
			*sl = byteSlot{off: off, klen: uint32(len(key)), hash: h, cnt: d}
			s.n++
			return d
		}
		if sl.hash == h && int(sl.klen) == len(key) && string(s.arena[sl.off:sl.off+uint64(sl.klen)]) == string(key) {
			sl.cnt += d
			return sl.cnt
		}
	}
}

func (s *distinctSet) growBytes() {
	old := s.slots
	s.slots = make([]byteSlot, max(distinctSetMinSlots, 2*len(old)))
	mask := uint32(len(s.slots) - 1)
	for _, sl := range old {
		if sl.cnt == 0 {
			continue
		}
		i := sl.hash & mask
		for s.slots[i].cnt != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = sl
	}
}

func (s *distinctSet) subBytes(key []byte) int64 {
	if len(s.slots) == 0 {
		return -1
	}
	h := hashKey(key)
	mask := uint32(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		sl := &s.slots[i]
		if sl.cnt == 0 {
			return -1
		}
		if sl.hash != h || int(sl.klen) != len(key) || string(s.arena[sl.off:sl.off+uint64(sl.klen)]) != string(key) {
			continue
		}
		if sl.cnt--; sl.cnt > 0 {
			return sl.cnt
		}
		s.n--
		s.dead += int(sl.klen)
		for j := (i + 1) & mask; s.slots[j].cnt != 0; j = (j + 1) & mask {
			home := s.slots[j].hash & mask
			if (j-home)&mask >= (j-i)&mask {
				s.slots[i] = s.slots[j]
				i = j
			}
		}
		s.slots[i] = byteSlot{}
		if s.dead > 64 && s.dead*2 > len(s.arena) {
			s.compactArena()
		}
		return 0
	}
}

// compactArena copies the live keys into a new arena.
func (s *distinctSet) compactArena() {
	arena := make([]byte, 0, len(s.arena)-s.dead)
	for i := range s.slots {
		sl := &s.slots[i]
		if sl.cnt == 0 {
			continue
		}
		off := uint64(len(arena))
		arena = append(arena, s.arena[sl.off:sl.off+uint64(sl.klen)]...)
		sl.off = off
	}
	s.arena, s.dead = arena, 0
}
