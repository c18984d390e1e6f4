package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Two-phase aggregation across subtasks, as Flink plans it: source subtasks → Calc → LocalGroupAggregate
// (chained, one instance per source subtask) → Exchange(hash[group keys]) → GlobalGroupAggregate (keyed
// subtasks). A GlobalGroupAggregate whose LocalGroupAggregate reads (through Calcs, a MiniBatchAssigner, a
// WatermarkAssigner: chainedScan) a scan running as source subtasks is built as an exchange (exchange.go)
// keyed on the partial rows' key columns 0..k-1, and every source subtask's chain ends in a local aggregate
// of its own in front of its sender (localEnd).
//
// The local aggregate buffers rows whose position has already advanced, so a source subtask holds the
// checkpoint gate for its whole call into the chain (not only from the first routed row), and the
// checkpoint's quiesce (with the gate closed: no subtask is inside its chain) applies every local's pending
// partials into its sender before it waits for the exchanges (flushLocals; a barrier checkpoint does so at
// its gate and writes the locals' part there: exchange_barrier.go, cutGateState). After that the locals hold
// nothing, so their checkpoint part is written as at parallelism 1 (one LocalGroupAggregate part, with no
// pending partials); a restored part's partials go into the first subtask's local, whose next flush routes
// them by key. The locals also apply before each watermark and at the end of input (on the subtask's
// goroutine), by size and latency as rows arrive, and on the mini-batch ticker's latency: the ticker starts
// a flush of the due locals on a goroutine of its own (at most one at a time), which takes the gate and a
// local only if both are free (never blocking a checkpoint or the subtask).

// twoPhaseChain is the chained local aggregate of a two-phase aggregate: one instance per source subtask.
type twoPhaseChain struct {
	local *planner.LocalGroupAggregate
	cfg   exec.GroupAggConfig
	mb    exec.MiniBatchConfig
	ends  []*localEnd
	ticks atomic.Bool           // a tick's flush is running
	err   atomic.Pointer[error] // a tick's failure, reported by the ticker's next call
}

// twoPhaseBuilt counts the two-phase aggregates built with chained locals (tests check the path).
var twoPhaseBuilt atomic.Int64

// twoPhaseScan returns the local aggregate of n when graph.build builds n with its local chained into source
// subtasks behind a hash exchange (keyedExchange agrees through it), or nil.
func (g *graph) twoPhaseScan(n *planner.GlobalGroupAggregate) *planner.LocalGroupAggregate {
	if g.subtasks < 2 || g.batch || noExchange || g.backend != nil {
		return nil
	}
	local, ok := n.Input.(*planner.LocalGroupAggregate)
	if !ok || g.parents[local] > 1 || g.parents[local.Input] > 1 {
		return nil
	}
	sc, _, _ := g.chainedScan(local.Input)
	if sc == nil || g.parents[sc] > 1 {
		return nil
	}
	return local
}

// buildTwoPhase builds n (cfg: the global aggregate's configuration) as keyed subtasks behind a hash
// exchange fed by local aggregates chained into the source subtasks. It reports false (and builds nothing)
// when that does not apply.
func (g *graph) buildTwoPhase(n *planner.GlobalGroupAggregate, cfg exec.GroupAggConfig, keyTypes []types.Type, out changelog.Output, j *Job) (bool, error) {
	local := g.twoPhaseScan(n)
	if local == nil {
		return false, nil
	}
	sc, _, _ := g.chainedScan(local.Input)
	in := local.Input.Fields()
	lcfg := exec.GroupAggConfig{Keys: local.Keys, Aggs: local.Aggs, InTypes: fieldTypes(in), InsertOnly: local.Input.Mode().IsInsertOnly()}
	for _, k := range local.Keys {
		lcfg.KeyTypes = append(lcfg.KeyTypes, in[k].Type)
	}
	tc := &twoPhaseChain{local: local, cfg: lcfg, mb: exec.MiniBatchConfig{Size: local.MiniBatch.Size, Latency: local.MiniBatch.Latency}}
	if g.twoPhase == nil {
		g.twoPhase = map[*planner.Scan]*twoPhaseChain{}
	}
	g.twoPhase[sc] = tc
	keys := make([]int, len(n.Keys))
	for i := range keys {
		keys[i] = i
	}
	side := exec.ExchangeSide{Keys: keys, KeyTypes: keyTypes}
	ok, err := g.buildExchange(n, []exchangeInput{{node: local.Input, side: side}}, func(o changelog.Output) ([]changelog.Output, changelog.Output, error) {
		a, err := exec.NewGlobalGroupAgg(cfg, o)
		return []changelog.Output{a}, a, err
	}, out, j)
	if err != nil {
		return true, err
	}
	if !ok || len(tc.ends) == 0 {
		return true, fmt.Errorf("%w: %s: the local aggregate was not chained into source subtasks", planner.ErrInternal, n.Describe())
	}
	g.register(local, &localParts{ends: tc.ends})
	g.miniBatch.add(tc, local.MiniBatch.Latency)
	twoPhaseBuilt.Add(1)
	return true, nil
}

