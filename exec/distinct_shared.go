package exec

// A group's DISTINCT aggregates that read the same argument columns (of the same type) under different
// FILTERs — COUNT(DISTINCT bidder), COUNT(DISTINCT bidder) FILTER (WHERE price < 10000), ... (Nexmark q15,
// q16) — share one set of argument encodings, as Flink shares one MapView per distinct argument: each
// aggregate is a variant of the set, and a value's entry says which variants hold it:
//
//   - insert-only input (the aggregates do not retract): the distinctSet's count of a value is a bitmask of
//     the variants that saw it (at most sdMaxMaskVariants variants, so that it stays positive);
//   - input with retractions: the count is the value's entry number + 1 in counts, which holds nv exact
//     multiplicities per entry (an entry is freed when all of them are 0).
//
// Each variant's view (the values it holds, with their multiplicities; 1 in mask mode, where multiplicities
// are not kept because nothing retracts) is what its aggregate snapshots, in the format of an unshared
// DISTINCT aggregate (accstate.go), so snapshots of either kind restore into the other.
type sharedDistinct struct {
	idx     distinctSet
	nv      int
	mask    bool
	counts  []int64 // counts mode: nv multiplicities per entry
	free    []int64 // counts mode: entries of deleted values
	nkeys   []int   // values per variant
	pending uint64  // variants whose reset is pending (applied by flush: see reset)
	kbuf    []byte  // flush's keys
	chg     []sdChange
}

const sdMaxMaskVariants = 62

func newSharedDistinct(nv int, mask bool) *sharedDistinct {
	s := &sharedDistinct{nv: nv, mask: mask, nkeys: make([]int, nv)}
	s.idx.narrowOK = true
	return s
}

// reset empties variant v. Groups reset all their accumulators one after the other, so the work is
// deferred: once every variant has asked, the whole set is emptied at once; any other call first clears
// the variants that asked (flush).
func (s *sharedDistinct) reset(v int) {
	s.pending |= 1 << v
	if s.pending == 1<<s.nv-1 {
		s.idx.reset()
		s.counts, s.free = s.counts[:0], s.free[:0]
		clear(s.nkeys)
		s.pending = 0
	}
}

// flush applies pending resets: it clears the variants that asked for one from every value, deleting the
// values no other variant holds.
func (s *sharedDistinct) flush() {
	if s.pending == 0 {
		return
	}
	pend := s.pending
	s.pending = 0
	for v := range s.nv {
		if pend&(1<<v) != 0 {
			s.nkeys[v] = 0
		}
	}
	s.kbuf, s.chg = s.kbuf[:0], s.chg[:0]
	s.idx.each(func(key []byte, c int64) {
		var sub int64
		if s.mask {
			if sub = c & int64(pend); sub == 0 {
				return
			}
		} else {
			e := (c - 1) * int64(s.nv)
			live := false
			for v := range s.nv {
				if pend&(1<<v) != 0 {
					s.counts[e+int64(v)] = 0
				} else if s.counts[e+int64(v)] != 0 {
					live = true
				}
			}
			if live {
				return
			}
			sub = c // delete
		}
		s.chg = append(s.chg, sdChange{off: len(s.kbuf), n: len(key), del: sub == c})
		s.chg[len(s.chg)-1].sub = sub
		s.kbuf = append(s.kbuf, key...)
	})
	for _, ch := range s.chg {
		k := s.kbuf[ch.off : ch.off+ch.n]
		if !ch.del {
			s.idx.add(k, -ch.sub)
			continue
		}
		if !s.mask {
			s.free = append(s.free, ch.sub-1)
		}
		s.idx.del(k)
	}
}

// sdChange is a change flush makes to the value kbuf[off:off+n] once it has iterated the set.
type sdChange struct {
	off, n int
	del    bool
	sub    int64 // mask mode: the bits to clear; counts mode (del): the value's entry + 1
}

