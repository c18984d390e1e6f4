package engine

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
)

// Checkpoints with barriers through the exchanges (Flink's aligned barriers; exec/exchange_barrier.go). A
// periodic checkpoint or commit cycle does not wait for the exchanges to be idle (quiesce). With the gate
// closed (no source subtask between routing and advancing its position) and under the graph lock it records
// the source positions (of the sources cut at the gate, below); it
// starts a barrier in every exchange and queues one behind everything already queued for every keyed subtask
// of an exchange fed by source subtasks, then reopens the gate: the sources read on while the keyed subtasks
// work through the rows before the cut. A keyed subtask whose exchange feeds another (exchange_keyed.go)
// writes its state at its barrier and forwards the barrier on its channel; a downstream subtask aligns its
// channels. A keyed subtask whose output goes to the graph waits at its barrier, its state unchanged, until
// the checkpoint's part under the graph lock is done; so do the operators after the union (only keyed
// subtasks feed them) and the sinks (their PreCommit sees exactly the rows before the cut). Once every
// subtask took its barrier the checkpoint takes the graph lock, snapshots the operators (each exchange's
// state written as today, exec.Exchange.State) and pre-commits the sinks with the positions recorded at the
// gate, then releases the subtasks.
//
// Operators chained into the source subtasks run on once the gate reopens, so their state is cut at the gate
// (gateState): the two-phase local aggregates (twophase.go) apply their pending partials into their exchange
// ahead of the barrier, as the quiesce does (flushLocals), and their part is written there and then; the
// checkpoint writes that copy instead of snapshotting them under the graph lock. The watermark assigners'
// part (exec.SubtaskWatermarkState) is the watermark the first keyed subtask's union sent on: that subtask
// takes its barrier after every watermark routed before the gate (those routed after it lie behind the
// barrier) and, its output going to the graph, waits there unchanged until the part under the graph lock is
// done, so the part read there is the one at the cut. Their split watermarks (by partition name) are copied
// at the gate with the positions (exec: CutSplits), the assigners running on after it.
//
// A keyed subtask that forwards its barrier runs on: the watermark its union had sent on and its late-row
// count are recorded at its barrier (exec: unionCut, lateAt) and written instead of the live values.
// Savepoints and STOP ... WITH SAVEPOINT take the same path (checkpoint.go: drain at the barriers; with stop
// the subtasks are not released and the rows after the cut stay queued behind the barriers).
//
// barrierCutsTaken counts the checkpoints taken with barriers (tests check that a job took this path).
var barrierCutsTaken atomic.Int64

// barrierSavepoints counts the savepoints (STOP ... WITH SAVEPOINT) cut with barriers.
var barrierSavepoints atomic.Int64

// noBarriers turns barrier checkpoints off (a test hook: compare against the quiesce).
var noBarriers = false

// barrierCheckpoints reports whether the graph's periodic checkpoints take the cut with barriers.
func (g *graph) barrierCheckpoints() bool {
	if noBarriers || g.batch || g.stage != nil || g.bsp != nil || g.staged != nil {
		return false
	}
	// Local aggregates built under the graph lock (g.locals) are fed under it by keyed subtasks whose output
	// goes to the graph: those wait at their barriers, so the locals' partials at the lock are those at the cut.
	// A sink's own subtasks fed from under the graph lock (lockFed, exchange_sink.go) get no barrier: they are
	// cut under the final lock (waitLockFedSinks), when what feeds them holds the rows of the cut.
	_, ok := g.sourceCuts()
	return ok
}

