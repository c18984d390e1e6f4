package exec

// The global Top-N as it was before its rows moved to byte chunks (rows as Go values): the oracle of
// TestTopNStoreProperty.

import (
	"bytes"
	"cmp"
	"slices"
	"sort"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// newRefTopN returns a streaming global Top-N (ORDER BY keys LIMIT limit OFFSET offset), as Flink's
// retractable rank without a rank number. It keeps every input row in order (rows with equal keys in
// arrival order) and emits the changes of the window of positions offset .. offset+limit-1: +I for a row
// entering it, -D for a row leaving it. +I/+U input rows are inserted; -U/-D rows remove the earliest
// equal row (a retraction of an unknown row is ignored), letting the next row into the window. A negative
// limit means no limit. The output mode is +I/-D.
func newRefTopN(keys []SortKey, limit, offset int64, out changelog.Output) changelog.Output {
	t := &refTopN{keys: keys, offset: max(offset, 0), out: out}
	t.end = 1<<63 - 1
	if limit >= 0 && limit+t.offset >= 0 {
		t.end = limit + t.offset
	}
	return t
}

type refTopN struct {
	keys   []SortKey
	offset int64 // window = positions [offset, end)
	end    int64
	out    changelog.Output
	list   refRankList
	seq    uint64
	keyBuf []byte
	batch  changelog.Batch
}

func (t *refTopN) Push(b *changelog.Batch) error {
	if t.end <= t.offset {
		return nil // LIMIT 0: the window is empty
	}
	for _, r := range b.Rows {
		t.keyBuf = appendSortKey(t.keyBuf[:0], r.Vals, t.keys)
		if r.Kind.IsAccumulate() {
			t.insert(r.Vals)
		} else {
			t.remove(r.Vals)
		}
	}
	if len(t.batch.Rows) == 0 {
		return nil
	}
	err := t.out.Push(&t.batch)
	clear(t.batch.Rows)
	t.batch.Reset()
	return err
}

func (t *refTopN) insert(vals []types.Value) {
	t.seq++
	e := &refRankEntry{key: bytes.Clone(t.keyBuf), seq: t.seq, vals: changelog.CopyVals(vals)}
	r := t.list.insert(e, t.end)
	if r >= t.end {
		return
	}
	if r >= t.offset {
		t.batch.Append(changelog.Insert, e.vals)
	} else if in := t.list.at(t.offset); in != nil { // the row before the window shifted into it
		t.batch.Append(changelog.Insert, in.vals)
	}
	if out := t.list.at(t.end); out != nil { // the last row of the window was pushed out
		t.batch.Append(changelog.Delete, out.vals)
	}
}

func (t *refTopN) remove(vals []types.Value) {
	e, r := t.list.remove(t.keyBuf, vals, t.end)
	if e == nil || r >= t.end {
		return
	}
	if r >= t.offset {
		t.batch.Append(changelog.Delete, e.vals)
	} else if gone := t.list.at(t.offset - 1); gone != nil { // the window's first row shifted before it
		t.batch.Append(changelog.Delete, gone.vals)
	}
	if in := t.list.at(t.end - 1); in != nil { // the row after the window moved into it
		t.batch.Append(changelog.Insert, in.vals)
	}
}

func (t *refTopN) Watermark(ts int64) error { return t.out.Watermark(ts) }
func (t *refTopN) End() error               { return t.out.End() }

// refRankEntry is a row kept by Top-N, ordered by (key, seq). Its vals are never mutated.
type refRankEntry struct {
	key  []byte
	seq  uint64
	vals []types.Value
}

func refCmpRank(a, b *refRankEntry) int {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// refRankList is an ordered list of entries in chunks of at most refRankChunk, so that inserting and removing
// cost O(log n + refRankChunk) and finding a position below limit walks at most limit/refRankChunk chunks.
type refRankList struct {
	chunks [][]*refRankEntry
}

const refRankChunk = 256

// prefix returns the number of entries in the chunks before ci, stopping early once it reaches stop.
func (l *refRankList) prefix(ci int, stop int64) int64 {
	var n int64
	for _, c := range l.chunks[:ci] {
		n += int64(len(c))
		if n >= stop {
			return stop
		}
	}
	return n
}

// insert adds e and returns its position (capped at stop).
func (l *refRankList) insert(e *refRankEntry, stop int64) int64 {
	if len(l.chunks) == 0 {
		l.chunks = append(l.chunks, []*refRankEntry{e})
		return 0
	}
	ci := sort.Search(len(l.chunks), func(i int) bool {
		c := l.chunks[i]
		return refCmpRank(c[len(c)-1], e) > 0
	})
	if ci == len(l.chunks) {
		ci--
	}
	c := l.chunks[ci]
	pos := sort.Search(len(c), func(i int) bool { return refCmpRank(c[i], e) > 0 })
	c = slices.Insert(c, pos, e)
	if len(c) > refRankChunk {
		half := len(c) / 2
		tail := slices.Clone(c[half:])
		clear(c[half:])
		c = c[:half]
		l.chunks = slices.Insert(l.chunks, ci+1, tail)
	}
	l.chunks[ci] = c
	return min(l.prefix(ci, stop)+int64(pos), stop)
}

// remove deletes the earliest entry with sort key key and values equal to vals; it returns the entry and
// its former position (capped at stop), or nil.
func (l *refRankList) remove(key []byte, vals []types.Value, stop int64) (*refRankEntry, int64) {
	ci := sort.Search(len(l.chunks), func(i int) bool {
		c := l.chunks[i]
		return bytes.Compare(c[len(c)-1].key, key) >= 0
	})
	for ; ci < len(l.chunks); ci++ {
		c := l.chunks[ci]
		pos := sort.Search(len(c), func(i int) bool { return bytes.Compare(c[i].key, key) >= 0 })
		for ; pos < len(c); pos++ {
			e := c[pos]
			if !bytes.Equal(e.key, key) {
				return nil, 0
			}
			if rowsEqual(e.vals, vals) {
				rank := min(l.prefix(ci, stop)+int64(pos), stop)
				c = slices.Delete(c, pos, pos+1)
				if len(c) == 0 {
					l.chunks = slices.Delete(l.chunks, ci, ci+1)
				} else {
					l.chunks[ci] = c
				}
				return e, rank
			}
		}
	}
	return nil, 0
}

// at returns the entry at position p, or nil.
func (l *refRankList) at(p int64) *refRankEntry {
	if p < 0 {
		return nil
	}
	for _, c := range l.chunks {
		if p < int64(len(c)) {
			return c[p]
		}
		p -= int64(len(c))
	}
	return nil
}
