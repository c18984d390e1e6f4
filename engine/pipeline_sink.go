package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/vec"
)

// Sinks written by subtasks outside the graph lock. A sink whose Output is a connectors.ConcurrentOutput
// (blackhole, filesystem) gets a SubtaskWriter per subtask that feeds it:
//   - source subtasks whose chain ends in the sink (chainedScan) write their rows through a sinkEnd, which
//     holds the checkpoint gate for reading (as an exchange's sender does, exchange.go) from the first row
//     until the subtask's position advanced, never the graph lock: a checkpoint closes the gate, so it sees
//     a batch's rows in the sink and the position after them together, or neither;
//   - keyed subtasks (exchange_sink.go) write through their pipe with no lock at all: their writes happen
//     inside a queue item, and a checkpoint's quiesce returns only once no item is in process.
//
// Watermarks and the end still reach the sink's own Output through the union of the subtasks, under the
// graph lock, so PreCommit, End and Abort (under the lock, with the gate closed and the exchanges quiesced,
// or after every subtask returned) never run while a writer writes. The rows out are counted per batch by
// the writers' ends. A branch of a read-once (reused) scan that ends in such a sink is written the same way by
// every subtask of the scan (pipeline_reuse.go, gatedWriter): under the subtask's gate, not the graph lock.

// concurrentSinksBuilt counts the sinks that subtasks write outside the graph lock (tests check that a
// query took this path).
var concurrentSinksBuilt atomic.Int64

// reusedSinksBuilt counts the sinks fed by a branch of a reused scan that its subtasks write outside the
// graph lock (pipeline_reuse.go).
var reusedSinksBuilt atomic.Int64

// noConcurrentSink turns the concurrent sink path off (a test hook: compare against writing under the
// graph lock).
var noConcurrentSink = false

// buildConcurrentSink builds in, the input of a sink whose Output is co, as subtasks that write the sink
// themselves, when in is a chain of source subtasks or (through Calcs) a keyed operator behind an exchange.
// out is the sink's counted Output (watermarks, the end). It reports false (and builds nothing) otherwise.
func (g *graph) buildConcurrentSink(in planner.Node, table string, co connectors.ConcurrentOutput, out changelog.Output, j *Job) (bool, error) {
	if noConcurrentSink {
		return false, nil
	}
	if sc, chain, _ := g.chainedScan(in); sc != nil && g.parents[sc] > 1 {
		// a branch of a reused scan: every subtask writes through its fanout (pipeline_reuse.go)
		concurrentSinksBuilt.Add(1)
		reusedSinksBuilt.Add(1)
		return true, g.addReusedBranch(sc, j, reusedBranch{chain: chain, out: out, co: co, table: table})
	}
	if sc, chain, p := g.chainedScan(in); sc != nil {
		ins := exec.NewUnion(p, out)
		ends := make([]chainEnd, p)
		setSubtasks(co, p)
		for i := range p {
			w, err := co.NewSubtaskWriter(i)
			if err != nil {
				return true, fmt.Errorf("sink writer for source subtask %d of %s: %w", i+1, table, err)
			}
			w = noteWriter(g.sinkOf(co), w) // sink_failure.go
			ends[i] = &sinkEnd{gate: &g.gate, stopping: &g.stopping, sinkWrite: newSinkWrite(w, g.rowsOutShare(j)),
				p: pipe{mu: &g.mu, stopped: &g.stopped, out: ins[i]}}
		}
		concurrentSinksBuilt.Add(1)
		g.gateSinks = append(g.gateSinks, co) // cut at the gate (exchange_barrier.go)
		return true, g.buildChains(sc, chain, ends, ins, out, j)
	}
	_, u := g.keyedBelow(in)
	ok, err := g.buildKeyedSink(in, table, &concurrentEncoding{co: co, sink: g.sinkOf(co), subtasks: g.keyedSubtasks(u)}, out, j)
	if ok && err == nil {
		concurrentSinksBuilt.Add(1)
	}
	return ok, err
}

// columnWriter is a SubtaskWriter that takes columnar batches.
type columnWriter interface {
	PushColumns(b *vec.Batch) error
	AcceptsColumns() bool
}

