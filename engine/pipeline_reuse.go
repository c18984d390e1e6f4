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
)

// Reused scans as source subtasks. A scan read by several branches of a job (source reuse, reuse.go) whose
// source can run as subtasks runs as P subtasks like an unshared one, and every subtask hands its batches to
// its own fanout: each branch's chain (Calcs, a WatermarkAssigner, window TVFs: chainedScan) is instantiated
// once per subtask and ends either in an exchange's sender (the branch feeds a keyed operator, exchange.go;
// two branches may feed the two sides of one join) or in a union before the rest of the branch, under the
// graph lock. A branch that cannot be chained (the node right above the scan is not one of those) is a
// branch with an empty chain: the subtasks' rows meet in its union. A columnar source (nexmark) hands each
// fanout columns: every branch's chain runs on them with a batch header of its own (reuse_vec.go), and a
// branch's end passes them on to its exchange sender, or to its union when the graph takes columns.
//
// The build goes top down, so the branches arrive one at a time (one per edge into the scan: chainedScan
// accepts the reused scan, buildSubtasks and buildExchange hand the branch here, shared takes a branch that
// reads the scan itself); once every edge has arrived the subtasks are wired (buildReused).
//
// Checkpoints: while a subtask pushes a batch and advances its position, it holds the checkpoint gate for
// reading (subtaskGate), and its branches that end in a union take the graph lock only for each call; a
// branch that ends in a sink the subtasks write themselves (pipeline_sink.go) writes its rows under the gate
// only (gatedWriter), and takes the graph lock for watermarks and the end, which pass the union. A
// checkpoint closes the gate before it takes the lock (checkpoint.go), so it sees a batch's rows in every
// branch together with the position after them, or none of them. The lock is never held while a subtask
// routes into an exchange (a keyed subtask needs it to push its output). The position is the source's, one
// per split as for an unshared scan, so a checkpoint restores at any parallelism.

// reusedScan is a reused scan that runs as p subtasks, and its branches so far.
type reusedScan struct {
	sc       *planner.Scan
	p        int
	j        *Job
	branches []reusedBranch
	hold     cutHold // the branches that end in a union, during a barrier checkpoint (reuse_hold.go)
}

// reusedBranch is one consumer of a reused scan: chain (from the top down) ends either in out (through a union
// of the subtasks; with enc, a sink the subtasks encode for; with co, a sink every subtask writes itself,
// table its name) or in side of exchange x.
type reusedBranch struct {
	chain []planner.Node
	out   changelog.Output
	enc   *sinkEncoding
	co    connectors.ConcurrentOutput
	table string
	x     *exec.Exchange
	side  int
}

// reusedBuilt counts the reused scans wired as subtasks (tests check that a query took this path).
var reusedBuilt atomic.Int64

// noReusedSubtasks turns reused scans as subtasks off (a test hook: compare against one fanout).
var noReusedSubtasks = false

// reusedSubtasks returns how many subtasks reused scan sc runs as, or a number below 2 when it is read by one
// instance feeding a fanout (reuse.go).
func (g *graph) reusedSubtasks(sc *planner.Scan) int {
	if rs := g.reused[sc]; rs != nil {
		return rs.p
	}
	if noReusedSubtasks || g.batch || g.stage != nil || g.bsp != nil || g.staged != nil || g.parents[sc] < 2 {
		return 0
	}
	ps, ok := sc.Source.(connectors.ParallelSource)
	if !ok {
		return 0
	}
	if ss, ok := sc.Source.(connectors.SplitSource); ok {
		// Watermarks per split need a listener per subtask; a branch that already took the one listener of
		// the whole source (watermarks.go) keeps the scan one instance.
		if _, ok := sc.Source.(connectors.SubtaskSplitSource); !ok || g.splitFans[ss] != nil {
			return 0
		}
	}
	return ps.Subtasks(g.subtasks)
}

// addReusedBranch records branch b of reused scan sc and wires the scan once every branch has arrived.
func (g *graph) addReusedBranch(sc *planner.Scan, j *Job, b reusedBranch) error {
	rs := g.reused[sc]
	if rs == nil {
		rs = &reusedScan{sc: sc, p: g.reusedSubtasks(sc), j: j}
		if g.reused == nil {
			g.reused = map[*planner.Scan]*reusedScan{}
		}
		g.reused[sc] = rs
	}
	rs.branches = append(rs.branches, b)
	if len(rs.branches) < g.parents[sc] {
		return nil
	}
	return g.buildReused(rs)
}