// add adds d ≥ 1 occurrences of key to variant v and reports whether v did not hold key before (mask mode
// keeps no multiplicities: d is not recorded).
func (s *sharedDistinct) add(key []byte, v int, d int64) (isNew bool) {
	s.flush()
	if s.mask {
		bit := int64(1) << v
		if s.idx.orBits(key, bit)&bit != 0 {
			return false
		}
		s.nkeys[v]++
		return true
	}
	c, ok := s.idx.get(key)
	var e int64
	if ok {
		e = c - 1
	} else {
		if n := len(s.free); n > 0 {
			e = s.free[n-1]
			s.free = s.free[:n-1]
		} else {
			e = int64(len(s.counts) / s.nv)
			for range s.nv {
				s.counts = append(s.counts, 0)
			}
		}
		s.idx.add(key, e+1)
	}
	p := &s.counts[e*int64(s.nv)+int64(v)]
	*p += d
	if *p == d {
		s.nkeys[v]++
		return true
	}
	return false
}

// sub removes one occurrence of key from variant v and returns v's new multiplicity (-1: v does not hold
// it). In mask mode (insert-only input, where nothing retracts) it drops v's bit.
func (s *sharedDistinct) sub(key []byte, v int) int64 {
	s.flush()
	c, ok := s.idx.get(key)
	if !ok {
		return -1
	}
	if s.mask {
		bit := int64(1) << v
		if c&bit == 0 {
			return -1
		}
		if c == bit {
			s.idx.del(key)
		} else {
			s.idx.add(key, -bit)
		}
		s.nkeys[v]--
		return 0
	}
	e := (c - 1) * int64(s.nv)
	p := &s.counts[e+int64(v)]
	if *p == 0 {
		return -1
	}
	*p--
	if *p > 0 {
		return *p
	}
	s.nkeys[v]--
	for i := range int64(s.nv) {
		if s.counts[e+i] != 0 {
			return 0
		}
	}
	s.idx.del(key)
	s.free = append(s.free, c-1)
	return 0
}

// count reports v's multiplicity of key (0: none).
func (s *sharedDistinct) count(key []byte, v int) int64 {
	s.flush()
	c, ok := s.idx.get(key)
	if !ok {
		return 0
	}
	if s.mask {
		return c >> v & 1
	}
	return s.counts[(c-1)*int64(s.nv)+int64(v)]
}

// len is the number of values of variant v.
func (s *sharedDistinct) len(v int) int {
	s.flush()
	return s.nkeys[v]
}

// each calls fn with every value of variant v and its multiplicity (1 in mask mode).
func (s *sharedDistinct) each(v int, fn func(key []byte, n int64)) {
	s.flush()
	s.idx.each(func(key []byte, c int64) {
		if s.mask {
			if c>>v&1 != 0 {
				fn(key, 1)
			}
			return
		}
		if n := s.counts[(c-1)*int64(s.nv)+int64(v)]; n != 0 {
			fn(key, n)
		}
	})
}

// shareDistinct links the DISTINCT aggregates among accs (one group's accumulators) that read the same
// argument columns of the same type to one sharedDistinct, each its own variant. Aggregates alone with
// their argument keep their own set.
func shareDistinct(accs []accumulator) {
	var ds []*distinctAcc
	for _, a := range accs {
		if d, ok := a.(*distinctAcc); ok {
			ds = append(ds, d)
		}
	}
	if len(ds) < 2 {
		return
	}
	used := make([]bool, len(ds))
	for i, d := range ds {
		if used[i] {
			continue
		}
		members := []*distinctAcc{d}
		for k := i + 1; k < len(ds); k++ {
			if !used[k] && sameDistinctArg(d, ds[k]) && (d.s.retract || len(members) < sdMaxMaskVariants) {
				members = append(members, ds[k])
				used[k] = true
			}
		}
		if len(members) < 2 {
			continue
		}
		sh := newSharedDistinct(len(members), !d.s.retract)
		for v, m := range members {
			m.sh, m.v = sh, v
		}
	}
}

func sameDistinctArg(a, b *distinctAcc) bool {
	if a.s.retract != b.s.retract || len(a.cols) != len(b.cols) || !a.s.argType.Equal(b.s.argType) {
		return false
	}
	for i := range a.cols {
		if a.cols[i] != b.cols[i] {
			return false
		}
	}
	return true
}
