package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Pipelined hash exchanges (Flink's keyBy between a source's subtasks and a keyed operator). When every input
// of a keyed operator (GROUP BY, regular join) is a chain of source subtasks (chainedScan), the operator runs
// as g.subtasks keyed subtasks, each its own instance on its own goroutine behind an input queue
// (exec.Exchange). The source subtasks route their rows by key group straight into the owning subtask's
// queue without the graph lock; the keyed subtasks push their output downstream under the graph lock, into a
// union of their outputs (watermark: the minimum; end: once all ended).
//
// Checkpoints (the gate): a source subtask holds g.gate for reading from the first row it routes until its
// PushThen has advanced the source's position (its collected rows sent first). A checkpoint closes the gate
// (g.gate.Lock: no source subtask is between routing and advancing), waits until every exchange is idle (all
// queues empty, every keyed subtask's output delivered downstream; keyed subtasks never need the gate), and
// only then takes the graph lock and snapshots as before. That is barrier alignment with no data in flight:
// the positions and the keyed state describe the same rows. The keyed subtasks' state is written as one
// operator's (exec.Exchange.State, as exec.Parallel), so the checkpoint format and part ids do not change and
// a checkpoint restores at any parallelism. Periodic checkpoints and commit cycles reopen the gate at once
// and cut with barriers in the queues instead where the graph allows (exchange_barrier.go).

// exchangeRun is an exchange of the graph, run by attempt.
type exchangeRun struct {
	name  string
	x     *exec.Exchange
	feeds bool // its keyed subtasks route into another exchange (exchange_keyed.go)
	// lockFed: a sink's own subtasks fed from under the graph lock (exchange_sink.go): the quiesce skips it,
	// the checkpoint waits for it under the lock
	lockFed bool
}

// exchangeInput is one input of a keyed operator fed through an exchange.
type exchangeInput struct {
	node planner.Node
	side exec.ExchangeSide
}

// buildExchange builds the keyed operator of n as g.subtasks subtasks behind a hash exchange when every input
// is a chain of source subtasks. mk builds one subtask's operator (its inputs per side, and its state
// holder). It reports false (and builds nothing) when the exchange does not apply.
func (g *graph) buildExchange(n planner.Node, inputs []exchangeInput, mk func(out changelog.Output) ([]changelog.Output, changelog.Output, error), out changelog.Output, j *Job) (bool, error) {
	own := ownSinkParallelism(n) // a sink's own subtasks (exchange_sink.go)
	if g.subtasks < 2 && own == 0 || g.batch || noExchange {
		return false, nil
	}
	minChain := 2
	if own > 0 {
		minChain = 1
	}
	type chained struct {
		sc    *planner.Scan
		chain []planner.Node
		p     int
		// a keyed operator (through calcs) behind an exchange of its own (exchange_keyed.go)
		up    planner.Node
		calcs []*planner.Calc
	}
	cs := make([]chained, len(inputs))
	for i, in := range inputs {
		_, global := n.(*planner.GlobalGroupAggregate) // keyless: every row to one subtask (twophase.go)
		if sc, ok := in.node.(*planner.Scan); len(in.side.Keys) == 0 && !global && !in.side.Rebalance || g.parents[in.node] > 1 && (!ok || g.reusedSubtasks(sc) < 2) {
			return false, nil
		}
		sc, chain, p := g.chainedScanMin(in.node, minChain)
		if sc == nil {
			calcs, up := g.keyedBelow(in.node)
			if up == nil {
				return false, nil
			}
			cs[i] = chained{up: up, calcs: calcs}
			inputs[i].side.Senders = g.subtasks
			continue
		}
		for _, c := range cs[:i] {
			if c.sc == sc && g.parents[sc] < 2 {
				return false, nil
			}
		}
		cs[i] = chained{sc: sc, chain: chain, p: p}
		inputs[i].side.Senders = p
	}
	k := g.subtasks
	if own > 0 {
		k = own
	} else if len(inputs[0].side.Keys) == 0 {
		k = 1 // Exchange(single): a keyless global aggregate runs as one subtask (twophase.go)
	}
	var outs []changelog.Output
	var release func(int)
	var after func(int) error
	if t := g.xTargets[n]; t != nil {
		outs, release, after = g.targetOutputs(n, t, k, j) // exchange_keyed.go
	} else {
		ins := exec.NewUnion(k, out)
		pipes := make([]*keyedPipe, k)
		outs = make([]changelog.Output, k)
		for i := range k {
			pipes[i] = &keyedPipe{pipe: pipe{mu: &g.mu, stopped: &g.stopped, out: ins[i]}}
			outs[i] = pipes[i]
		}
		release = func(i int) { pipes[i].unlock() }
	}
	sides := make([]exec.ExchangeSide, len(inputs))
	for i, in := range inputs {
		sides[i] = in.side
	}
	x, err := exec.NewExchange(g.maxPar, k, sides, func(_ int, o changelog.Output) ([]changelog.Output, changelog.Output, error) {
		return mk(o) // an error of its items marks the graph failed (SetOnError below, push_failure.go)
	}, outs, release)
	if err != nil {
		return true, err
	}
	if after != nil {
		x.SetAfterItem(after)
	}
	x.SetOnError(g.markSubtaskError) // push_failure.go
	feeds := after != nil
	if t := g.xTargets[n]; t != nil && t.senders != nil {
		x.SetBarrierForward(func(k int, id int64) error { return t.senders[k].Barrier(id) }) // exchange_barrier.go
	}
	for side, c := range cs {
		if c.up != nil {
			x.AlignSide(side) // its channels are the upstream exchange's keyed subtasks
		}
	}
	if st := x.State(); st != nil {
		g.register(n, st)
	} else {
		g.register(n, nil)
	}
	g.exchanges = append(g.exchanges, &exchangeRun{name: n.Describe(), x: x, feeds: feeds})
	exchangesBuilt.Add(1)
	for side, c := range cs {
		if c.up != nil {
			if err := g.buildTarget(c.up, &keyedTarget{calcs: c.calcs, x: x, side: side}, exchangeDrained{}, j); err != nil {
				return true, err
			}
			continue
		}
		if g.parents[c.sc] > 1 {
			// a branch of a reused scan: wired with the scan's other branches (pipeline_reuse.go)
			if err := g.addReusedBranch(c.sc, j, reusedBranch{chain: c.chain, x: x, side: side}); err != nil {
				return true, err
			}
			continue
		}
		ends := make([]chainEnd, c.p)
		for i := range ends {
			ends[i] = &exchangeEnd{gate: &g.gate, g: g, s: x.Sender(side, i)}
		}
		if err := g.buildChains(c.sc, c.chain, ends, x.SideInputs(0, side), exchangeDrained{}, j); err != nil {
			return true, err
		}
		g.xSourceRuns++ // exchange_barrier.go
	}
	return true, nil
}

