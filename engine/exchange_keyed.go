package engine

import (
	"fmt"
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
)

// Exchanges after keyed subtasks. The keyed subtasks of an exchange (exchange.go) do not have to meet the
// graph at once:
//
//   - Forward chains: the Calcs (projections, filters) directly above the keyed operator are instantiated once
//     per keyed subtask and run on its goroutine, before the union of the subtasks' outputs and the graph
//     lock (Flink's chained forward edge).
//   - Keyed → keyed: when the input of a keyed operator is (through such Calcs) another keyed operator that
//     runs behind an exchange, that operator's keyed subtasks route their output (changelog rows, retractions
//     included; watermarks; the end) by key group straight into the next exchange's queues, each subtask one
//     sending channel, without the graph lock. After every item, a subtask flushes what it collected for the
//     next exchange before the item stops counting as pending, so an idle exchange has nothing in flight of
//     its own: quiesce waits for the exchanges upstream first (repeating until a full pass finds all idle).
//     The next exchange ends once every sending subtask ended.
//
// The engine builds a plan top down: a keyed operator decides that its input is an upstream exchange before
// that is built (keyedBelow mirrors the conditions under which graph.build builds a node as an exchange),
// then leaves a keyedTarget for it, which buildExchange takes instead of the union under the lock.

// keyedTarget is where an exchange's keyed subtasks send their output when it is not the graph's union.
type keyedTarget struct {
	calcs []*planner.Calc // the forward chain above the keyed operator, top down
	x     *exec.Exchange  // the next exchange (nil: the union under the graph lock, into out)
	side  int
	out   changelog.Output // x == nil: the output of the chain's top Calc (metered by build)
	used  bool
	// senders: with x, each keyed subtask's sender into x (it forwards checkpoint barriers, exchange_barrier.go)
	senders []*exec.ExchangeSender
	// enc: x == nil and the chain ends in a sink whose rows each keyed subtask encodes (exchange_sink.go);
	// out is then the sink's Output; each keyed subtask counts the rows out in a share of its own.
	enc []connectors.SubtaskEncoder
}

// keyedExchangesBuilt counts the keyed → keyed exchanges built, forwardChainsBuilt the forward chains after
// keyed subtasks (tests check that a query took these paths).
var keyedExchangesBuilt, forwardChainsBuilt atomic.Int64

// keyedBelow returns the keyed operator that n is (through Calcs: their nodes from the top down) when
// graph.build would build it as keyed subtasks behind an exchange, or nil.
func (g *graph) keyedBelow(n planner.Node) ([]*planner.Calc, planner.Node) {
	if g.subtasks < 2 && ownSinkParallelism(n) == 0 || g.batch || noExchange || g.stage != nil || g.bsp != nil || g.staged != nil {
		return nil, nil
	}
	var calcs []*planner.Calc
	for top := true; ; top = false {
		if !top && g.parents[n] > 1 {
			return nil, nil
		}
		c, ok := n.(*planner.Calc)
		if !ok {
			break
		}
		calcs = append(calcs, c)
		n = c.Input
	}
	if !g.keyedExchange(n) {
		return nil, nil
	}
	return calcs, n
}

// keyedExchange reports whether graph.build builds n as keyed subtasks behind an exchange (GROUP BY with or
// without mini-batch, rank, window aggregates, regular, interval, window and temporal joins, ChangelogNormalize,
// OVER, MATCH_RECOGNIZE; other kinds stay under the lock): its kind and
// configuration take the exchange (the conditions in graph.go) and every input is a chain of source
// subtasks or, through Calcs, another such keyed operator.
func (g *graph) keyedExchange(n planner.Node) bool {
	input := func(in planner.Node) bool {
		if g.parents[in] > 1 {
			return false
		}
		if sc, _, _ := g.chainedScan(in); sc != nil {
			return true
		}
		_, u := g.keyedBelow(in)
		return u != nil
	}
	twoInputs := func(left, right planner.Node) bool {
		if !input(left) || !input(right) {
			return false
		}
		l, _, _ := g.chainedScan(left)
		r, _, _ := g.chainedScan(right)
		return l == nil || l != r || g.parents[l] > 1 // two branches of one reused scan (pipeline_reuse.go)
	}
	switch n := n.(type) {
	case *planner.Aggregate: // mini-batch included (exchange_ops.go: tickExchange)
		return !n.Batch && g.backend == nil && len(n.InputSort) == 0 && len(n.Keys) > 0 && input(n.Input)
	case *planner.Rank:
		return !n.Batch && len(n.Partition) > 0 && input(n.Input)
	case *planner.GlobalGroupAggregate: // its local chained into source subtasks (twophase.go); keyless: single
		return len(n.Keys) > 0 && g.twoPhaseScan(n) != nil
	case *planner.WindowAggregate:
		if tvf, _, ok := g.sessionWindow(n); ok {
			// graph.build marks the SESSION TVF as giving each row its own window before it builds the input,
			// which then chains the TVF (chainedScan); mark it now so that the input looks the same here
			g.sliced[tvf] = true
		}
		return g.windowExchangeKeys(n) > 0 && input(n.Input)
	case *planner.Join: // regular and interval joins
		return !n.Batch && len(n.LeftKeys) > 0 && twoInputs(n.Left, n.Right)
	case *planner.ChangelogNormalize: // exchange_ops.go
		return !n.Batch && len(n.Keys) > 0 && input(n.Input)
	case *planner.OverAggregate:
		return len(n.Partition) > 0 && input(n.Input)
	case *planner.MatchRecognize:
		return len(n.Partition) > 0 && input(n.Input)
	case *planner.WindowJoin:
		return !n.NullAware && len(n.LeftKeys) > 0 && twoInputs(n.Left, n.Right)
	case *planner.TemporalJoin:
		return len(n.LeftKeys) > 0 && twoInputs(n.Left, n.Right)
	case *planner.SinkMaterializer: // sink_materialize.go
		if n.Parallelism > 0 { // the sink's own subtasks (exchange_sink.go): a source of one subtask feeds them too
			if sc, _, _ := g.chainedScanMin(n.Input, 1); sc != nil && g.parents[n.Input] < 2 {
				return true
			}
		}
		return input(n.Input)
	}
	return false
}