// buildReused wires a reused scan's subtasks, each with its own fanout into every branch.
func (g *graph) buildReused(rs *reusedScan) error {
	sc, p, j := rs.sc, rs.p, rs.j
	ps := sc.Source.(connectors.ParallelSource)
	if q := ps.Subtasks(g.subtasks); q != p {
		return fmt.Errorf("source %s: internal error: planned as %d subtasks, runs as %d", sc.Table.Name, p, q)
	}
	g.register(sc, sc.Source)
	reusedBuilt.Add(1)
	type branchRun struct {
		ins       []changelog.Output // the union (or exchange side) of the branch's subtasks
		assigners []changelog.Output
		node      *planner.WatermarkAssigner
	}
	runs := make([]branchRun, len(rs.branches))
	drain := &fanout{}
	for bi, b := range rs.branches {
		if b.x != nil {
			runs[bi].ins = b.x.SideInputs(0, b.side)
			continue
		}
		runs[bi].ins = exec.NewUnion(p, b.out)
		drain.outs = append(drain.outs, b.out)
	}
	for _, b := range rs.branches {
		if b.co != nil {
			setSubtasks(b.co, p)
			g.gateSinks = append(g.gateSinks, b.co) // cut at the gate (exchange_barrier.go)
		}
		if b.enc != nil {
			// written under the graph lock by rows the hold (reuse_hold.go) does not keep: cut at the gate
			g.gateSinks = append(g.gateSinks, b.enc.out)
		}
	}
	subs := make([]changelog.Output, p)
	var listeners []connectors.SplitListener
	for i := range p {
		sg := &subtaskGate{gate: &g.gate, stopping: &g.stopping}
		outs := make([]changelog.Output, len(rs.branches))
		var ls []connectors.SplitListener
		for bi, b := range rs.branches {
			var end changelog.Output
			if b.x != nil {
				s := b.x.Sender(b.side, i)
				sg.senders = append(sg.senders, s)
				end = &gatedSend{sg: sg, s: s}
			} else if b.co != nil {
				w, err := b.co.NewSubtaskWriter(i)
				if err != nil {
					return fmt.Errorf("sink writer for source subtask %d of %s: %w", i+1, b.table, err)
				}
				w = noteWriter(g.sinkOf(b.co), w) // sink_failure.go
				end = &gatedWriter{sinkWrite: newSinkWrite(w, g.rowsOutShare(j)),
					p: gatedPipe{sg: sg, mu: &g.mu, stopped: &g.stopped, out: runs[bi].ins[i], hold: &rs.hold}}
			} else {
				gp := &gatedPipe{sg: sg, mu: &g.mu, stopped: &g.stopped, out: runs[bi].ins[i], hold: &rs.hold}
				if b.enc != nil {
					e, err := b.enc.out.NewSubtaskEncoder()
					if err != nil {
						return fmt.Errorf("sink encoder for source subtask %d of %s: %w", i+1, sc.Table.Name, err)
					}
					gp.enc, gp.rows = g.noteEncoder(b.enc.out, e), g.rowsOutShare(j) // sink_failure.go
				}
				end = gp
			}
			o, l, a, an := g.chainInstance(b.chain, end, j)
			if l != nil {
				ls = append(ls, l)
				runs[bi].assigners, runs[bi].node = append(runs[bi].assigners, a), an
			}
			outs[bi] = o
		}
		switch len(ls) {
		case 0:
		case 1:
			listeners = append(listeners, ls[0])
		default:
			listeners = append(listeners, &splitFanout{ls: ls})
		}
		o := g.meter(sc, &fanout{outs: outs}, j)
		if beforeReusedBatch != nil {
			o = &hookedOutput{Output: o, f: beforeReusedBatch} // a test hook (reuse_hold.go)
		}
		subs[i] = &pipeHead{end: sg, in: exec.NewCounter(g.rowsInShare(j), o), failure: &g.failure}
	}
	if listeners != nil {
		sc.Source.(connectors.SubtaskSplitSource).SetSubtaskSplitListeners(listeners)
	}
	for _, r := range runs {
		if r.node != nil {
			// each branch's assigners are checkpointed as one operator, as at parallelism 1
			g.op(r.node, exec.SubtaskWatermarkState(r.assigners, r.ins))
		}
	}
	g.sources = append(g.sources, sourceRun{name: sc.Table.Name, src: sc.Source, out: drain, par: ps, subs: subs})
	return nil
}

