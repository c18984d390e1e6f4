package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// ipcBatchRows is the number of rows of one record batch of an intermediate result file.
const ipcBatchRows = 8192

// ipcWriter is the output of a batch stage: it writes the rows it is given into an Arrow IPC file (the
// random-access "file" format, whose footer lists the record batches). The file is written under a
// temporary name and renamed to path when End succeeds, so a file at path is always complete.
type ipcWriter struct {
	path   string
	types  []types.Type
	schema *arrow.Schema

	f       *os.File
	bw      *bufio.Writer
	w       *ipc.FileWriter
	rb      *array.RecordBuilder
	kind    *array.Int8Builder
	apps    []arrowAppender
	pending int
	rows    int64
	ended   bool
	bufSize int // the file's write buffer (0: 256 KiB); smaller when a task writes many subpartitions
	maxRows int // rows of one record batch (0: ipcBatchRows); smaller likewise
}

func newIPCWriter(path string, ts []types.Type) (*ipcWriter, error) {
	sc, err := exchangeSchema(ts)
	if err != nil {
		return nil, err
	}
	return &ipcWriter{path: path, types: ts, schema: sc}, nil
}

// fail wraps an error of writing the file, naming it.
func (w *ipcWriter) fail(err error) error {
	return fmt.Errorf("writing the intermediate result file %s: %w", w.path, err)
}

func (w *ipcWriter) open() error {
	f, err := os.OpenFile(w.path+".inprogress", os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return w.fail(err)
	}
	if w.bufSize == 0 {
		w.bufSize = 256 << 10
	}
	if w.maxRows == 0 {
		w.maxRows = ipcBatchRows
	}
	w.f, w.bw = f, bufio.NewWriterSize(f, w.bufSize)
	if w.w, err = ipc.NewFileWriter(w.bw, ipc.WithSchema(w.schema), ipc.WithAllocator(ipcAlloc)); err != nil {
		return w.fail(err)
	}
	w.rb = array.NewRecordBuilder(ipcAlloc, w.schema)
	w.kind = w.rb.Field(0).(*array.Int8Builder)
	w.apps = make([]arrowAppender, len(w.types))
	for i, t := range w.types {
		w.apps[i] = compileArrowAppender(t, w.rb.Field(i+1))
	}
	return nil
}

