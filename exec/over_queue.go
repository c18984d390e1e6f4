package exec

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/sluicesql/sluice/types"
)

// overDeque is a FIFO of rows in memory: by reference (the rows' values live elsewhere and outlive the
// deque) or, with copyVals, copied into its own arena. A row returned by pop or peek is valid until the
// next push (which may compact the arena).
type overDeque struct {
	copyVals bool
	refs     [][]types.Value // by reference
	arena    []types.Value   // copyVals: the rows' values, one after the other
	spans    [][2]int        // copyVals: row i is arena[spans[i][0]:spans[i][1]]
	hd       int             // the first row not popped
	bytes    int64           // the estimated memory of the rows not popped
}

// overRowBytes estimates the memory of a row of vals: its values, their strings and its bookkeeping.
func overRowBytes(vals []types.Value) int64 {
	n := int64(sortValueSize*len(vals) + 24)
	for _, v := range vals {
		n += int64(len(v.S))
	}
	return n
}

func (d *overDeque) len() int {
	if d.copyVals {
		return len(d.spans) - d.hd
	}
	return len(d.refs) - d.hd
}

func (d *overDeque) push(vals []types.Value) {
	d.bytes += overRowBytes(vals)
	if !d.copyVals {
		if d.hd >= 1024 && 2*d.hd >= len(d.refs) {
			n := copy(d.refs, d.refs[d.hd:])
			clear(d.refs[n:])
			d.refs, d.hd = d.refs[:n], 0
		}
		d.refs = append(d.refs, vals)
		return
	}
	if d.hd >= 1024 && 2*d.hd >= len(d.spans) {
		shift := d.spans[d.hd][0]
		n := copy(d.arena, d.arena[shift:])
		clear(d.arena[n:])
		d.arena = d.arena[:n]
		k := copy(d.spans, d.spans[d.hd:])
		d.spans, d.hd = d.spans[:k], 0
		for i := range d.spans {
			d.spans[i][0] -= shift
			d.spans[i][1] -= shift
		}
	}
	s := len(d.arena)
	d.arena = append(d.arena, vals...)
	d.spans = append(d.spans, [2]int{s, len(d.arena)})
}

func (d *overDeque) peek() []types.Value {
	if d.copyVals {
		sp := d.spans[d.hd]
		return d.arena[sp[0]:sp[1]:sp[1]]
	}
	return d.refs[d.hd]
}

func (d *overDeque) pop() []types.Value {
	r := d.peek()
	d.bytes -= overRowBytes(r)
	if !d.copyVals {
		d.refs[d.hd] = nil
	}
	d.hd++
	if d.len() == 0 {
		d.reset()
	}
	return r
}

// reset empties the deque, keeping its memory; the rows returned before stay readable until the next push.
func (d *overDeque) reset() {
	d.refs, d.spans, d.hd, d.bytes = d.refs[:0], d.spans[:0], 0, 0
	if d.copyVals {
		d.arena = d.arena[:0]
	}
}

// overQueue is a FIFO of the rows of an OVER frame that may grow past memory: rows are copied in (or
// referenced, when they already live in the operator's memory: then it never spills); when the copied
// rows in memory exceed budget bytes, they are written to a temporary file in dir (the spill row encoding,
// rowcodec.go, each row preceded by its length) and read back, a chunk at a time, as the frame moves.
// Order: head (read back from the file) < the rows in the file < tail. The file is unlinked as soon as it
// is created (on Unix it vanishes when closed, also if the job fails) and removed again by close.
type overQueue struct {
	budget int64
	dir    string
	head   overDeque // rows read back from the file
	tail   overDeque // rows pushed since the last write
	nFile  int64     // rows in the file not read back yet
	f      *os.File
	w      *bufio.Writer
	rd     *bufio.Reader // reads back from rOff (reset for each chunk)
	wOff   int64         // the file's end (bytes written, flushed or not)
	rOff   int64         // where the rows not read back begin
	enc    []byte
	buf    []byte
	scr    []types.Value
	writes *int64 // counts the writes to the file (the operator's FrameSpills)
}

func newOverQueue(copyVals bool, budget int64, dir string, writes *int64) *overQueue {
	return &overQueue{budget: budget, dir: dir, head: overDeque{copyVals: true}, tail: overDeque{copyVals: copyVals}, writes: writes}
}

func (q *overQueue) len() int64 { return int64(q.head.len()) + q.nFile + int64(q.tail.len()) }

func (q *overQueue) push(vals []types.Value) error {
	q.tail.push(vals)
	if q.tail.copyVals && q.budget > 0 && q.tail.bytes >= q.budget {
		return q.spill()
	}
	return nil
}