// chainEnd returns subtask i's local aggregate in front of x (the end buildExchange made for it).
func (tc *twoPhaseChain) chainEnd(g *graph, x chainEnd, j *Job) (chainEnd, error) {
	xe, ok := x.(*exchangeEnd)
	if !ok {
		return nil, fmt.Errorf("%w: a two-phase aggregate's local ends in %T, not an exchange", planner.ErrInternal, x)
	}
	agg, err := exec.NewLocalGroupAgg(tc.cfg, tc.mb, g.meter(tc.local, xe, j))
	if err != nil {
		return nil, err
	}
	le := &localEnd{gate: xe.gate, x: xe, agg: agg, flusher: agg.(localFlusher)}
	tc.ends = append(tc.ends, le)
	return le, nil
}

// localFlusher is exec's local aggregate: Flush applies the pending partials, FlushDue those that are due.
type localFlusher interface {
	Flush() error
	FlushDue() error
}

// localEnd is the end of a source subtask's chain in a two-phase aggregate: the subtask's local aggregate,
// whose partials go to the exchange's sender. The subtask holds the gate (for reading) and mu for each whole
// call into its chain (lock is called first: pipeHead's eager end).
type localEnd struct {
	gate    *sync.RWMutex
	mu      sync.Mutex // the local aggregate's user: the subtask, a tick, or the quiesce
	x       *exchangeEnd
	agg     changelog.Output
	flusher localFlusher
	held    bool
}

func (l *localEnd) eager() bool { return true }

func (l *localEnd) lock() error {
	if !l.held {
		l.gate.RLock()
		l.mu.Lock()
		l.held, l.x.held = true, true
	}
	if l.x.g.stopping.Load() {
		return context.Canceled
	}
	return nil
}

func (l *localEnd) flush() error { return l.x.flush() }

func (l *localEnd) unlock() {
	if l.held {
		l.held, l.x.held = false, false
		l.mu.Unlock()
		l.gate.RUnlock()
	}
}

func (l *localEnd) Push(b *changelog.Batch) error {
	if err := l.lock(); err != nil {
		return err
	}
	return l.agg.Push(b)
}

// PushColumns combines a columnar batch of the subtask's chain in its local without converting it to rows
// (exec's local aggregate takes columns).
func (l *localEnd) PushColumns(b *vec.Batch) error {
	if err := l.lock(); err != nil {
		return err
	}
	localColumnBatches.Add(1)
	return pushColumns(l.agg, b)
}

// localColumnBatches counts the columnar batches chained locals took (tests check the path).
var localColumnBatches atomic.Int64

// AcceptsColumns: the chain above runs on columns when the local takes them.
func (l *localEnd) AcceptsColumns() bool { return vec.Accepts(l.agg) }

var _ vec.Output = (*localEnd)(nil)

func (l *localEnd) Watermark(ts int64) error {
	if err := l.lock(); err != nil {
		return err
	}
	return l.agg.Watermark(ts)
}

func (l *localEnd) End() error {
	if err := l.lock(); err != nil {
		return err
	}
	return l.agg.End()
}

