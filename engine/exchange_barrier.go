package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Checkpoints with barriers through the exchanges (Flink's aligned barriers; exec/exchange_barrier.go). A
// periodic checkpoint or commit cycle of a graph whose every source runs as source subtasks routing into
// exchanges does not wait for the exchanges to be idle (quiesce). With the gate closed (no source subtask
// between routing and advancing its position) and under the graph lock it records the source positions; it
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
// Shapes that keep the quiesce (barrierCheckpoints): savepoints and STOP ... WITH SAVEPOINT; a source that
// does not route into an exchange (it pushes under the graph lock, into a sink of its own, or is a reused
// scan); watermark assigners or two-phase local aggregates chained into source subtasks (their state lives
// in the source subtasks, which run on after the positions were recorded); an exchange feeding another whose
// operators count late rows (written as the sum over subtasks that run on after their barrier); the rocksdb
// backend.

// barrierCutsTaken counts the checkpoints taken with barriers (tests check that a job took this path).
var barrierCutsTaken atomic.Int64

// noBarriers turns barrier checkpoints off (a test hook: compare against the quiesce).
var noBarriers = false

// barrierCheckpoints reports whether the graph's periodic checkpoints take the cut with barriers.
func (g *graph) barrierCheckpoints() bool {
	if noBarriers || len(g.exchanges) == 0 || g.batch || g.backend != nil || g.stage != nil || g.bsp != nil || g.staged != nil {
		return false
	}
	if len(g.twoPhase) > 0 || len(g.locals) > 0 || g.subtaskAssigners {
		return false
	}
	if g.xSourceRuns != len(g.sources) {
		return false // a source pushes under the graph lock (or into a sink of its own)
	}
	for _, r := range g.exchanges {
		if r.feeds && r.x.CountsLateRows() {
			return false // their late-row count is written as the sum over subtasks that run on after the cut
		}
	}
	return true
}

// barrierCut records the source positions and sends a barrier into every exchange with the gate closed,
// opens the gate (openGate) and waits until every keyed subtask took its barrier. release lets them continue;
// call it once the checkpoint's part under the graph lock is done, also when barrierCut fails.
func (g *graph) barrierCut(ctx context.Context, id int64, openGate func()) (pos map[*participant][]byte, release func(), err error) {
	release = sync.OnceFunc(func() {
		for _, r := range g.exchanges {
			r.x.ReleaseBarrier()
		}
	})
	g.mu.Lock()
	if g.sinksEnded() {
		g.mu.Unlock()
		return nil, release, errSinkEnded
	}
	pos = map[*participant][]byte{}
	for _, p := range g.parts {
		if p.src == nil {
			continue
		}
		b, err := p.src.SnapshotPosition()
		if err != nil {
			g.mu.Unlock()
			return nil, release, fmt.Errorf("source %s: %w", p.name, err)
		}
		pos[p] = b
	}
	g.mu.Unlock()
	// No keyed subtask needs the graph lock to make room in its queue: the barriers go in without it.
	for _, r := range g.exchanges {
		if err := r.x.StartBarrier(id); err != nil {
			return nil, release, fmt.Errorf("%s: %w", r.name, err)
		}
	}
	for _, r := range g.exchanges {
		if err := r.x.QueueBarrier(); err != nil {
			return nil, release, fmt.Errorf("%s: %w", r.name, err)
		}
	}
	openGate()
	for _, r := range g.exchanges {
		if err := r.x.WaitBarrier(ctx); err != nil {
			return nil, release, fmt.Errorf("%s: waiting for the keyed subtasks to take the barrier: %w", r.name, err)
		}
	}
	barrierCutsTaken.Add(1)
	return pos, release, nil
}
