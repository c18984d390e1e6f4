package engine

import (
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/vec"
)

// Columnar batches through a fanout (reuse.go, and every subtask's fanout of a reused scan,
// pipeline_reuse.go). A source that produces columns hands one batch to every branch: a branch that takes
// columns gets the same column data with a batch header of its own (its own copy of the column list and of
// the selection vector, in storage the fanout keeps per branch and reuses), so that what a branch's filter
// selects, or a branch's operator does to its header, is never seen by another branch. Kernels do not write
// into their input columns (exec/calc_vec.go), so the column data itself is shared. Branches that take rows
// get the batch converted once (shared by all such branches, as a row batch is shared by a row fanout).
// Branches are called in order, as for rows. Calls into one fanout are serialized (it is pushed under the
// graph lock, or by one source subtask), so its per-branch storage needs no lock.

// fanoutColumnBatches counts the columnar batches fanouts handed on (tests check that a query took this path).
var fanoutColumnBatches atomic.Int64

// rowFanout makes fanouts take rows only (a test hook: the columnar fanout against the row fanout).
var rowFanout = false

// fanoutCols is a fanout's per-branch columnar state.
type fanoutCols struct {
	accepts []bool      // per output: it takes columns (computed at the first batch; outputs are fixed by then)
	heads   []vec.Batch // per output: the header it is given
	sels    [][]int32   // per output: storage for its copy of the selection vector
	conv    vec.RowConv // the rows of the batch, for the outputs that take rows
}

// ready computes which outputs take columns.
func (f *fanout) ready() {
	c := &f.cols
	if len(c.accepts) == len(f.outs) {
		return
	}
	c.accepts = make([]bool, len(f.outs))
	c.heads = make([]vec.Batch, len(f.outs))
	c.sels = make([][]int32, len(f.outs))
	for i, o := range f.outs {
		c.accepts[i] = vec.Accepts(o)
	}
}

// PushColumns hands b to every output: as columns with a header of its own where the output takes columns,
// else as rows converted once.
func (f *fanout) PushColumns(b *vec.Batch) error {
	f.ready()
	fanoutColumnBatches.Add(1)
	c := &f.cols
	var rows *changelog.Batch
	for i, o := range f.outs {
		vo, ok := o.(vec.Output)
		if !ok || !c.accepts[i] || rowFanout {
			if rows == nil {
				rows = c.conv.Rows(b)
			}
			if err := o.Push(rows); err != nil {
				return err
			}
			continue
		}
		h := &c.heads[i]
		h.N, h.Kinds = b.N, b.Kinds
		h.Cols = append(h.Cols[:0], b.Cols...)
		h.Sel = nil
		if b.Sel != nil {
			c.sels[i] = append(c.sels[i][:0], b.Sel...)
			h.Sel = c.sels[i]
		}
		if err := vo.PushColumns(h); err != nil {
			return err
		}
	}
	return nil
}

// AcceptsColumns: some output takes columns (the others get rows converted once per batch).
func (f *fanout) AcceptsColumns() bool {
	if rowFanout {
		return false
	}
	f.ready()
	for _, a := range f.cols.accepts {
		if a {
			return true
		}
	}
	return false
}

var _ vec.Output = (*fanout)(nil)

// PushColumns: a branch that ends in an exchange routes the columns (the sender takes them).
func (e *gatedSend) PushColumns(b *vec.Batch) error {
	if err := e.sg.lock(); err != nil {
		return err
	}
	return e.s.PushColumns(b)
}

func (e *gatedSend) AcceptsColumns() bool { return true }

// PushColumns: a branch that ends in a union passes the columns on when the graph takes them, else converts
// them to rows before it takes the lock (as pipe does).
func (p *gatedPipe) PushColumns(b *vec.Batch) error {
	if p.enc == nil && vec.Accepts(p.out) {
		return p.locked(func() error {
			if kept, err := p.holdColumns(b); kept || err != nil { // reuse_hold.go
				return err
			}
			return pushColumns(p.out, b)
		})
	}
	conv := pipeConvs.Get().(*vec.RowConv)
	defer pipeConvs.Put(conv)
	return p.Push(conv.Rows(b))
}

// AcceptsColumns: the chain above runs on columns; a fanout straight into the pipe converts what the graph
// does not take once for all such branches.
func (p *gatedPipe) AcceptsColumns() bool { return p.enc == nil && vec.Accepts(p.out) }

// PushColumns passes columns to a writer that takes them, else rows.
func (e *gatedWriter) PushColumns(b *vec.Batch) error { return e.pushColumns(b, e.p.sg.lock) }

func (e *gatedWriter) AcceptsColumns() bool { return true }

var (
	_ vec.Output = (*gatedSend)(nil)
	_ vec.Output = (*gatedPipe)(nil)
	_ vec.Output = (*gatedWriter)(nil)
)