// windowExchangeKeys returns how many keys window aggregate n's exchange routes by, as graph.build computes
// them: the group keys, without the window columns when the aggregate assigns the windows itself (slices,
// sessions).
func (g *graph) windowExchangeKeys(n *planner.WindowAggregate) int {
	_, startKey, ok := g.sliceWindow(n)
	if !ok {
		_, startKey, ok = g.sessionWindow(n)
	}
	if !ok {
		return len(n.Keys)
	}
	k := 0
	for i := range n.Keys {
		if i != startKey && i != n.WindowEndKey {
			k++
		}
	}
	return k
}

// buildForward builds Calc n, and the Calcs below it, into every keyed subtask of the exchange below them
// (out: n's output). It reports false when there is no such exchange.
func (g *graph) buildForward(n *planner.Calc, out changelog.Output, j *Job) (bool, error) {
	calcs, u := g.keyedBelow(n)
	if u == nil {
		return false, nil
	}
	return true, g.buildTarget(u, &keyedTarget{calcs: calcs, out: out}, out, j)
}

// buildTarget builds keyed operator u with its keyed subtasks' output going to t.
func (g *graph) buildTarget(u planner.Node, t *keyedTarget, out changelog.Output, j *Job) error {
	if g.xTargets == nil {
		g.xTargets = map[planner.Node]*keyedTarget{}
	}
	g.xTargets[u] = t
	if err := g.build(u, out, j); err != nil {
		return err
	}
	if !t.used {
		return fmt.Errorf("engine: internal error: %s was not built as keyed subtasks", u.Describe())
	}
	return nil
}

// forwardChain returns subtask k's instance of t's Calcs in front of end (the top Calc's meter is in t.out
// when the chain ends in the union, unless the subtasks encode for a sink).
func (g *graph) forwardChain(t *keyedTarget, end changelog.Output, j *Job) changelog.Output {
	o := end
	for i, c := range t.calcs {
		if i > 0 || t.x != nil || t.enc != nil {
			o = g.meter(c, o, j)
		}
		o = exec.NewCalc(c.Projects, c.Filter, o)
	}
	return o
}

// targetOutputs returns the outputs of the k keyed subtasks of node n's exchange for target t, and the
// function that the exchange calls after each item of subtask i (SetAfterItem; nil: none).
func (g *graph) targetOutputs(n planner.Node, t *keyedTarget, k int, j *Job) ([]changelog.Output, func(int), func(int) error) {
	t.used = true
	outs := make([]changelog.Output, k)
	if t.x == nil {
		if t.enc == nil || len(t.calcs) > 0 {
			forwardChainsBuilt.Add(1)
		}
		ins := exec.NewUnion(k, t.out)
		pipes := make([]*keyedPipe, k)
		for i := range k {
			pipes[i] = &keyedPipe{pipe: pipe{mu: &g.mu, stopped: &g.stopped, out: ins[i]}}
			if t.enc != nil {
				pipes[i].enc, pipes[i].rows = t.enc[i], g.rowsOutShare(j)
			}
			outs[i] = g.meter(n, g.forwardChain(t, pipes[i], j), j)
		}
		return outs, func(i int) { pipes[i].unlock() }, nil
	}
	keyedExchangesBuilt.Add(1)
	senders := make([]*exec.ExchangeSender, k)
	for i := range k {
		senders[i] = t.x.Sender(t.side, i)
		outs[i] = g.meter(n, g.forwardChain(t, senders[i], j), j)
	}
	t.senders = senders
	return outs, func(int) {}, func(i int) error { return senders[i].Flush() }
}