// subtaskGate is the chain end of one subtask of a reused scan (what its pipeHead locks, flushes and unlocks):
// it holds the checkpoint gate for reading from the first call of a branch's end until the subtask's
// position has advanced, and flushes the subtask's exchange senders before that.
type subtaskGate struct {
	gate     *sync.RWMutex
	stopping *atomic.Bool
	held     bool
	senders  []*exec.ExchangeSender
}

func (sg *subtaskGate) hold() {
	if !sg.held {
		sg.gate.RLock()
		sg.held = true
	}
}

func (sg *subtaskGate) lock() error {
	sg.hold()
	if sg.stopping.Load() {
		return context.Canceled
	}
	return nil
}

func (sg *subtaskGate) flush() error {
	if !sg.held {
		return nil
	}
	for _, s := range sg.senders {
		if err := s.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func (sg *subtaskGate) unlock() {
	if sg.held {
		sg.held = false
		sg.gate.RUnlock()
	}
}

// The branches' ends are called by the subtask's fanout, never the gate itself.
func (sg *subtaskGate) Push(*changelog.Batch) error { return nil }
func (sg *subtaskGate) Watermark(int64) error       { return nil }
func (sg *subtaskGate) End() error                  { return nil }

// gatedSend is a branch's end in front of an exchange.
type gatedSend struct {
	sg *subtaskGate
	s  *exec.ExchangeSender
}

func (e *gatedSend) Push(b *changelog.Batch) error {
	if err := e.sg.lock(); err != nil {
		return err
	}
	return e.s.Push(b)
}

func (e *gatedSend) Watermark(ts int64) error {
	if err := e.sg.lock(); err != nil {
		return err
	}
	return e.s.Watermark(ts)
}

func (e *gatedSend) End() error {
	if err := e.sg.lock(); err != nil {
		return err
	}
	return e.s.End()
}

// gatedPipe is a branch's end in front of its union: it takes the graph lock for each call (the gate, held,
// keeps checkpoints out until the position advanced).
type gatedPipe struct {
	sg      *subtaskGate
	mu      *sync.Mutex
	stopped *bool
	out     changelog.Output
	enc     connectors.SubtaskEncoder
	rows    *atomic.Int64
	// hold keeps what passes after a barrier checkpoint's cut until its part under the lock is done
	// (reuse_hold.go); held is this pipe's part, err the error of its replay (all under mu)
	hold *cutHold
	held []heldItem
	err  error
}

func (p *gatedPipe) locked(f func() error) error {
	if err := p.sg.lock(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if *p.stopped {
		return context.Canceled
	}
	if p.err != nil {
		return p.err
	}
	if err := p.holdFailed(); err != nil {
		return err // reuse_hold.go: a STOP WITH DRAIN failed after its cut
	}
	return f()
}

func (p *gatedPipe) Push(b *changelog.Batch) error {
	if p.enc != nil {
		if len(b.Rows) == 0 {
			return nil
		}
		if err := p.enc.Encode(b); err != nil {
			return err
		}
		return p.locked(func() error {
			p.rows.Add(int64(len(b.Rows)))
			return p.enc.Write()
		})
	}
	return p.locked(func() error {
		if kept, err := p.holdRows(b); kept || err != nil { // reuse_hold.go
			return err
		}
		return p.out.Push(b)
	})
}

func (p *gatedPipe) Watermark(ts int64) error {
	return p.locked(func() error {
		if kept, err := p.holdWatermark(ts); kept || err != nil {
			return err
		}
		return p.out.Watermark(ts)
	})
}

func (p *gatedPipe) End() error {
	p.sg.hold()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.holding() {
		reusedEndsHeld.Add(1) // reuse_hold.go: the end waits for the hold
	}
	if _, err := p.awaitHold(); err != nil {
		return err
	}
	return p.out.End()
}

// gatedWriter is a branch's end in a sink that every subtask writes itself (a connectors.ConcurrentOutput):
// rows go to the subtask's writer under the subtask's gate, without the graph lock (PreCommit, End and Abort
// run with the gate closed, so never during a write), watermarks and the end to the union through p.
type gatedWriter struct {
	sinkWrite
	p gatedPipe
}

func (e *gatedWriter) Push(b *changelog.Batch) error { return e.push(b, e.p.sg.lock) }

func (e *gatedWriter) Watermark(ts int64) error { return e.p.Watermark(ts) }
func (e *gatedWriter) End() error               { return e.p.End() }
