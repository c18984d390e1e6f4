package state

import "fmt"

// Memory is an in-memory Writer that can be read back: the state of one operator snapshot held in byte
// chunks (growing never copies what was written). It serves the 'hashmap' backend's snapshots, tests, and the restore of a subset of key groups.
//
// Entries are kept in Put order, each with the key group of its key (KeyGroup with DefaultMaxParallelism).
// Put does not deduplicate: putting the same (ns, key) twice keeps both entries. A Memory is not safe for
// concurrent use.
type Memory struct {
	chunks  [][]byte
	entries []memEntry
	size    int
}

// memChunk is the size of the byte chunks (a larger entry gets a chunk of its own).
const memChunk = 1 << 20

type memEntry struct {
	ns         uint8
	group      uint16
	chunk      int32
	off        int32 // key at chunks[chunk][off:off+klen], value right after it
	klen, vlen int32
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{} }

// Put copies key and value into the arena.
func (m *Memory) Put(ns uint8, key, value []byte) error {
	n := len(key) + len(value)
	if n > 1<<31-1 {
		return fmt.Errorf("state entry of %d bytes is too large (at most 2 GiB)", n)
	}
	last := len(m.chunks) - 1
	if last < 0 || len(m.chunks[last])+n > cap(m.chunks[last]) {
		m.chunks = append(m.chunks, make([]byte, 0, max(memChunk, n)))
		last++
	}
	c := m.chunks[last]
	e := memEntry{ns: ns, group: uint16(KeyGroup(key, DefaultMaxParallelism)), chunk: int32(last), off: int32(len(c)),
		klen: int32(len(key)), vlen: int32(len(value))}
	c = append(c, key...)
	m.chunks[last] = append(c, value...)
	m.entries = append(m.entries, e)
	m.size += n
	return nil
}

// Len is the number of entries.
func (m *Memory) Len() int { return len(m.entries) }

// Bytes is the total size of the keys and values put (without per-entry bookkeeping).
func (m *Memory) Bytes() int { return m.size }

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

// Next returns slices of the Memory's chunks; they stay valid as long as the Memory (callers must still not
// modify them).
func (r *memReader) Next() (ns uint8, key, value []byte, ok bool, err error) {
	for r.i < r.n {
		e := r.m.entries[r.i]
		r.i++
		if g := int(e.group); g < r.lo || g > r.hi {
			continue
		}
		c := r.m.chunks[e.chunk]
		kEnd, vEnd := e.off+e.klen, e.off+e.klen+e.vlen
		k, v := c[e.off:kEnd:kEnd], c[kEnd:vEnd:vEnd]
		return e.ns, k, v, true, nil
	}
	return 0, nil, nil, false, nil
}

var (
	_ Writer = (*Memory)(nil)
	_ Reader = (*memReader)(nil)
)