// peek returns the first row (the queue must not be empty); it is valid until the next push or pop.
func (q *overQueue) peek() ([]types.Value, error) {
	if q.head.len() == 0 && q.nFile > 0 {
		if err := q.readBack(); err != nil {
			return nil, err
		}
	}
	if q.head.len() > 0 {
		return q.head.peek(), nil
	}
	return q.tail.peek(), nil
}

// pop removes the first row and returns it; it is valid until the next push or pop.
func (q *overQueue) pop() ([]types.Value, error) {
	if _, err := q.peek(); err != nil {
		return nil, err
	}
	if q.head.len() > 0 {
		return q.head.pop(), nil
	}
	return q.tail.pop(), nil
}

// spill appends the tail's rows to the file.
func (q *overQueue) spill() error {
	if q.f == nil {
		f, err := os.CreateTemp(q.dir, "sluice-over-*.spill")
		if err != nil {
			return fmt.Errorf("OVER aggregate: spill a partition's frame to %s (option 'io.tmp.dirs'): %w", q.dir, err)
		}
		_ = os.Remove(f.Name()) // the open file stays readable; the name goes now, so no failure leaves it
		q.f = f
		q.w = bufio.NewWriterSize(offsetWriter{q}, 256<<10)
	}
	for q.tail.len() > 0 {
		r := q.tail.pop()
		q.enc = appendRowBinary(q.enc[:0], r)
		q.buf = binary.AppendUvarint(q.buf[:0], uint64(len(q.enc)))
		q.buf = append(q.buf, q.enc...)
		if _, err := q.w.Write(q.buf); err != nil {
			return q.writeErr(err)
		}
		q.nFile++
	}
	q.tail.reset()
	if q.writes != nil {
		*q.writes++
	}
	return nil
}

func (q *overQueue) writeErr(err error) error {
	return fmt.Errorf("OVER aggregate: spill a partition's frame to %s (option 'io.tmp.dirs'): %w", q.dir, err)
}

// offsetWriter writes at the end of the queue's file.
type offsetWriter struct{ q *overQueue }

func (w offsetWriter) Write(p []byte) (int, error) {
	n, err := w.q.f.WriteAt(p, w.q.wOff)
	w.q.wOff += int64(n)
	return n, err
}

// readBack reads the next rows of the file into head, up to a quarter of the budget; once the file is read
// whole it is truncated, so that a queue whose frame moves on does not hold a growing file.
func (q *overQueue) readBack() error {
	if err := q.w.Flush(); err != nil {
		return q.writeErr(err)
	}
	if q.rd == nil {
		q.rd = bufio.NewReaderSize(nil, 64<<10)
	}
	q.rd.Reset(io.NewSectionReader(q.f, q.rOff, q.wOff-q.rOff))
	r := q.rd
	limit := max(q.budget/4, 1)
	for q.nFile > 0 && (q.head.len() == 0 || q.head.bytes < limit) {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return fmt.Errorf("OVER aggregate: read back a spilled frame from %s: %w", q.dir, err)
		}
		q.buf = slices.Grow(q.buf[:0], int(n))[:n]
		if _, err := io.ReadFull(r, q.buf); err != nil {
			return fmt.Errorf("OVER aggregate: read back a spilled frame from %s: %w", q.dir, err)
		}
		q.scr, _, err = decodeRowBinary(q.buf, q.scr)
		if err != nil {
			return fmt.Errorf("OVER aggregate: read back a spilled frame from %s: %w", q.dir, err)
		}
		q.head.push(q.scr)
		q.rOff += int64(uvarintLen(n)) + int64(n)
		q.nFile--
	}
	if q.nFile == 0 {
		if err := q.f.Truncate(0); err != nil {
			return q.writeErr(err)
		}
		q.rOff, q.wOff = 0, 0
	}
	return nil
}

// reset empties the queue for the next partition (the file is kept, truncated).
func (q *overQueue) reset() error {
	q.head.reset()
	q.tail.reset()
	if q.f != nil && (q.nFile > 0 || q.wOff > 0) {
		q.w.Reset(offsetWriter{q})
		q.nFile, q.rOff, q.wOff = 0, 0, 0
		if err := q.f.Truncate(0); err != nil {
			return q.writeErr(err)
		}
	}
	return nil
}

// close releases the file.
func (q *overQueue) close() {
	if q.f != nil {
		name := q.f.Name()
		q.f.Close()
		_ = os.Remove(name)
		q.f = nil
	}
}