// Sources that do not route into an exchange take part too. A source that pushes under the graph lock (one
// instance, or subtasks whose chain ends under the lock: pipe) is cut under the checkpoint's final graph lock:
// its position is read there, with the operators and sinks it feeds (besides it only keyed subtasks that
// wait at their barriers feed them). A source whose subtasks write a concurrent sink themselves (sinkEnd) is
// cut at the gate: its position is recorded there and its sink is pre-committed there too, with the gate
// closed, so that no writer is inside Push (the gate excludes them) and PreCommit sees every row before the
// cut and none after; the checkpoint keeps that state instead of pre-committing the sink under the final
// lock. With STOP ... WITH SAVEPOINT such a graph keeps the gate closed until the cut is written (the writers
// would write rows after the cut into a sink that End then makes final). The rocksdb backend's stores belong
// to GROUP BYs built under the graph lock (never behind an exchange), so its checkpoint under the final lock
// is at the cut.
//
// A reused scan's subtasks (pipeline_reuse.go) are cut at the gate: one position for all branches, and every
// branch cut at that point of the scan (reuse_hold.go: the branches into exchanges by the barriers queued
// there, its sinks pre-committed there, the branches under the graph lock held until the final lock).
//
// A sink's own subtasks fed from under the graph lock (exchange_sink.go, lockFed) take no barrier: what
// feeds them (operators under the lock, fed by keyed subtasks that wait at their barriers, by sources cut
// under the lock and by held reused branches) sends them the rows of the cut and nothing after it until the
// final lock, and the checkpoint waits there until they handed every row sent to the sink's writers
// (waitLockFedSinks, before the snapshot and the PreCommit). A barrier queued into them at the gate would
// split the rows the keyed subtasks still send before the cut (a row of the cut behind it).

// sourceCut is where a barrier checkpoint cuts a source.
type sourceCut uint8

const (
	cutGate sourceCut = iota // position recorded with the gate closed (exchange senders, sink writers)
	cutLock                  // position read under the final graph lock (it pushes under the lock)
)

// lockGatePositions records every source's position at the gate, also those that push under the graph
// lock (a test hook: the checkpoint is wrong with it, their operators having taken rows after the cut).
var lockGatePositions = false

// lockGateSinks pre-commits the sinks written by source subtasks under the final graph lock with the others
// (a test hook: the checkpoint is wrong with it, the writers having written rows after the cut).
var lockGateSinks = false

// afterGate runs once the gate reopened, before the keyed subtasks' barriers are awaited (a test hook: a graph
// without exchanges has no barrier to wait for, and this widens the time between the gate and the final
// lock in which the sources read on).
var afterGate func()

// sourceCuts returns where each source part of the graph is cut, or false when the graph keeps the quiesce.
func (g *graph) sourceCuts() (map[*participant]sourceCut, bool) {
	cuts := map[*participant]sourceCut{}
	xRuns := 0
	for _, sr := range g.sources {
		cut := cutLock
		if sr.subs != nil {
			h, ok := sr.subs[0].(*pipeHead)
			if !ok {
				return nil, false
			}
			switch h.end.(type) {
			case *pipe:
			case *sinkEnd:
				cut = cutGate
			case *exchangeEnd, *localEnd:
				cut, xRuns = cutGate, xRuns+1
			case *subtaskGate:
				cut = cutGate // a reused scan's subtasks (pipeline_reuse.go, reuse_hold.go)
			default:
				return nil, false
			}
		}
		for _, p := range g.parts {
			if p.src != nil && sameValue(p.src, sr.src) {
				cuts[p] = cut
			}
		}
	}
	if xRuns != g.xSourceRuns {
		return nil, false
	}
	for _, p := range g.parts {
		if _, ok := cuts[p]; p.src != nil && !ok {
			return nil, false // a source part of no source run: keep the quiesce
		}
	}
	return cuts, true
}

// sameValue reports a == b, false for values that cannot be compared.
func sameValue(a, b any) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	return a == b
}

// gateSink reports whether p is a sink that source subtasks write themselves (pre-committed at the gate).
func (g *graph) gateSink(p *participant) bool {
	for _, co := range g.gateSinks {
		if p.sink != nil && sameValue(p.sink, co) {
			return true
		}
	}
	return false
}

// gateState holds the state of the operators chained into source subtasks, written at the gate (copies).
type gateState map[*participant][]gateEntry

type gateEntry struct {
	ns         uint8
	key, value []byte
}

func (s *gateEntry) write(w state.Writer) error { return w.Put(s.ns, s.key, s.value) }

// gateWriter keeps copies of the entries written to it.
type gateWriter struct{ es []gateEntry }

