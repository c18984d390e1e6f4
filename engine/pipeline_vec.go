package engine

import (
	"sync"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/vec"
)

// Columnar batches through a source subtask's chain (pipeline.go): the subtask's head takes columns when its
// chain does, so that a columnar source (nexmark, vec) runs its chained Calcs and watermark assigner on
// columns, outside the graph lock, as at parallelism 1. Where the chain ends, the pipe passes the columns on
// when the shared graph takes them, else converts them to rows before it takes the lock.

var pipeConvs = sync.Pool{New: func() any { return new(vec.RowConv) }}

// PushColumns pushes b where the chain meets the graph.
func (p *pipe) PushColumns(b *vec.Batch) error {
	if p.enc == nil && vec.Accepts(p.out) {
		if err := p.lock(); err != nil {
			return err
		}
		return pushColumns(p.out, b)
	}
	conv := pipeConvs.Get().(*vec.RowConv)
	defer pipeConvs.Put(conv)
	return p.Push(conv.Rows(b))
}

// AcceptsColumns: the chain above runs on columns; the pipe converts what the graph does not take.
func (p *pipe) AcceptsColumns() bool { return true }

func (h *pipeHead) PushColumns(b *vec.Batch) error {
	defer h.end.unlock()
	if err := pushColumns(h.in, b); err != nil {
		return h.failure.mark(err)
	}
	return h.failure.mark(h.end.flush())
}

func (h *pipeHead) AcceptsColumns() bool { return vec.Accepts(h.in) }

// PushColumnsThen is PushThen for a columnar batch (vec.PositionedOutput).
func (h *pipeHead) PushColumnsThen(b *vec.Batch, advance func()) error {
	defer h.end.unlock()
	if b.Len() > 0 {
		if err := pushColumns(h.in, b); err != nil {
			return h.failure.mark(err)
		}
	}
	if err := h.end.lock(); err != nil {
		return err
	}
	if err := h.end.flush(); err != nil {
		return h.failure.mark(err)
	}
	advance()
	return nil
}

var (
	_ vec.Output           = (*pipe)(nil)
	_ vec.Output           = (*pipeHead)(nil)
	_ vec.PositionedOutput = (*pipeHead)(nil)
)

// CountRead passes on rows a source read and dropped (connectors.ReadCounter) to the counters below.
func (h *pipeHead) CountRead(n int64) { connectors.CountRead(h.in, n) }
