package exec

import (
	"bufio"
	"bytes"
	"cmp"
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// NewSort returns a batch sort of insert-only input by keys: it buffers every row and, at End, emits them
// in order as +I rows (then End), skipping the first offset rows and stopping after limit rows (limit -1:
// no limit). Rows with equal keys keep their input order.
//
// Without a limit, when the estimated memory of the buffered rows exceeds memBudget bytes (0 or less: no
// budget), the rows are sorted and spilled as a run to a temporary file in spillDir; at End the runs and
// the rows still in memory are merged. With a limit only the first limit+offset rows are kept (a bounded
// heap) and nothing is spilled. Sort keys are encoded by value tag (see appendSortKey), so no column types
// are needed.
func NewSort(keys []SortKey, limit, offset int64, memBudget int64, spillDir string, out changelog.Output) changelog.Output {
	s := &sortOp{keys: keys, limit: limit, offset: max(offset, 0), budget: memBudget, dir: spillDir, out: out,
		wm: minWatermark}
	if limit >= 0 {
		s.topK = limit + s.offset
		if s.topK < 0 { // overflow
			s.topK = 1<<63 - 1
		}
	}
	return s
}

// sortRow is a buffered row: its sort key encoding, its arrival number and its values.
type sortRow struct {
	key  []byte
	seq  uint64
	vals []types.Value
}

func cmpSortRow(a, b *sortRow) int {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

const (
	sortValChunk  = 8192     // values per arena chunk
	sortKeyChunk  = 64 << 10 // key bytes per arena chunk
	sortRowCost   = 64       // bookkeeping bytes per row in the memory estimate
	sortOutBatch  = 1024     // rows per emitted batch
	sortValueSize = 48       // bytes of a types.Value
)

type sortOp struct {
	keys   []SortKey
	limit  int64
	offset int64
	topK   int64 // limit+offset when a limit is set, else 0 (and limit < 0)
	budget int64
	dir    string
	out    changelog.Output
	seq    uint64
	keyBuf []byte
	wm     int64 // highest watermark received

	// full sort
	rows      []sortRow
	mem       int64
	valChunks [][]types.Value
	valChunk  int // index of the chunk being filled
	valPos    int
	keyChunks [][]byte
	keyChunk  int
	runs      []sortRun
	onSpill   func(path string) // test hook: called after each run is written

	// top-k (limit set)
	top topHeap

	batch changelog.Batch
	arena []types.Value

	colTypes []types.Type // the input's column types (NewSortColumns), nil: unknown
	vc       *sortCols    // the columnar batch being emitted, nil: rows (sort_vec.go)
}

func (s *sortOp) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		if !r.Kind.IsAccumulate() {
			return fmt.Errorf("sort: input must be insert-only, got a %s row", r.Kind)
		}
		s.seq++
		if s.limit >= 0 {
			s.pushTop(r.Vals)
			continue
		}
		s.keyBuf = appendSortKey(s.keyBuf[:0], r.Vals, s.keys)
		row := sortRow{key: s.allocKey(len(s.keyBuf)), seq: s.seq, vals: s.allocVals(len(r.Vals))}
		copy(row.key, s.keyBuf)
		copy(row.vals, r.Vals)
		s.rows = append(s.rows, row)
		s.mem += sortRowCost + int64(len(row.key)) + sortValueSize*int64(len(row.vals))
		for _, v := range r.Vals {
			s.mem += int64(len(v.S))
		}
		if s.budget > 0 && s.mem >= s.budget {
			if err := s.spill(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *sortOp) allocVals(n int) []types.Value {
	if n > sortValChunk {
		return make([]types.Value, n)
	}
	for {
		if s.valChunk < len(s.valChunks) {
			c := s.valChunks[s.valChunk]
			if s.valPos+n <= len(c) {
				v := c[s.valPos : s.valPos+n : s.valPos+n]
				s.valPos += n
				return v
			}
			s.valChunk++
			s.valPos = 0
			continue
		}
		s.valChunks = append(s.valChunks, make([]types.Value, sortValChunk))
	}
}

func (s *sortOp) allocKey(n int) []byte {
	if n > sortKeyChunk/4 {
		return make([]byte, n)
	}
	for {
		if s.keyChunk < len(s.keyChunks) {
			c := s.keyChunks[s.keyChunk]
			if len(c)+n <= cap(c) {
				s.keyChunks[s.keyChunk] = c[:len(c)+n]
				return c[len(c) : len(c)+n : len(c)+n]
			}
			s.keyChunk++
			continue
		}
		s.keyChunks = append(s.keyChunks, make([]byte, 0, sortKeyChunk))
	}
}

// resetArena makes the arenas reusable once the buffered rows were spilled.
func (s *sortOp) resetArena() {
	for _, c := range s.valChunks[:min(s.valChunk+1, len(s.valChunks))] {
		clear(c)
	}
	for i := range s.keyChunks {
		s.keyChunks[i] = s.keyChunks[i][:0]
	}
	s.valChunk, s.valPos, s.keyChunk = 0, 0, 0
	clear(s.rows)
	s.rows = s.rows[:0]
	s.mem = 0
}

func (s *sortOp) sortRows() {
	slices.SortFunc(s.rows, func(a, b sortRow) int { return cmpSortRow(&a, &b) })
}

// spill sorts the buffered rows and writes them as a run: per row uvarint key length, key, uvarint row
// length, row (appendRowBinary).
func (s *sortOp) spill() (err error) {
	if len(s.rows) == 0 {
		return nil
	}
	s.sortRows()
	f, err := os.CreateTemp(s.dir, "sluice-sort-*.run")
	if err != nil {
		return fmt.Errorf("sort: spill to %s: %w", s.dir, err)
	}
	// The run's name goes at once: the open file stays readable and writable, and no failure, cancellation
	// or kill of the job before End can leave it in the directory ('io.tmp.dirs'); its space is freed
	// when the file is closed (removeRuns, or the garbage collector's finalizer of a dropped operator).
	// (Where an open file cannot be removed, removeRuns removes it after closing it.)
	name := f.Name()
	_ = os.Remove(name)
	s.runs = append(s.runs, sortRun{f: f, name: name})
	w := bufio.NewWriterSize(f, 256<<10)
	var buf, row []byte
	for i := range s.rows {
		r := &s.rows[i]
		row = appendRowBinary(row[:0], r.vals)
		buf = binary.AppendUvarint(buf[:0], uint64(len(r.key)))
		buf = append(buf, r.key...)
		buf = binary.AppendUvarint(buf, uint64(len(row)))
		buf = append(buf, row...)
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("sort: spill to %s: %w", name, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("sort: spill to %s: %w", name, err)
	}
	s.resetArena()
	sortRunsSpilled.Add(1)
	if s.onSpill != nil {
		s.onSpill(name)
	}
	return nil
}

// sortRunsSpilled counts the runs every sort of the process has spilled (SortRunsSpilled).
var sortRunsSpilled atomic.Int64

// SortRunsSpilled is how many runs the sorts of this process have spilled so far: the files themselves are
// unlinked as they are written, so tests that make a sort spill read this to know it did.
func SortRunsSpilled() int64 { return sortRunsSpilled.Load() }

// sortRun is a spilled run: its open file, unlinked when written (spill), and the name it had.
type sortRun struct {
	f    *os.File
	name string
}

// removeRuns closes the spilled runs, which frees their space (and removes them where spill could not).
func (s *sortOp) removeRuns() {
	for _, r := range s.runs {
		r.f.Close()
		_ = os.Remove(r.name)
	}
	s.runs = nil
}

// Watermark is held back: the sort emits its rows at End, followed by the highest watermark it received.
func (s *sortOp) Watermark(ts int64) error {
	s.wm = max(s.wm, ts)
	return nil
}

func (s *sortOp) End() error {
	var err error
	s.startColumns()
	switch {
	case s.limit >= 0:
		err = s.endTop()
	case len(s.runs) == 0:
		s.sortRows()
		e := s.emitter()
		for i := range s.rows {
			if err = e.row(s.rows[i].vals); err != nil || e.done {
				break
			}
		}
		if err == nil {
			err = e.flush()
		}
	default:
		err = s.merge()
	}
	s.removeRuns()
	s.resetArena()
	if err != nil {
		return err
	}
	if s.wm > minWatermark {
		if err := s.out.Watermark(s.wm); err != nil {
			return err
		}
	}
	return s.out.End()
}

// sortEmitter pushes rows in batches, skipping offset rows and stopping after limit.
type sortEmitter struct {
	s    *sortOp
	skip int64
	left int64 // -1: unlimited
	done bool
}

func (s *sortOp) emitter() *sortEmitter {
	return &sortEmitter{s: s, skip: s.offset, left: s.limit}
}

func (e *sortEmitter) row(vals []types.Value) error {
	if e.skip > 0 {
		e.skip--
		return nil
	}
	if e.left == 0 {
		e.done = true
		return nil
	}
	if e.left > 0 {
		e.left--
	}
	s := e.s
	if s.vc != nil {
		return e.rowColumns(vals)
	}
	n := len(s.arena)
	s.arena = append(s.arena, vals...)
	s.batch.Append(changelog.Insert, s.arena[n:len(s.arena):len(s.arena)])
	if len(s.batch.Rows) >= sortOutBatch {
		return e.flushRows()
	}
	return nil
}

// flush pushes the rows or columns not pushed yet.
func (e *sortEmitter) flush() error {
	if e.s.vc != nil {
		return e.flushColumns()
	}
	return e.flushRows()
}

func (e *sortEmitter) flushRows() error {
	s := e.s
	if len(s.batch.Rows) == 0 {
		return nil
	}
	err := s.out.Push(&s.batch)
	s.batch.Reset()
	clear(s.arena)
	s.arena = s.arena[:0]
	return err
}

// mergeSrc is one sorted run in the k-way merge: a spill file or the rows still in memory.
type mergeSrc struct {
	run  int
	key  []byte
	vals []types.Value
	// file
	f   *os.File
	r   *bufio.Reader
	buf []byte
	// memory
	rows []sortRow
}

// next loads the next row; it reports false at the end of the run.
func (m *mergeSrc) next() (bool, error) {
	if m.f == nil {
		if len(m.rows) == 0 {
			return false, nil
		}
		m.key, m.vals = m.rows[0].key, m.rows[0].vals
		m.rows = m.rows[1:]
		return true, nil
	}
	kn, err := binary.ReadUvarint(m.r)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	m.key = slices.Grow(m.key[:0], int(kn))[:kn]
	if _, err := io.ReadFull(m.r, m.key); err != nil {
		return false, err
	}
	rn, err := binary.ReadUvarint(m.r)
	if err != nil {
		return false, err
	}
	m.buf = slices.Grow(m.buf[:0], int(rn))[:rn]
	if _, err := io.ReadFull(m.r, m.buf); err != nil {
		return false, err
	}
	m.vals, _, err = decodeRowBinary(m.buf, m.vals)
	return err == nil, err
}

type mergeHeap []*mergeSrc

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].key, h[j].key); c != 0 {
		return c < 0
	}
	return h[i].run < h[j].run
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(*mergeSrc)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (s *sortOp) merge() error {
	s.sortRows()
	var h mergeHeap
	var srcs []*mergeSrc
	for i, run := range s.runs { // End closes them (removeRuns)
		if _, err := run.f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("sort: read spilled run %s: %w", run.name, err)
		}
		srcs = append(srcs, &mergeSrc{run: i, f: run.f, r: bufio.NewReaderSize(run.f, 64<<10)})
	}
	srcs = append(srcs, &mergeSrc{run: len(s.runs), rows: s.rows})
	for _, m := range srcs {
		ok, err := m.next()
		if err != nil {
			return fmt.Errorf("sort: read spilled run: %w", err)
		}
		if ok {
			h = append(h, m)
		}
	}
	heap.Init(&h)
	e := s.emitter()
	for len(h) > 0 && !e.done {
		m := h[0]
		if err := e.row(m.vals); err != nil {
			return err
		}
		ok, err := m.next()
		if err != nil {
			return fmt.Errorf("sort: read spilled run: %w", err)
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return e.flush()
}

// topHeap is a max-heap of the best limit+offset rows so far.
type topHeap []*sortRow

func (h topHeap) Len() int           { return len(h) }
func (h topHeap) Less(i, j int) bool { return cmpSortRow(h[i], h[j]) > 0 }
func (h topHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *topHeap) Push(x any)        { *h = append(*h, x.(*sortRow)) }
func (h *topHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (s *sortOp) pushTop(vals []types.Value) {
	if s.topK == 0 {
		return
	}
	s.keyBuf = appendSortKey(s.keyBuf[:0], vals, s.keys)
	if int64(len(s.top)) < s.topK {
		heap.Push(&s.top, &sortRow{key: bytes.Clone(s.keyBuf), seq: s.seq, vals: changelog.CopyVals(vals)})
		return
	}
	worst := s.top[0]
	if bytes.Compare(s.keyBuf, worst.key) >= 0 { // equal keys: the earlier row wins
		return
	}
	worst.key = append(worst.key[:0], s.keyBuf...)
	worst.seq = s.seq
	if len(worst.vals) == len(vals) {
		copy(worst.vals, vals)
	} else {
		worst.vals = changelog.CopyVals(vals)
	}
	heap.Fix(&s.top, 0)
}

func (s *sortOp) endTop() error {
	slices.SortFunc(s.top, cmpSortRow)
	e := s.emitter()
	for _, r := range s.top {
		if err := e.row(r.vals); err != nil {
			return err
		}
	}
	s.top = nil
	return e.flush()
}