func (w *ipcWriter) Push(b *changelog.Batch) error {
	if w.f == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	for _, r := range b.Rows {
		w.kind.Append(int8(r.Kind))
		for i, app := range w.apps {
			if err := app(r.Vals[i]); err != nil {
				return w.fail(fmt.Errorf("column %d: %w", i+1, err))
			}
		}
		w.pending++
		if w.pending == w.maxRows {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	w.rows += int64(len(b.Rows))
	return nil
}

func (w *ipcWriter) flush() error {
	if w.pending == 0 {
		return nil
	}
	rec := w.rb.NewRecordBatch()
	defer rec.Release()
	w.pending = 0
	if err := w.w.Write(rec); err != nil {
		return w.fail(err)
	}
	return nil
}

func (w *ipcWriter) Watermark(int64) error { return nil }

// End completes the file: the last record batch, the footer, then the rename to its final name.
func (w *ipcWriter) End() error {
	if w.ended {
		return nil
	}
	w.ended = true
	if w.f == nil {
		if err := w.open(); err != nil { // an empty result is a file without record batches
			return err
		}
	}
	err := w.flush()
	if err == nil {
		if err = w.w.Close(); err != nil {
			err = w.fail(err)
		}
	}
	if err == nil {
		if err = w.bw.Flush(); err != nil {
			err = w.fail(err)
		}
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = w.fail(cerr)
	}
	w.rb.Release()
	w.f = nil
	if err == nil {
		if err = os.Rename(w.path+".inprogress", w.path); err != nil {
			err = w.fail(err)
		}
	}
	if err != nil {
		_ = os.Remove(w.path + ".inprogress")
	}
	return err
}

// discard removes what a failed attempt wrote.
func (w *ipcWriter) discard() {
	if w.f != nil {
		_ = w.f.Close()
		w.rb.Release()
		w.f = nil
	}
	_ = os.Remove(w.path + ".inprogress")
}

// ipcSource reads the intermediate result of stage st back as the input of a later stage (task): slot part
// (a subpartition, batch_reuse.go) of the files of every task of st, task after task (batch_tasks.go), or of task only's file alone when
// it is set (a forward input: batch_sink.go).
type ipcSource struct {
	st   *batchStage
	part int
	only *stageTask
}

func (s *ipcSource) ChangelogMode() changelog.Mode { return changelog.AllKinds }
func (s *ipcSource) Bounded() bool                 { return true }

func (s *ipcSource) Run(ctx context.Context, out changelog.Output) error {
	for t := range max(1, len(s.st.tasks)) {
		if s.only != nil && t != s.only.index {
			continue
		}
		if err := readIPCFile(ctx, s.st.slotFile(t, s.part), s.st.types, out); err != nil {
			return err
		}
	}
	return nil
}

// readIPCFile pushes the rows of one intermediate result file to out.
func readIPCFile(ctx context.Context, path string, ts []types.Type, out changelog.Output) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading the intermediate result file: %w", err)
	}
	defer f.Close()
	fail := func(err error) error {
		return fmt.Errorf("reading the intermediate result file %s: %w", path, err)
	}
	defer func() {
		if p := recover(); p != nil { // arrow-go panics on some malformed input
			err = fail(fmt.Errorf("%v", p))
		}
	}()
	rd, err := ipc.NewFileReader(f, ipc.WithAllocator(ipcAlloc))
	if err != nil {
		return fail(err)
	}
	defer rd.Close()
	if got := rd.Schema().NumFields(); got != len(ts)+1 {
		return fail(fmt.Errorf("it has %d columns, the stage expects %d", got-1, len(ts)))
	}
	if vec.Accepts(out) {
		return readIPCColumns(ctx, rd, ts, out, fail)
	}
	fills := make([]arrowFill, len(ts))
	for i, t := range ts {
		fills[i] = compileArrowFill(t)
	}
	width := len(ts)
	var slab []types.Value
	var batch changelog.Batch
	for i := 0; i < rd.NumRecords(); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := rd.RecordBatch(i)
		if err != nil {
			return fail(err)
		}
		n := int(rec.NumRows())
		if cap(slab) < n*width {
			slab = make([]types.Value, n*width)
		}
		slab = slab[:n*width]
		clear(slab)
		for c, fill := range fills {
			fill(rec.Column(c+1), slab, width, c)
		}
		kinds := rec.Column(0).(*array.Int8).Int8Values()
		batch.Reset()
		for r := 0; r < n; r++ {
			batch.Append(changelog.Kind(kinds[r]), slab[r*width:(r+1)*width:(r+1)*width])
		}
		if err := out.Push(&batch); err != nil {
			return err
		}
	}
	return nil
}

// fileGone reports an intermediate result file that no longer exists.
func fileGone(path string) bool {
	_, err := os.Stat(path)
	return errors.Is(err, os.ErrNotExist)
}

// ipcAlloc recycles the buffers of the record batches of intermediate result files: a writer releases each
// batch once it is written, a reader before it reads the next, and the values taken from a batch never alias
// its buffers (fills and getters copy strings and bytes), so a batch's memory can serve the next one.
var ipcAlloc = &recyclingAllocator{}

// recyclingAllocator is a memory.Allocator keeping freed buffers by power-of-two size class.
type recyclingAllocator struct {
	pools [48]sync.Pool
}

func sizeClass(n int) int { return bits.Len(uint(max(n, 64) - 1)) }

func (a *recyclingAllocator) Allocate(size int) []byte {
	c := sizeClass(size)
	if p, ok := a.pools[c].Get().(*[]byte); ok {
		b := (*p)[:size]
		clear(b)
		return b
	}
	return make([]byte, size, 1<<c)
}

func (a *recyclingAllocator) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := a.Allocate(size)
	copy(nb, b)
	a.Free(b)
	return nb
}

func (a *recyclingAllocator) Free(b []byte) {
	c := sizeClass(cap(b))
	if cap(b) != 1<<c || c >= len(a.pools) {
		return // not one of ours
	}
	b = b[:cap(b)]
	a.pools[c].Put(&b)
}
