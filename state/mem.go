package state

// Memory is an in-memory Writer that can be read back: the state of one operator snapshot held in one byte
// arena. It serves the 'hashmap' backend's snapshots, tests, and the restore of a subset of key groups.
//
// Entries are kept in Put order, each with the key group of its key (KeyGroup with DefaultMaxParallelism).
// Put does not deduplicate: putting the same (ns, key) twice keeps both entries. A Memory is not safe for
// concurrent use.
type Memory struct {
	arena   []byte
	entries []memEntry
}

type memEntry struct {
	ns         uint8
	group      uint16
	off        int // key at arena[off:off+klen], value right after it
	klen, vlen int
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{} }

// Put copies key and value into the arena.
func (m *Memory) Put(ns uint8, key, value []byte) error {
	e := memEntry{ns: ns, group: uint16(KeyGroup(key, DefaultMaxParallelism)), off: len(m.arena), klen: len(key), vlen: len(value)}
	m.arena = append(m.arena, key...)
	m.arena = append(m.arena, value...)
	m.entries = append(m.entries, e)
	return nil
}

// Len is the number of entries.
func (m *Memory) Len() int { return len(m.entries) }

// Bytes is the total size of the keys and values put (without per-entry bookkeeping).
func (m *Memory) Bytes() int { return len(m.arena) }

// Reader returns a Reader over every entry, in Put order. Readers are independent of each other; entries put
// after the Reader was made are not seen.
func (m *Memory) Reader() Reader { return m.ReaderForKeyGroups(0, DefaultMaxParallelism-1) }

// ReaderForKeyGroups returns a Reader over the entries whose key group is in [lo, hi] (both inclusive, as
// Flink's KeyGroupRange), in Put order: what one parallel instance owning those key groups restores.
// Operator-wide entries (empty key) belong to KeyGroup(nil), like any other key.
func (m *Memory) ReaderForKeyGroups(lo, hi int) Reader {
	return &memReader{m: m, lo: lo, hi: hi, n: len(m.entries)}
}

type memReader struct {
	m      *Memory
	lo, hi int
	i, n   int
}

// Next returns slices of the Memory's arena; they stay valid as long as the Memory (callers must still not
// modify them).
func (r *memReader) Next() (ns uint8, key, value []byte, ok bool, err error) {
	for r.i < r.n {
		e := r.m.entries[r.i]
		r.i++
		if g := int(e.group); g < r.lo || g > r.hi {
			continue
		}
		k := r.m.arena[e.off : e.off+e.klen : e.off+e.klen]
		v := r.m.arena[e.off+e.klen : e.off+e.klen+e.vlen : e.off+e.klen+e.vlen]
		return e.ns, k, v, true, nil
	}
	return 0, nil, nil, false, nil
}

var (
	_ Writer = (*Memory)(nil)
	_ Reader = (*memReader)(nil)
)
