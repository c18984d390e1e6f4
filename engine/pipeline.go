package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
)

// Source subtasks and operator chaining. A streaming scan whose source can run as several subtasks
// (connectors.ParallelSource) runs as that many goroutines, each reading its own splits. The stateless
// operators right above the scan (Calc: projections and filters) are chained into every subtask, one
// instance each, and run outside the graph lock, in parallel: Flink's forward exchange. The lock is taken
// only where the chain ends (the first keyed operator, a join, a sink, ...), by the pipe, and it is held from
// the first row that leaves the chain until the subtask's PushThen has advanced the source's position. So a
// checkpoint (taken under the lock) sees a batch's rows downstream and the position after them together, or
// neither: rows still in a chain have not advanced the position and are read again after a restore.
//
// The subtasks' outputs meet in a union (exec.NewUnion): downstream sees the end once every subtask ended,
// and the minimum watermark of the running subtasks. A table's WATERMARK is chained too, one split watermark
// assigner per subtask (watermarks.go); a subtask without active partitions (none owned, all idle) is idle in
// the union and does not hold the minimum back.

// chainedScan returns the scan below n when n is a chain of Calcs, window TVFs that assign windows row by
// row, and at most one WatermarkAssigner (or n itself) ending at a scan that runs as several subtasks, the chain's nodes from the top down, and the number
// of subtasks. A WatermarkAssigner is chained when it tracks watermarks per split of a source that gives every
// subtask its own split listener (connectors.SubtaskSplitSource): each subtask then has its own assigner.
func (g *graph) chainedScan(n planner.Node) (*planner.Scan, []planner.Node, int) {
	return g.chainedScanMin(n, 2)
}

// chainedScanMin is chainedScan for a consumer that takes a chain of fewer subtasks too: min 1 takes a
// source running as one subtask (a sink with a parallelism of its own behind its exchange, exchange_sink.go).
func (g *graph) chainedScanMin(n planner.Node, min int) (*planner.Scan, []planner.Node, int) {
	if g.batch || g.stage != nil || g.bsp != nil || g.staged != nil {
		return nil, nil, 0
	}
	var chain []planner.Node
	assigners := 0
	for top := true; ; top = false {
		if !top && g.parents[n] > 1 {
			if sc, ok := n.(*planner.Scan); !ok || g.reusedSubtasks(sc) < 2 {
				return nil, nil, 0 // read once for several consumers (reuse.go): its subtasks feed a fanout
			}
		}
		switch x := n.(type) {
		case *planner.Calc:
			chain = append(chain, x)
			n = x.Input
		case *planner.MiniBatchAssigner: // rows pass through (minibatch.go)
			n = x.Input
		case *planner.WatermarkAssigner:
			src, ok := splitSourceBelow(x.Input).(connectors.SubtaskSplitSource)
			if !ok || assigners > 0 || g.splitFans[src] != nil {
				return nil, nil, 0
			}
			assigners++
			chain = append(chain, x)
			n = x.Input
		case *planner.WindowTVF:
			// assigns windows (or slices) row by row: chained, unless it keeps state (SESSION assigning
			// windows itself) or reads the clock (PROCTIME)
			if x.Proctime || x.Spec.Kind == exec.Session && !g.sliced[x] {
				return nil, nil, 0
			}
			chain = append(chain, x)
			n = x.Input
		case *planner.Scan:
			ps, ok := x.Source.(connectors.ParallelSource)
			if !ok {
				return nil, nil, 0
			}
			p := ps.Subtasks(g.subtasks)
			if g.parents[x] > 1 {
				p = g.reusedSubtasks(x) // every branch chained per subtask (pipeline_reuse.go)
			}
			if p < min {
				return nil, nil, 0
			}
			return x, chain, p
		default:
			return nil, nil, 0
		}
	}
}

// buildSubtasks wires scan sc as p source subtasks, each with its own instance of chain, into out. With enc,
// out is a sink whose rows each subtask encodes outside the lock (connectors.EncodingOutput). A
// WatermarkAssigner in the chain gets one split listener per subtask (watermarks.go).
func (g *graph) buildSubtasks(sc *planner.Scan, chain []planner.Node, p int, out changelog.Output, j *Job, enc *sinkEncoding) error {
	if g.parents[sc] > 1 {
		return g.addReusedBranch(sc, j, reusedBranch{chain: chain, out: out, enc: enc}) // pipeline_reuse.go
	}
	ins := exec.NewUnion(p, out)
	ends := make([]chainEnd, p)
	for i := range p {
		pp := &pipe{mu: &g.mu, stopped: &g.stopped, out: ins[i]}
		if enc != nil {
			e, err := enc.out.NewSubtaskEncoder()
			if err != nil {
				return fmt.Errorf("sink encoder for source subtask %d of %s: %w", i+1, sc.Table.Name, err)
			}
			pp.enc, pp.rows = g.noteEncoder(enc.out, e), g.rowsOutShare(j) // sink_failure.go
		}
		ends[i] = pp
	}
	return g.buildChains(sc, chain, ends, ins, out, j)
}

