package engine

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
)

// Sinks written by keyed subtasks. When a sink that can encode outside the graph lock
// (connectors.EncodingOutput: kafka, upsert-kafka) is fed by the keyed subtasks of an exchange, directly or
// through the forward chain of Calcs they run (exchange_keyed.go), every keyed subtask encodes its output with
// a SubtaskEncoder of its own on its own goroutine, and only Write runs under the graph lock (as source
// subtasks do, pipeline.go). Write happens inside the subtask's processing of a queue item, before the item
// stops counting as pending, so a checkpoint's quiesce (exchange.go) returns only after every row before the
// cut was handed to the sink, and the sink's PreCommit sees all of them. Watermarks and the end still go
// through the union of the subtasks' outputs under the lock. A sink that subtasks write themselves
// (connectors.ConcurrentOutput: blackhole, filesystem) comes here through buildConcurrentSink
// (pipeline_sink.go) with writers as encoders, and its rows take no lock at all (pipe.Push).

// sinkEncodersBuilt counts the exchanges whose keyed subtasks encode for a sink (tests check that a query
// took this path).
var sinkEncodersBuilt atomic.Int64

// noKeyedSinkEncoding turns the keyed subtasks' sink encoding off (a test hook: compare against encoding
// under the graph lock).
var noKeyedSinkEncoding = false

// buildKeyedSink builds in, the input of a sink whose Output is eo, as keyed subtasks that encode for the
// sink, when in is (through Calcs) a keyed operator behind an exchange. out is the sink's counted Output
// (watermarks, the end). It reports false (and builds nothing) otherwise.
func (g *graph) buildKeyedSink(in planner.Node, table string, eo connectors.EncodingOutput, out changelog.Output, j *Job) (bool, error) {
	if noKeyedSinkEncoding {
		return false, nil
	}
	calcs, u := g.keyedBelow(in)
	if u == nil {
		return false, nil
	}
	enc := make([]connectors.SubtaskEncoder, g.keyedSubtasks(u))
	for i := range enc {
		e, err := eo.NewSubtaskEncoder()
		if err != nil {
			return true, fmt.Errorf("sink encoder for keyed subtask %d of %s: %w", i+1, table, err)
		}
		enc[i] = g.noteEncoder(eo, e) // sink_failure.go
	}
	t := &keyedTarget{calcs: calcs, out: out, enc: enc}
	if err := g.buildTarget(u, t, out, j); err != nil {
		return true, err
	}
	sinkEncodersBuilt.Add(1)
	return true, nil
}

// Push encodes b outside the graph lock when the pipe encodes for a sink, writes it under the lock and
// releases the lock at once (nothing after Write needs it); without an encoder the lock is held until the
// end of the queue item.
func (p *keyedPipe) Push(b *changelog.Batch) error {
	if p.enc == nil {
		return p.pipe.Push(b)
	}
	defer p.unlock()
	return p.pipe.Push(b)
}

