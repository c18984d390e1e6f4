package exec

import (
	"fmt"
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// NewCounter returns an operator that adds the number of rows of every batch to n and forwards it.
func NewCounter(n *atomic.Int64, out changelog.Output) changelog.Output {
	return &counter{n: n, out: out}
}

type counter struct {
	n   *atomic.Int64
	out changelog.Output
}

func (c *counter) Push(b *changelog.Batch) error {
	c.n.Add(int64(len(b.Rows)))
	return c.out.Push(b)
}
func (c *counter) Watermark(ts int64) error { return c.out.Watermark(ts) }
func (c *counter) End() error               { return c.out.End() }

// NewCollect returns a sink that calls fn for every row pushed to it (the row is valid only during the
// call). Watermarks and End are ignored. It is meant for tests and embedding.
func NewCollect(fn func(changelog.Row) error) changelog.Output { return collect(fn) }

type collect func(changelog.Row) error

func (c collect) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		if err := c(r); err != nil {
			return err
		}
	}
	return nil
}
func (c collect) Watermark(int64) error { return nil }
func (c collect) End() error            { return nil }

// NewLimit returns a streaming LIMIT without ORDER BY for insert-only input: it forwards rows number
// offset .. offset+limit-1 (counting from 0) as +I and drops the others. A negative limit means no limit.
func NewLimit(limit, offset int64, out changelog.Output) changelog.Output {
	return &limitOp{limit: limit, offset: max(offset, 0), out: out}
}

type limitOp struct {
	limit, offset int64
	seen          int64
	out           changelog.Output
	batch         changelog.Batch
}

func (l *limitOp) Push(b *changelog.Batch) error {
	l.batch.Reset()
	for _, r := range b.Rows {
		i := l.seen
		if l.limit >= 0 && i >= l.offset+l.limit {
			break
		}
		l.seen++
		if i >= l.offset {
			l.batch.Append(changelog.Insert, r.Vals)
		}
	}
	if len(l.batch.Rows) == 0 {
		return nil
	}
	return l.out.Push(&l.batch)
}
func (l *limitOp) Watermark(ts int64) error { return l.out.Watermark(ts) }
func (l *limitOp) End() error               { return l.out.End() }

// NewUnion returns n inputs that all feed out (UNION ALL). The watermark sent downstream is the minimum of
// the inputs' watermarks, forwarded only when it advances (an input that ended no longer holds it back);
// End goes downstream once every input has ended. The inputs must not be called concurrently.
//
// An input that sends IdleWatermark is idle (Flink's WatermarkStatus.IDLE): it no longer holds the minimum
// back until its next watermark. An input that becomes active again with a watermark below the one already
// forwarded counts again once it has caught up (Flink's StatusWatermarkValve); when the last active input
// goes idle while it holds the minimum, the highest watermark of the running inputs goes out (as Flink's
// valve does when all its channels are idle), and the watermark then stays until an input advances.
func NewUnion(n int, out changelog.Output) []changelog.Output {
	u := &union{out: out, wms: make([]int64, n), ended: make([]bool, n), idle: make([]bool, n), emitted: minWatermark}
	for i := range u.wms {
		u.wms[i] = minWatermark
	}
	ins := make([]changelog.Output, n)
	for i := range ins {
		ins[i] = &unionInput{u: u, i: i}
	}
	return ins
}

const minWatermark = -1 << 63

// IdleWatermark, sent as a watermark into a union input, marks that input idle (see NewUnion). Split
// watermark assigners chained into source subtasks send it when none of their splits counts
// (SplitWatermarks.SignalIdle). It never leaves a union.
const IdleWatermark = minWatermark + 1

type union struct {
	out     changelog.Output
	wms     []int64
	ended   []bool
	idle    []bool
	nEnded  int
	emitted int64
	cut     *unionCut // a keyed subtask's union whose subtask forwards barriers (exchange_barrier.go)
}

// advance forwards the minimum watermark of the running, active inputs when it moved forward.
func (u *union) advance() error {
	m, any := int64(changelog.MaxWatermark), false
	for i, w := range u.wms {
		if !u.ended[i] && !u.idle[i] && w >= u.emitted {
			m, any = min(m, w), true
		}
	}
	if !any || m <= u.emitted {
		return nil
	}
	u.emitted = m
	return u.out.Watermark(m)
}

// allIdle reports whether every running input is idle.
func (u *union) allIdle() bool {
	for i := range u.wms {
		if !u.ended[i] && !u.idle[i] {
			return false
		}
	}
	return true
}