// exchangesBuilt counts the exchanges built (tests check that a query took this path).
var exchangesBuilt atomic.Int64

// noExchange turns the exchange off (a test hook: compare against the fork-join path).
var noExchange = false

// keyedPipe is a keyed subtask's output: the graph lock is taken at its first call during one queue item and
// released after the item (exec.Exchange's release).
type keyedPipe struct {
	pipe
}

// exchangeEnd is the end of a source subtask's chain in front of an exchange: it holds the checkpoint gate
// for reading while it routes, and sends its collected rows before the subtask's position advances.
type exchangeEnd struct {
	gate *sync.RWMutex
	g    *graph
	s    *exec.ExchangeSender
	held bool
}

func (e *exchangeEnd) lock() error {
	if !e.held {
		e.gate.RLock()
		e.held = true
	}
	if e.g.stopping.Load() {
		return context.Canceled
	}
	return nil
}

func (e *exchangeEnd) flush() error {
	if !e.held {
		return nil
	}
	return e.s.Flush()
}

func (e *exchangeEnd) unlock() {
	if e.held {
		e.held = false
		e.gate.RUnlock()
	}
}

func (e *exchangeEnd) Push(b *changelog.Batch) error {
	if err := e.lock(); err != nil {
		return err
	}
	return e.s.Push(b)
}

func (e *exchangeEnd) Watermark(ts int64) error {
	if err := e.lock(); err != nil {
		return err
	}
	return e.s.Watermark(ts)
}

func (e *exchangeEnd) End() error {
	if err := e.lock(); err != nil {
		return err
	}
	return e.s.End()
}

// exchangeDrained is the graph-side output of source subtasks feeding an exchange: STOP WITH SAVEPOINT's
// drain reaches the keyed subtasks through the exchange (quiesce), not under the graph lock.
type exchangeDrained struct{}

func (exchangeDrained) Push(*changelog.Batch) error { return nil }
func (exchangeDrained) Watermark(int64) error       { return nil }
func (exchangeDrained) End() error                  { return nil }

// quiesce waits until no data is in flight in the graph's exchanges (called with g.gate closed), after
// sending the maximum watermark through them with drain. Exchanges fed by other exchanges' keyed subtasks
// (exchange_keyed.go) are built before those: they are waited for (and drained) last, and the pass repeats
// until it finds every exchange idle.
func (g *graph) quiesce(drain bool) error {
	if err := g.flushLocals(); err != nil { // twophase.go
		return g.failure.mark(err)
	}
	for pass := 0; ; pass++ {
		for i := len(g.exchanges) - 1; i >= 0; i-- {
			r := g.exchanges[i]
			if r.lockFed {
				continue
			}
			var err error
			if drain && pass == 0 {
				err = r.x.Drain()
			} else {
				err = r.x.WaitIdle()
			}
			if err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
		}
		idle := true
		for _, r := range g.exchanges {
			idle = idle && (r.lockFed || r.x.Idle())
		}
		if idle {
			return nil
		}
	}
}

// runExchanges starts the keyed subtasks of the graph's exchanges; a failure goes to fail. The returned
// function waits until they all returned.
func (g *graph) runExchanges(ctx context.Context, fail func(error)) (wait func()) {
	var wg sync.WaitGroup
	for _, r := range g.exchanges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.x.Run(ctx); err != nil {
				fail(fmt.Errorf("%s: %w", r.name, err))
			}
		}()
	}
	return wg.Wait
}

// joinExchangeInputs returns the two inputs of a regular join, keyed by their join keys (rows with a NULL key
// go where the join keeps them).
func joinExchangeInputs(n *planner.Join, cfg exec.JoinConfig) []exchangeInput {
	side := func(keys []int, ts []types.Type) exec.ExchangeSide {
		sd := exec.ExchangeSide{Keys: keys, NullKey: true}
		for _, k := range keys {
			sd.KeyTypes = append(sd.KeyTypes, ts[k])
		}
		return sd
	}
	return []exchangeInput{{node: n.Left, side: side(cfg.LeftKeys, cfg.LeftTypes)}, {node: n.Right, side: side(cfg.RightKeys, cfg.RightTypes)}}
}

// PushColumns routes a columnar batch of a source subtask's chain (no row batch in between).
func (e *exchangeEnd) PushColumns(b *vec.Batch) error {
	if err := e.lock(); err != nil {
		return err
	}
	return e.s.PushColumns(b)
}

// AcceptsColumns: the sender takes columns.
func (e *exchangeEnd) AcceptsColumns() bool { return true }