func (w *gateWriter) Put(ns uint8, key, value []byte) error {
	w.es = append(w.es, gateEntry{ns: ns, key: bytes.Clone(key), value: bytes.Clone(value)})
	return nil
}

// lockLocalState snapshots the two-phase locals under the graph lock, as they are then (a test hook: the
// checkpoint is wrong with it, the locals having taken rows after the cut).
var lockLocalState = false

// cutGateState applies the two-phase locals' pending partials into their exchanges (ahead of the barrier
// queued next) and writes their part, with the gate closed: no source subtask is inside its chain.
func (g *graph) cutGateState() (gateState, error) {
	if len(g.twoPhase) == 0 {
		return nil, nil
	}
	if err := g.flushLocals(); err != nil { // twophase.go
		return nil, g.failure.mark(err)
	}
	if lockLocalState {
		return nil, nil
	}
	gs := gateState{}
	for _, p := range g.parts {
		lp, ok := p.op.(*localParts)
		if !ok {
			continue
		}
		var w gateWriter
		if err := lp.SnapshotState(&w); err != nil {
			return nil, fmt.Errorf("operator %s: %w", p.name, err)
		}
		gs[p] = w.es
	}
	return gs, nil
}

// barrierCut records the source positions and sends a barrier into every exchange with the gate closed,
// opens the gate (openGate) and waits until every keyed subtask took its barrier. release lets them continue;
// call it once the checkpoint's part under the graph lock is done, also when barrierCut fails.
// gs is the state of the operators chained into the source subtasks, cut at the gate.
// With drain every keyed subtask sends the maximum watermark into its operator at its barrier (STOP ... WITH
// DRAIN). With stop the sources stop at the cut: the gate stays closed until the cut is written (Flink's
// synchronous savepoint) unless the caller opens it with the graph stopping.
//
// The positions of sources that push under the graph lock are not in pos (the caller reads them under its
// final lock); pre holds what the sinks written by source subtasks pre-committed at the gate.
//
// With unaligned the barriers overtake what is queued in the exchanges that can record it (exec:
// exchange_unaligned.go); the others keep aligned barriers.
func (g *graph) barrierCut(ctx context.Context, id int64, openGate func(), drain, unaligned bool) (pos map[*participant][]byte, gs gateState, pre map[*participant][]byte, release func(), err error) {
	if unaligned {
		// the spills of the overdraft the checkpoint started are in the channel state once the barriers are
		// queued; a cut that gives up before sends them into the queues with the gate still closed
		defer g.endOverdraft()
	}
	release = sync.OnceFunc(func() {
		for _, r := range g.barrierExchanges() {
			r.x.ReleaseBarrier()
		}
		g.mu.Lock()
		g.releaseReusedHolds(drain) // reuse_hold.go (a drained cut released is a failed STOP WITH DRAIN)
		g.mu.Unlock()
	})
	cuts, ok := g.sourceCuts()
	if !ok {
		return nil, nil, nil, release, fmt.Errorf("%w: barrier checkpoint of a graph that keeps the quiesce", planner.ErrInternal)
	}
	g.mu.Lock()
	if g.sinksEnded() {
		g.mu.Unlock()
		return nil, nil, nil, release, errSinkEnded
	}
	pos = map[*participant][]byte{}
	pre = map[*participant][]byte{}
	for _, p := range g.parts {
		switch {
		case p.src != nil && (cuts[p] == cutGate || lockGatePositions):
			b, err := p.src.SnapshotPosition()
			if err != nil {
				g.mu.Unlock()
				return nil, nil, nil, release, fmt.Errorf("source %s: %w", p.name, err)
			}
			pos[p] = b
		case p.sink != nil && !lockGateSinks && g.gateSink(p):
			// no writer is inside Push (the gate is closed): the rows before the cut, and none after
			b, err := p.sink.PreCommit(ctx, id)
			if err != nil {
				g.mu.Unlock()
				return nil, nil, nil, release, fmt.Errorf("sink %s: %w", p.name, err)
			}
			pre[p] = b
		}
		if c, ok := p.op.(interface{ CutSplits() }); ok {
			// the split watermarks of the assigners chained into source subtasks, at the positions (exec)
			c.CutSplits()
		}
	}
	g.holdReused() // reuse_hold.go: the reused scans' branches under the lock pass nothing on until release
	g.mu.Unlock()
	// The locals' partials go into the exchanges without the graph lock (keyed subtasks may need it to make
	// room in their queues), before the barriers: they hold rows before the cut.
	if gs, err = g.cutGateState(); err != nil {
		return nil, nil, nil, release, err
	}
	// No keyed subtask needs the graph lock to make room in its queue: the barriers go in without it.
	for _, r := range g.barrierExchanges() {
		if err := r.x.StartBarrier(id, drain, unaligned); err != nil {
			return nil, nil, nil, release, fmt.Errorf("%s: %w", r.name, err)
		}
	}
	for _, r := range g.barrierExchanges() {
		if err := r.x.QueueBarrier(); err != nil {
			return nil, nil, nil, release, fmt.Errorf("%s: %w", r.name, err)
		}
	}
	openGate()
	if afterGate != nil {
		afterGate()
	}
	for _, r := range g.barrierExchanges() {
		if err := r.x.WaitBarrier(ctx); err != nil {
			return nil, nil, nil, release, fmt.Errorf("%s: waiting for the keyed subtasks to take the barrier: %w", r.name, err)
		}
	}
	barrierCutsTaken.Add(1)
	return pos, gs, pre, release, nil
}