// flushMax forwards the highest watermark of the running inputs when it is above the one forwarded.
func (u *union) flushMax() error {
	m := u.emitted
	for i, w := range u.wms {
		if !u.ended[i] {
			m = max(m, w)
		}
	}
	if m <= u.emitted {
		return nil
	}
	u.emitted = m
	return u.out.Watermark(m)
}

type unionInput struct {
	u *union
	i int
}

func (in *unionInput) Push(b *changelog.Batch) error { return in.u.out.Push(b) }

func (in *unionInput) Watermark(ts int64) error {
	u := in.u
	if ts == IdleWatermark {
		if u.idle[in.i] {
			return nil
		}
		u.idle[in.i] = true
		if u.allIdle() && u.wms[in.i] == u.emitted {
			// The last active input went idle while it held the minimum: no input will advance it, so
			// the highest watermark of the running inputs goes out (Flink's StatusWatermarkValve
			// "flushes" all channels' watermarks when they all become idle).
			return u.flushMax()
		}
		return u.advance()
	}
	wasIdle := u.idle[in.i]
	u.idle[in.i] = false
	if ts <= u.wms[in.i] && !wasIdle {
		return nil
	}
	u.wms[in.i] = max(u.wms[in.i], ts)
	return u.advance()
}

func (in *unionInput) End() error {
	u := in.u
	if u.ended[in.i] {
		return nil
	}
	u.ended[in.i] = true
	u.nEnded++
	if u.nEnded == len(u.ended) {
		return u.out.End()
	}
	return u.advance()
}

// NewWatermarkAssigner returns an operator that evaluates rowtime (the WATERMARK expression, a TIMESTAMP
// whose milliseconds are the watermark) on every row, tracks the maximum, and after each batch emits
// Watermark(max) when it advanced. NULL results are ignored, and so are upstream watermarks. At End it
// emits Watermark(changelog.MaxWatermark) and ends.
func NewWatermarkAssigner(rowtime expr.Expr, out changelog.Output) changelog.Output {
	return &watermarkAssigner{rowtime: rowtime, out: out, max: minWatermark, emitted: minWatermark}
}

type watermarkAssigner struct {
	rowtime      expr.Expr
	out          changelog.Output
	max, emitted int64
	splits       *SplitWatermarks // per-split watermarks (watermark_split.go); nil: one for the whole input
	idle         bool             // the last watermark sent was IdleWatermark (splits.signalIdle only)
	vx           *wmVec           // the compiled rowtime for columnar input (calc_vec_ops.go)
}

func (w *watermarkAssigner) Push(b *changelog.Batch) error {
	batchMax := int64(minWatermark)
	for _, r := range b.Rows {
		v, err := w.rowtime.Eval(r.Vals)
		if err != nil {
			return fmt.Errorf("evaluate watermark %s: %w", w.rowtime.String(), err)
		}
		if v.T == types.TagNull {
			continue
		}
		batchMax = max(batchMax, v.I)
	}
	w.max = max(w.max, batchMax)
	if b.Len() > 0 {
		if err := w.out.Push(b); err != nil {
			return err
		}
	}
	return w.afterBatch(batchMax, b.Len())
}

// afterBatch emits the watermark after a batch of n rows whose highest row time is batchMax, when it advanced.
func (w *watermarkAssigner) afterBatch(batchMax int64, n int) error {
	next := w.max
	if w.splits != nil {
		combined, counted := w.splits.observe(batchMax, n)
		if !counted {
			if w.splits.signalIdle && !w.idle {
				w.idle = true
				return w.out.Watermark(IdleWatermark)
			}
			return nil
		}
		next = combined
		if w.idle {
			// Active again: the union counts this input from its current watermark on.
			w.idle = false
			w.emitted = max(w.emitted, next)
			return w.out.Watermark(w.emitted)
		}
	}
	if next > w.emitted {
		w.emitted = next
		return w.out.Watermark(next)
	}
	return nil
}

func (w *watermarkAssigner) Watermark(int64) error { return nil }

func (w *watermarkAssigner) End() error {
	if w.emitted < changelog.MaxWatermark {
		w.emitted = changelog.MaxWatermark
		if err := w.out.Watermark(changelog.MaxWatermark); err != nil {
			return err
		}
	}
	return w.out.End()
}

// CountRead counts rows a source read and dropped before pushing (connectors.ReadCounter) and passes
// them on to the next counter.
func (c *counter) CountRead(n int64) {
	c.n.Add(n)
	connectors.CountRead(c.out, n)
}