// apply applies the local's pending partials (all, or the due ones) and sends them, by a caller that holds
// the gate (for reading, or closed by a checkpoint) and mu.
func (l *localEnd) apply(all bool) error {
	l.x.held = true
	defer func() { l.x.held = false }()
	var err error
	if all {
		err = l.flusher.Flush()
	} else {
		err = l.flusher.FlushDue()
	}
	if err != nil {
		return err
	}
	return l.x.s.Flush()
}

// flushLocals applies the pending partials of every chained local aggregate into its exchange (called by
// quiesce with the gate closed: no source subtask is inside its chain).
func (g *graph) flushLocals() error {
	for _, tc := range g.twoPhase {
		for i, l := range tc.ends {
			l.mu.Lock()
			err := l.apply(true)
			l.mu.Unlock()
			if err != nil {
				return fmt.Errorf("%s (source subtask %d): %w", tc.local.Describe(), i+1, err)
			}
		}
	}
	return nil
}

// FlushDue is the mini-batch ticker's call (under the graph lock, which the exchange's keyed subtasks need):
// it starts a flush of the due locals on a goroutine of its own unless one is still running.
func (tc *twoPhaseChain) FlushDue() error {
	if err := tc.err.Load(); err != nil {
		return *err
	}
	if !tc.ticks.CompareAndSwap(false, true) {
		return nil
	}
	go func() {
		defer tc.ticks.Store(false)
		for _, l := range tc.ends {
			if err := l.tick(); err != nil {
				err = fmt.Errorf("%s: %w", tc.local.Describe(), err)
				tc.err.Store(&err)
				return
			}
		}
	}()
	return nil
}

// tick applies the due partials of l if neither a checkpoint (the gate) nor the subtask (mu) holds it.
func (l *localEnd) tick() error {
	if !l.gate.TryRLock() {
		return nil
	}
	defer l.gate.RUnlock()
	if l.x.g.stopping.Load() || !l.mu.TryLock() {
		return nil
	}
	defer l.mu.Unlock()
	return l.x.g.failure.mark(l.apply(false)) // before the gate is let go (push_failure.go)
}

// localParts is the checkpoint part of the chained locals: one LocalGroupAggregate's, as at parallelism 1.
// At the cut every local is empty (flushLocals), so the first subtask's local writes it; a restored part's
// pending partials go into the first subtask's local.
type localParts struct {
	ends []*localEnd
}

func (p *localParts) Push(*changelog.Batch) error { return nil }
func (p *localParts) Watermark(int64) error       { return nil }
func (p *localParts) End() error                  { return nil }

func (p *localParts) SnapshotState(w state.Writer) error {
	l := p.ends[0]
	l.mu.Lock() // free at a cut (the gate is closed); taken against the lockLocalState test hook's subtask
	defer l.mu.Unlock()
	return l.agg.(state.Snapshotter).SnapshotState(w)
}

func (p *localParts) RestoreState(r state.Reader) error {
	return p.ends[0].agg.(state.Snapshotter).RestoreState(r)
}

// graphLocal is a local aggregate built under the graph lock: at parallelism 1, or where its input is not a
// chain of source subtasks.
type graphLocal struct {
	node *planner.LocalGroupAggregate
	op   localFlusher
}

// noCutFlush keeps the graph's locals' pending partials at the cut (tests: a checkpoint as written before
// the locals were flushed at the cut).
var noCutFlush bool

// flushGraphLocals applies the pending partials of the local aggregates built under the graph lock before
// the cut, as the chained locals' are (flushLocals), so their output does not wait for the next batch after a
// checkpoint and their checkpoint part holds no partials. The checkpoint calls it with the gate closed and
// the graph lock held, after the quiesce: the partials go through the global aggregate (exec.Parallel or one
// instance, both synchronous) and on to the sinks before their pre-commit. A graph with exchanges keeps them
// (they go into the local's part, restored as before): rows sent after the quiesce could still be in flight
// in an exchange at the cut.
func (g *graph) flushGraphLocals() error {
	if len(g.exchanges) > 0 || noCutFlush {
		return nil
	}
	for _, l := range g.locals {
		if err := l.op.Flush(); err != nil {
			return fmt.Errorf("%s: %w", l.node.Describe(), err)
		}
	}
	return nil
}