// startOverdraft starts the overdraft of the exchanges whose unaligned barriers overtake their queues
// (exec.Exchange.StartOverdraft), before an unaligned checkpoint closes the gate.
func (g *graph) startOverdraft() {
	for _, r := range g.barrierExchanges() {
		r.x.StartOverdraft()
	}
}

// endOverdraft ends it (exec.Exchange.EndOverdraft: nothing is left in the spills once the barriers were
// queued).
func (g *graph) endOverdraft() {
	for _, r := range g.barrierExchanges() {
		r.x.EndOverdraft()
	}
}

// unalignedAll makes every periodic durable checkpoint unaligned, as the option does (a test hook: the
// barrier tests run with unaligned barriers).
var unalignedAll = false

// noChannelReplay drops the channel state of restored unaligned checkpoints (a test hook: the restored job
// loses the rows the barriers overtook).
var noChannelReplay = false

// dropChannelState drops the restored channel state of checkpoint id when
// 'execution.checkpointing.recover-without-channel-state.checkpoint-id' names it (or noChannelReplay is set).
func (g *graph) dropChannelState(id int64) {
	if noChannelReplay || g.ckpt != nil && g.ckpt.cfg.noChannelsOf == id {
		for _, r := range g.exchanges {
			r.x.DropChannelState()
		}
	}
}

// noteUnaligned warns at job start about the parts of the graph that 'execution.checkpointing.unaligned.enabled'
// does not make unaligned: a graph whose checkpoints keep the quiesce and exchanges without state of their own
// (exec: CanUnalign). Exchanges fed by keyed subtasks are unaligned per channel (exec:
// exchange_unaligned_keyed.go).
func (g *graph) noteUnaligned(warn func(format string, args ...any)) {
	if !g.barrierCheckpoints() {
		if len(g.exchanges) > 0 {
			warn("'execution.checkpointing.unaligned.enabled' has no effect on this job: its checkpoints wait until no row is in flight (this graph's sources are not cut with barriers)")
		}
		return
	}
	for _, r := range g.barrierExchanges() {
		if !r.x.CanUnalign() {
			warn("'execution.checkpointing.unaligned.enabled': the barriers of %s stay aligned (unaligned barriers apply to exchanges into a keyed operator with state)", r.name)
		}
	}
}

// barrierExchanges returns the exchanges that take barriers: all but the sinks' own subtasks fed from under
// the graph lock (cut under the final lock).
func (g *graph) barrierExchanges() []*exchangeRun {
	xs := make([]*exchangeRun, 0, len(g.exchanges))
	for _, r := range g.exchanges {
		if !r.lockFed {
			xs = append(xs, r)
		}
	}
	return xs
}
