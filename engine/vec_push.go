package engine

import (
	"context"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/vec"
)

// Columnar batches (vec) pass through the engine's wrappers between a source and its operators, and between
// the last operator and a sink, so that a source producing columns reaches the operators that take them.

// pushColumns pushes b to out, as columns when out takes them, else as rows.
func pushColumns(out changelog.Output, b *vec.Batch) error {
	if o, ok := out.(vec.Output); ok {
		return o.PushColumns(b)
	}
	conv := pipeConvs.Get().(*vec.RowConv) // reused: a RowConv of its own would allocate its arena per batch
	defer pipeConvs.Put(conv)
	return out.Push(conv.Rows(b))
}

func (l *locked) PushColumns(b *vec.Batch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if *l.stopped {
		return context.Canceled
	}
	return l.failure.mark(pushColumns(l.out, b))
}

// PushColumnsThen is PushThen for a columnar batch (vec.PositionedOutput).
func (l *locked) PushColumnsThen(b *vec.Batch, advance func()) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if *l.stopped {
		return context.Canceled
	}
	if b.Len() > 0 {
		if err := pushColumns(l.out, b); err != nil {
			return l.failure.mark(err)
		}
	}
	advance()
	return nil
}

func (l *locked) AcceptsColumns() bool { return vec.Accepts(l.out) }

func (e *endOnce) PushColumns(b *vec.Batch) error { return e.note(pushColumns(e.out, b)) }
func (e *endOnce) AcceptsColumns() bool           { return vec.Accepts(e.out) }

var (
	_ vec.Output           = (*locked)(nil)
	_ vec.PositionedOutput = (*locked)(nil)
	_ vec.Output           = (*endOnce)(nil)
)

func (w *meter) PushColumns(b *vec.Batch) error {
	w.m.rowsOut.Add(int64(b.Len()))
	return pushColumns(w.out, b)
}

func (w *meter) AcceptsColumns() bool { return vec.Accepts(w.out) }

var _ vec.Output = (*meter)(nil)

// CountRead counts rows a source read and dropped before pushing (connectors.ReadCounter) as the
// node's output, as if pushed.
func (w *meter) CountRead(n int64) {
	w.m.rowsOut.Add(n)
	connectors.CountRead(w.out, n)
}

// CountRead passes on rows a source read and dropped (connectors.ReadCounter); counters are atomic.
func (l *locked) CountRead(n int64) { connectors.CountRead(l.out, n) }