// sinkWrite is what a subtask writes into a sink it writes itself (sinkEnd, gatedWriter): rows, or columns
// when the writer takes them, counted in rows, each batch after lock (the caller's checkpoint gate).
type sinkWrite struct {
	w    connectors.SubtaskWriter
	cols columnWriter // w when it takes columns, else nil
	rows *atomic.Int64
}

func newSinkWrite(w connectors.SubtaskWriter, rows *atomic.Int64) sinkWrite {
	cols, _ := w.(columnWriter)
	return sinkWrite{w: w, cols: cols, rows: rows}
}

func (s *sinkWrite) push(b *changelog.Batch, lock func() error) error {
	if len(b.Rows) == 0 {
		return nil
	}
	if err := lock(); err != nil {
		return err
	}
	s.rows.Add(int64(len(b.Rows)))
	return s.w.Push(b)
}

// pushColumns passes columns to a writer that takes them, else rows.
func (s *sinkWrite) pushColumns(b *vec.Batch, lock func() error) error {
	if s.cols == nil || !s.cols.AcceptsColumns() {
		conv := pipeConvs.Get().(*vec.RowConv)
		defer pipeConvs.Put(conv)
		return s.push(conv.Rows(b), lock)
	}
	n := b.Len()
	if n == 0 {
		return nil
	}
	if err := lock(); err != nil {
		return err
	}
	s.rows.Add(int64(n))
	return s.cols.PushColumns(b)
}

// sinkEnd is the end of a source subtask's chain in a sink that the subtask writes itself: rows go to the
// subtask's writer under the checkpoint gate (read), watermarks and the end to the union under the graph
// lock (p).
type sinkEnd struct {
	gate     *sync.RWMutex
	stopping *atomic.Bool
	sinkWrite
	gated bool
	p     pipe
}

func (e *sinkEnd) lock() error {
	if !e.gated {
		e.gate.RLock()
		e.gated = true
	}
	if e.stopping.Load() {
		return context.Canceled
	}
	return nil
}

func (e *sinkEnd) flush() error { return nil }

func (e *sinkEnd) unlock() {
	e.p.unlock()
	if e.gated {
		e.gated = false
		e.gate.RUnlock()
	}
}

func (e *sinkEnd) Push(b *changelog.Batch) error { return e.push(b, e.lock) }

// PushColumns passes columns to a writer that takes them, else rows.
func (e *sinkEnd) PushColumns(b *vec.Batch) error { return e.pushColumns(b, e.lock) }

func (e *sinkEnd) AcceptsColumns() bool { return true }

// Watermark takes the gate before the graph lock, as a checkpoint does (a subtask holding the lock must
// never wait for the gate).
func (e *sinkEnd) Watermark(ts int64) error {
	if err := e.lock(); err != nil {
		return err
	}
	return e.p.Watermark(ts)
}

func (e *sinkEnd) End() error {
	if !e.gated {
		e.gate.RLock()
		e.gated = true
	}
	return e.p.End()
}

var _ vec.Output = (*sinkEnd)(nil)

// concurrentEncoding gives keyed subtasks (exchange_sink.go) the writers of a ConcurrentOutput as encoders
// whose Encode writes: their pipes write without the graph lock (pipe.Push).
type concurrentEncoding struct {
	co       connectors.ConcurrentOutput
	sink     *endOnce // the sink's failure check and record (sink_failure.go)
	subtasks int      // the keyed subtasks, one encoder each
	n        int
}

func (c *concurrentEncoding) NewSubtaskEncoder() (connectors.SubtaskEncoder, error) {
	if c.n == 0 {
		setSubtasks(c.co, c.subtasks)
	}
	w, err := c.co.NewSubtaskWriter(c.n)
	if err != nil {
		return nil, err
	}
	c.n++
	return &writerEncoder{w: noteWriter(c.sink, w)}, nil
}

// writerEncoder is a SubtaskWriter seen as an encoder (Encode writes, Write does nothing).
type writerEncoder struct {
	w connectors.SubtaskWriter
}

func (e *writerEncoder) Encode(b *changelog.Batch) error { return e.w.Push(b) }
func (e *writerEncoder) Write() error                    { return nil }

// setSubtasks tells a sink whose writers depend on it how many subtasks write it (print's 'N> ' prefixes).
func setSubtasks(co connectors.ConcurrentOutput, n int) {
	if c, ok := co.(connectors.SubtaskCounter); ok {
		c.SetSubtasks(n)
	}
}