// buildChains wires scan sc as len(ends) source subtasks, subtask i's instance of chain ending in ends[i].
// ins are the channels whose union's watermark a chained WatermarkAssigner checkpoints (read under the
// graph lock); out is where the subtasks meet the graph (the drain of STOP WITH SAVEPOINT).
func (g *graph) buildChains(sc *planner.Scan, chain []planner.Node, ends []chainEnd, ins []changelog.Output, out changelog.Output, j *Job) error {
	g.register(sc, sc.Source)
	subs := make([]changelog.Output, len(ends))
	var listeners []connectors.SplitListener
	var assigners []changelog.Output
	var assignerNode *planner.WatermarkAssigner
	tc := g.twoPhase[sc]
	for i, end := range ends {
		if tc != nil { // a two-phase aggregate's local ends the chain (twophase.go)
			le, err := tc.chainEnd(g, end, j)
			if err != nil {
				return err
			}
			end = le
		}
		o, l, a, an := g.chainInstance(chain, end, j)
		if l != nil {
			listeners = append(listeners, l)
			assigners, assignerNode = append(assigners, a), an
		}
		o = g.meter(sc, o, j)
		h := newPipeHead(end, exec.NewCounter(g.rowsInShare(j), o))
		h.failure = &g.failure
		subs[i] = h
	}
	if listeners != nil {
		g.subtaskAssigners = true
		sc.Source.(connectors.SubtaskSplitSource).SetSubtaskSplitListeners(listeners)
		// The assigners are checkpointed as one operator, as at parallelism 1.
		g.op(assignerNode, exec.SubtaskWatermarkState(assigners, ins))
	}
	g.sources = append(g.sources, sourceRun{name: sc.Table.Name, src: sc.Source, out: out, par: sc.Source.(connectors.ParallelSource), subs: subs})
	return nil
}

// chainInstance builds one subtask's instance of chain (from the top down) ending in end. With a
// WatermarkAssigner in the chain it also returns that subtask's split listener, its assigner and the node.
func (g *graph) chainInstance(chain []planner.Node, end changelog.Output, j *Job) (changelog.Output, connectors.SplitListener, changelog.Output, *planner.WatermarkAssigner) {
	o := end
	var listener connectors.SplitListener
	var assigner changelog.Output
	var node *planner.WatermarkAssigner
	for _, n := range chain {
		switch c := n.(type) {
		case *planner.Calc:
			o = exec.NewCalc(c.Projects, c.Filter, g.meter(c, o, j))
		case *planner.WindowTVF:
			if g.sliced[c] {
				o = exec.NewSliceAssigner(c.Spec, c.TimeCol, c.LTZ, g.loc, g.meter(c, o, j))
			} else {
				o = exec.NewWindowAssigner(c.Spec, c.TimeCol, c.LTZ, g.loc, g.meter(c, o, j))
			}
		case *planner.WatermarkAssigner:
			o, listener = g.subtaskWatermarkAssigner(c, g.meter(c, o, j))
			assigner, node = o, c
		}
	}
	return o, listener, assigner, node
}

// sinkEncoding is a sink that source subtasks encode for (each counts the rows out in a share of its own).
type sinkEncoding struct {
	out connectors.EncodingOutput
}

// SourceSubtasks returns how many subtasks each source of the job's graph runs as, by table name (a source
// running as one instance is absent).
func (j *Job) SourceSubtasks() map[string]int {
	j.mu.Lock()
	g := j.graph
	j.mu.Unlock()
	m := map[string]int{}
	if g == nil {
		return m
	}
	for _, sr := range g.sources {
		if len(sr.subs) > 0 {
			m[sr.name] = len(sr.subs)
		}
	}
	return m
}

// runSubtasks runs the subtasks of a parallel source and ends each of them; the first error wins and
// cancels the other subtasks (an unbounded subtask would otherwise keep the failed source running).
func runSubtasks(ctx context.Context, sr sourceRun) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(sr.subs))
	for i, out := range sr.subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := runSubtask(ctx, sr, i, out)
			if err == nil {
				err = safeEnd(sr.name, out)
			}
			errs[i] = err
			if err != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	var first error
	for _, err := range errs {
		if first == nil || errorsIsCanceled(first) && err != nil && !errorsIsCanceled(err) {
			first = err
		}
	}
	return first
}