// A sink with a parallelism of its own ('sink.parallelism' differing from its input's, planner/
// sink_parallelism.go) has a SinkMaterializer with Parallelism in front of it: an exchange (hash by the
// primary key, or rebalance) into that many subtasks, which write the sink as the keyed subtasks above do
// (encoders of a kafka or upsert-kafka sink, writers of print, blackhole, filesystem). Its input is a chain of
// source subtasks (of any number, one included) or keyed subtasks of another exchange. Checkpoints cut
// them as any exchange's subtasks whose output goes to the sink (exchange_barrier.go: they wait at their
// barrier until the checkpoint's part under the lock is done; the quiesce waits until they are idle), so
// each connector's guarantee holds at any number of sink subtasks.
//
// An input that runs as one instance under the graph lock (a GROUP BY at parallelism 1, a keyless aggregate,
// Top-N without PARTITION BY, a source that cannot split, a reused scan's branch, ...) feeds the exchange
// from under the lock (buildLockFedSink, Flink's sink subtasks behind a keyBy or rebalance after a global
// operator): its one sender routes every batch and flushes it at once. The sender may block on a full
// queue while it holds the graph lock, so these sink subtasks never take the graph lock: they write rows
// through the sink's ConcurrentOutput writers, and their watermarks and end reach the sink's Output
// through the union of the subtasks under a mutex of the sink's own. This exchange takes no barrier (one
// queued at the gate behind the rows the holder sent so far would keep rows of the cut the holder sends
// later out of the sink's PreCommit): a barrier checkpoint cuts it under its final lock (exchange_barrier.go,
// barrierExchanges), as the quiesce does; the quiesce skips this exchange (the holder may still send while
// the gate is closed); either way the checkpoint waits for it to be idle under the graph lock (waitLockFedSinks), after the
// drain and before the snapshot and the sinks' PreCommit: nothing else sends into it then, so the sink has
// every row of the cut, and the subtasks' state (the materializer's, by key group: any sink parallelism
// restores it) is read while they are idle. The sender's End waits the same way, so the sink's End is done
// when the lock is let go. A sink written only under the graph lock (an EncodingOutput without subtask
// writers; none of the connectors that take the option today, planner.MultiWriterSink) would stay one
// writer, with a warning (sinkParallelismIgnored), never silently.

// sinkOwnSubtasksBuilt sums the subtasks of the sink exchanges built for a sink's own parallelism (tests
// check that a sink ran as that many subtasks).
var sinkOwnSubtasksBuilt atomic.Int64

// ownSinkParallelism returns the sink subtasks of n when n is the exchange in front of a sink with a
// parallelism of its own, else 0.
func ownSinkParallelism(n planner.Node) int {
	if m, ok := n.(*planner.SinkMaterializer); ok {
		return m.Parallelism
	}
	return 0
}

// keyedSubtasks is the number of keyed subtasks of the exchange of keyed operator u.
func (g *graph) keyedSubtasks(u planner.Node) int {
	if k := ownSinkParallelism(u); k > 0 {
		return k
	}
	return g.subtasks
}

// sinkParallelismIgnored warns that a sink exchange's input cannot feed it: the sink is then written as
// before the option (one instance after its input, the same rows), and the user is told so.
func (g *graph) sinkParallelismIgnored(table string, n *planner.SinkMaterializer) {
	if g.notice == nil {
		return
	}
	in := n.Input
	for c, ok := in.(*planner.Calc); ok; c, ok = in.(*planner.Calc) {
		in = c.Input
	}
	if table == "" {
		table = "of the sink"
	}
	fmt.Fprintf(g.notice, "[WARNING] Table %s: 'sink.parallelism' = '%d' has no effect in this streaming job: the sink's input (%s) runs as one instance under the graph lock, and this sink cannot be written by subtasks of its own from there (its connector writes only under that lock), so one writer writes the sink (the rows written are the same). Set 'sink.parallelism' to %s or remove it to silence this warning.\n",
		table, n.Parallelism, in.Describe(), sinkParallelismHint(g.subtasks, in))
}

// sinkParallelismHint is the value of 'sink.parallelism' that needs no exchange of the sink's own.
func sinkParallelismHint(p int, in planner.Node) string {
	return strconv.Itoa(planner.InputParallelism(in, p))
}

// lockFedSinksBuilt counts the sink exchanges fed from under the graph lock (tests check the path).
var lockFedSinksBuilt atomic.Int64

