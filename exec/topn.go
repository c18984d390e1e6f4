package exec

import (
	"bytes"
	"fmt"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// NewTopN returns a streaming global Top-N (ORDER BY keys LIMIT limit OFFSET offset), as Flink's
// retractable rank without a rank number. It keeps every input row in order (rows with equal keys in
// arrival order) and emits the changes of the window of positions offset .. offset+limit-1: +I for a row
// entering it, -D for a row leaving it. +I/+U input rows are inserted; -U/-D rows remove the earliest
// equal row (a retraction of an unknown row is ignored), letting the next row into the window. A negative
// limit means no limit. The output mode is +I/-D. It is one partition of a Rank's store (rank_store.go):
// the entries (sort key, arrival number, row reference) in a rankChunks of 512-byte chunks changed in place
// (rank_chunks.go), the rows in the store's row arena: inserting or retracting a row moves at most one
// chunk's bytes and writes the row once, allocating nothing as long as the state does not grow. (Until
// December 2026 the rows were in 4 KiB chunks, each change copying its chunk into a new allocation.)
func NewTopN(keys []SortKey, limit, offset int64, out changelog.Output) changelog.Output {
	return NewTopNTTL(keys, limit, offset, 0, nil, out)
}

// NewTopNTTL is NewTopN with the state TTL ('table.exec.state.ttl'; 0 keeps state forever) and its
// processing-time clock (time.Now when nil). The global Top-N is one partition, as in Flink (a Rank keyed by
// a constant): every row stored or retracted refreshes it, and when no row reached it for the TTL all its
// rows are dropped without emitting anything (downstream keeps the rows it was sent); later rows start the
// order anew (ttl.go).
func NewTopNTTL(keys []SortKey, limit, offset int64, ttl time.Duration, now func() time.Time, out changelog.Output) changelog.Output {
	return NewTopNOf(TopNConfig{Keys: keys, Limit: limit, Offset: offset, TTL: ttl, Now: now}, out)
}

// TopNConfig configures a streaming global Top-N (NewTopNOf).
type TopNConfig struct {
	Keys          []SortKey
	Limit, Offset int64 // a negative limit: no limit
	TTL           time.Duration
	Now           func() time.Time
	// InsertOnly: the input carries only +I rows (the planner's changelog mode). With a limit, a row that
	// falls past position Offset+Limit can never come back into the window, so the operator keeps only the
	// first Offset+Limit rows (Flink's AppendOnlyTopNFunction) and a row that sorts after all of them costs
	// one comparison and is not stored; a retraction is then an error.
	InsertOnly bool
}

// NewTopNOf is NewTopNTTL with the input's changelog mode (TopNConfig.InsertOnly).
func NewTopNOf(cfg TopNConfig, out changelog.Output) changelog.Output {
	t := &topN{keys: cfg.Keys, offset: max(cfg.Offset, 0), out: out, ttl: newStateTTL(cfg.TTL, cfg.Now)}
	t.end = 1<<63 - 1
	t.stop = t.offset // no limit: a position past the offset is in the window, wherever it is
	if cfg.Limit >= 0 && cfg.Limit+t.offset >= 0 {
		t.end = cfg.Limit + t.offset
		t.stop = t.end
		t.trim = cfg.InsertOnly
	}
	t.insertOnly = cfg.InsertOnly
	return t
}

type topN struct {
	keys   []SortKey
	offset int64 // window = positions [offset, end)
	end    int64
	// stop caps the positions the list returns (rankChunks.insertAt): positions past it change nothing
	// emitted, and counting the chunks before a row's stops there
	stop int64
	// insertOnly: the input has only +I rows (TopNConfig.InsertOnly); trim: and there is a limit, so only
	// the first end rows are kept, and tail is the sort key (with arrival number) of the last of them once
	// there are end rows
	insertOnly, trim bool
	tail             []byte
	out              changelog.Output
	list             rankChunks // the rows' entries in order
	// st holds the row arena of list's rows, the pool of its chunks and the sort key of the entry it
	// removed last; its partition table is unused (the operator is one partition)
	st  rankStore
	seq uint64
	ttl stateTTL
	// touched is when a row last changed the list (Unix ms, for the TTL).
	touched int64
	keyBuf  []byte
	dec     []types.Value
	arena   []types.Value
	batch   changelog.Batch
}

func (t *topN) Push(b *changelog.Batch) error {
	if t.end <= t.offset {
		return nil // LIMIT 0: the window is empty
	}
	t.tickTTL()
	t.arena = t.arena[:0]
	for _, r := range b.Rows {
		if !sortColsFit(r.Vals, t.keys) {
			return fmt.Errorf("top-n: a row has %d columns, fewer than the operator reads", len(r.Vals))
		}
		t.keyBuf = appendSortKey(t.keyBuf[:0], r.Vals, t.keys)
		if !r.Kind.IsAccumulate() && t.insertOnly {
			return fmt.Errorf("top-n: the input was planned as insert-only but carries a %s row", r.Kind)
		}
		if r.Kind.IsAccumulate() {
			t.insert(r.Vals)
		} else {
			t.remove(r.Vals)
		}
	}
	var err error
	if len(t.batch.Rows) > 0 {
		err = t.out.Push(&t.batch)
		clear(t.batch.Rows)
		t.batch.Reset()
		clear(t.arena) // decoded strings reference the row arena
		clear(t.dec)
	}
	t.tidy()
	return err
}

// tidy compacts the row arena once its garbage (retracted rows) is more than half its live rows (as a
// Rank's: rankStore.tidy). The old chunks are left to the GC: emitted rows reference their strings.
func (t *topN) tidy() {
	if a := &t.st.rows; a.garbage > jsChunkMin && a.garbage*3 > a.used {
		t.list.moveRows(&t.st, t.st.newRowArena())
	}
}

// emit appends a row to the output batch (copied into the batch's arena). A full arena is replaced by one
// twice its size up to 64 Ki values (the rows emitted keep the old one), so that the arena soon holds a
// whole push's output and later pushes allocate nothing.
func (t *topN) emit(kind changelog.Kind, vals []types.Value) {
	n := len(vals)
	if len(t.arena)+n > cap(t.arena) {
		t.arena = make([]types.Value, 0, max(1024, 4*n, min(2*cap(t.arena), 1<<16)))
	}
	s := len(t.arena)
	t.arena = append(t.arena, vals...)
	t.batch.Append(kind, t.arena[s:len(t.arena):len(t.arena)])
}

// emitEnt emits a stored row (its strings reference the row arena, whose bytes are never changed).
func (t *topN) emitEnt(kind changelog.Kind, e rEnt) {
	t.dec = rankDecodeRow(t.st.row(&e), t.dec)
	t.emit(kind, t.dec)
}

func (t *topN) insert(vals []types.Value) {
	t.seq++
	ol := len(t.keyBuf)
	kb := appendSeq(t.keyBuf, t.seq)
	sl := len(kb)
	if t.trim && int64(t.list.total) >= t.end && bytes.Compare(kb[:sl], t.tail) > 0 {
		t.keyBuf = kb
		return // numbered past the window, for good: the input never retracts the rows before it
	}
	kb = appendRowBinary(kb, vals)
	t.keyBuf = kb
	r := t.list.insertAt(&t.st, rEnt{sk: kb[:sl:sl], row: kb[sl:], ol: ol}, t.stop)
	t.touched = t.ttl.now
	if r >= t.end {
		return
	}
	if r >= t.offset {
		t.emit(changelog.Insert, vals)
	} else if in, ok := t.list.at(t.offset); ok { // the row before the window shifted into it
		t.emitEnt(changelog.Insert, in)
	}
	if out, ok := t.list.at(t.end); ok { // the last row of the window was pushed out
		t.emitEnt(changelog.Delete, out)
	}
	if t.trim {
		t.trimTail()
	}
}

// trimTail drops the rows past the window (insert-only input with a limit: they can never come back into
// it) and remembers the sort key of the last row kept once the window is full.
func (t *topN) trimTail() {
	if int64(t.list.total) > t.end {
		t.list.truncate(&t.st, int(t.end))
	}
	if int64(t.list.total) == t.end {
		last, _ := t.list.at(t.end - 1)
		t.tail = append(t.tail[:0], last.sk...)
	}
}

func (t *topN) remove(vals []types.Value) {
	e, r, ok := t.list.removeEqualAt(&t.st, t.keyBuf, func(row []byte) bool {
		t.dec = rankDecodeRow(row, t.dec)
		return rowsEqual(t.dec, vals)
	}, t.stop)
	if !ok {
		return
	}
	t.touched = t.ttl.now
	if r >= t.end {
		return
	}
	if r >= t.offset {
		t.emitEnt(changelog.Delete, e)
	} else if gone, ok := t.list.at(t.offset - 1); ok { // the window's first row shifted before it
		t.emitEnt(changelog.Delete, gone)
	}
	if in, ok := t.list.at(t.end - 1); ok { // the row after the window moved into it
		t.emitEnt(changelog.Insert, in)
	}
}

func (t *topN) Watermark(ts int64) error {
	t.tickTTL()
	return t.out.Watermark(ts)
}

func (t *topN) End() error { return t.out.End() }

// tickTTL reads the clock for the TTL and drops all rows when none was stored or retracted for the TTL.
// It runs before every batch, so expired rows are never used (whatever the scan interval).
func (t *topN) tickTTL() {
	t.ttl.tick()
	if t.list.total > 0 && t.ttl.expired(t.touched) {
		t.reset()
	}
}

// reset drops every row (the TTL expired, or a restore starts).
func (t *topN) reset() {
	t.list.release(&t.st)
	t.st.rows = joinStore{}
}

// rowsEqual compares two rows value by value (grouping equality, by tag; no types needed).
func rowsEqual(a, b []types.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !types.Equal(a[i], b[i], types.Type{}) {
			return false
		}
	}
	return true
}