// runSubtask runs subtask i of a parallel source, turning a panic in connector code into an error.
func runSubtask(ctx context.Context, sr sourceRun, i int, out changelog.Output) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("source %s (subtask %d of %d): internal error: %v", sr.name, i+1, len(sr.subs), r)
		}
	}()
	err = sr.par.RunSubtask(ctx, out, i, len(sr.subs))
	if err != nil && !errorsIsCanceled(err) {
		err = fmt.Errorf("source %s (subtask %d of %d): %w", sr.name, i+1, len(sr.subs), err)
	}
	return err
}

// errorsIsCanceled reports a cancellation: not a sink's error that wraps context.Canceled (sink_failure.go).
func errorsIsCanceled(err error) bool { return errors.Is(err, context.Canceled) && !isSinkError(err) }

// chainEnd is where a source subtask's chain meets the rest of the graph: a pipe (the graph lock) or an
// exchange's sender (exchange.go). lock is called before the subtask's position advances, flush after every
// call into the chain, unlock at the end of every call.
type chainEnd interface {
	changelog.Output
	lock() error
	flush() error
	unlock()
}

// pipe is the end of a source subtask's chain, where the chain meets the shared graph: it takes the graph
// lock at the first call and keeps it until the subtask's pipeHead releases it.
type pipe struct {
	mu      *sync.Mutex
	stopped *bool // the graph's stopped flag, read under mu
	out     changelog.Output
	held    bool
	// enc encodes the rows for the sink that out ends in, before the lock is taken (rows counts them).
	enc  connectors.SubtaskEncoder
	rows *atomic.Int64
}

func (p *pipe) lock() error {
	if !p.held {
		p.mu.Lock()
		p.held = true
	}
	if *p.stopped {
		return context.Canceled
	}
	return nil
}

func (p *pipe) flush() error { return nil }

func (p *pipe) unlock() {
	if p.held {
		p.held = false
		p.mu.Unlock()
	}
}

func (p *pipe) Push(b *changelog.Batch) error {
	if p.enc != nil {
		if len(b.Rows) == 0 {
			return nil
		}
		if w, ok := p.enc.(*writerEncoder); ok { // a keyed subtask writes the sink itself (pipeline_sink.go)
			p.rows.Add(int64(len(b.Rows)))
			return w.w.Push(b)
		}
		if err := p.enc.Encode(b); err != nil {
			return err
		}
		if err := p.lock(); err != nil {
			return err
		}
		p.rows.Add(int64(len(b.Rows)))
		return p.enc.Write()
	}
	if err := p.lock(); err != nil {
		return err
	}
	return p.out.Push(b)
}

func (p *pipe) Watermark(ts int64) error {
	if err := p.lock(); err != nil {
		return err
	}
	return p.out.Watermark(ts)
}

func (p *pipe) End() error {
	if !p.held {
		p.mu.Lock()
		p.held = true
	}
	return p.out.End()
}

// pipeHead is what a source subtask pushes to: the chain's first operator. Every call releases the lock the
// chain's end took; PushThen advances the position before that (connectors.PositionedOutput). An eager end
// (one that buffers rows: a two-phase aggregate's local, twophase.go) is locked for the whole call.
type pipeHead struct {
	end   chainEnd
	in    changelog.Output
	eager bool
	// failure is marked when a call into the chain fails, before the end lets go of the graph lock or the
	// gate (push_failure.go)
	failure *pushFailure
}

func newPipeHead(end chainEnd, in changelog.Output) *pipeHead {
	e, ok := end.(interface{ eager() bool })
	return &pipeHead{end: end, in: in, eager: ok && e.eager()}
}

// begin locks an eager end.
func (h *pipeHead) begin() error {
	if h.eager {
		return h.end.lock()
	}
	return nil
}

func (h *pipeHead) Push(b *changelog.Batch) error {
	defer h.end.unlock()
	if err := h.begin(); err != nil {
		return err
	}
	if err := h.in.Push(b); err != nil {
		return h.failure.mark(err)
	}
	return h.failure.mark(h.end.flush())
}

func (h *pipeHead) PushThen(b *changelog.Batch, advance func()) error {
	defer h.end.unlock()
	if err := h.begin(); err != nil {
		return err
	}
	if b.Len() > 0 {
		if err := h.in.Push(b); err != nil {
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

func (h *pipeHead) Watermark(ts int64) error {
	defer h.end.unlock()
	if err := h.begin(); err != nil {
		return err
	}
	return h.failure.mark(h.in.Watermark(ts))
}

func (h *pipeHead) End() error {
	defer h.end.unlock()
	if err := h.begin(); err != nil {
		return err
	}
	return h.failure.mark(h.in.End())
}