// buildLockFedSink builds m, the exchange in front of sink table whose Output is so (counted: out), as
// m.Parallelism subtasks fed from under the graph lock by m's input, when the sink has subtask writers
// (connectors.ConcurrentOutput). It reports false (and builds nothing) otherwise.
func (g *graph) buildLockFedSink(m *planner.SinkMaterializer, table string, so changelog.Output, out changelog.Output, j *Job) (bool, error) {
	co, ok := so.(connectors.ConcurrentOutput)
	if !ok || noConcurrentSink || g.batch || noExchange || g.stage != nil || g.bsp != nil || g.staged != nil {
		return false, nil
	}
	k := m.Parallelism
	ts := fieldTypes(m.Input.Fields())
	side := keyedSide(m.Keys, ts)
	if m.Rebalance {
		side = exec.ExchangeSide{Rebalance: true}
	}
	side.Senders = 1
	// The sink subtasks' own lock (never the graph lock: the sender may block under it on a full queue). The
	// graph's STOP flag is not theirs: after a stop's cut nothing is sent into them (the sender is fed under
	// the graph lock, which refuses rows once stopped), and the cut waited until they were idle.
	mu, stopped := new(sync.Mutex), new(bool)
	ins := exec.NewUnion(k, out)
	setSubtasks(co, k)
	pipes := make([]*keyedPipe, k)
	outs := make([]changelog.Output, k)
	for i := range k {
		w, err := co.NewSubtaskWriter(i)
		if err != nil {
			return true, fmt.Errorf("sink writer for sink subtask %d of %s: %w", i+1, table, err)
		}
		w = noteWriter(g.sinkOf(co), w) // sink_failure.go
		pipes[i] = &keyedPipe{pipe: pipe{mu: mu, stopped: stopped, out: ins[i], enc: &writerEncoder{w: w}, rows: g.rowsOutShare(j)}}
		outs[i] = g.meter(m, pipes[i], j)
	}
	x, err := exec.NewExchange(g.maxPar, k, []exec.ExchangeSide{side}, func(_ int, o changelog.Output) ([]changelog.Output, changelog.Output, error) {
		var op changelog.Output = shuffleOnly{o}
		if !m.ShuffleOnly {
			op = exec.NewSinkMaterializer(exec.SinkMaterializeConfig{Keys: m.Keys, Types: ts, TTL: g.ttl}, o)
		}
		return []changelog.Output{op}, op, nil
	}, outs, func(i int) { pipes[i].unlock() })
	if err != nil {
		return true, err
	}
	x.SetOnError(g.markSubtaskError) // push_failure.go
	if st := x.State(); st != nil {
		g.register(m, st)
	} else {
		g.register(m, nil)
	}
	g.exchanges = append(g.exchanges, &exchangeRun{name: m.Describe(), x: x, lockFed: true})
	exchangesBuilt.Add(1)
	lockFedSinksBuilt.Add(1)
	concurrentSinksBuilt.Add(1)
	sinkOwnSubtasksBuilt.Add(int64(k))
	return true, g.build(m.Input, &lockFedEnd{s: x.Sender(0, 0), x: x}, j)
}

// waitLockFedSinks waits until the sink exchanges fed from under the graph lock are idle (called with the
// graph lock held: nothing sends into them meanwhile, and their subtasks do not need it).
func (g *graph) waitLockFedSinks() error {
	for _, r := range g.exchanges {
		if r.lockFed {
			if err := r.x.WaitIdle(); err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
		}
	}
	return nil
}

// lockFedEnd is the output of a sink's input that runs under the graph lock into the sink's own subtasks:
// every call is made under the graph lock. Each batch is sent at once (no rows wait in the sender when the
// lock is let go); End waits until the sink subtasks ended, so the sink's End ran under the lock's holder.
type lockFedEnd struct {
	s *exec.ExchangeSender
	x *exec.Exchange
}

func (e *lockFedEnd) Push(b *changelog.Batch) error {
	if len(b.Rows) == 0 {
		return nil
	}
	if err := e.s.Push(b); err != nil {
		return err
	}
	return e.s.Flush()
}

func (e *lockFedEnd) Watermark(ts int64) error { return e.s.Watermark(ts) }

func (e *lockFedEnd) End() error {
	if err := e.s.End(); err != nil {
		return err
	}
	return e.x.WaitIdle()
}
