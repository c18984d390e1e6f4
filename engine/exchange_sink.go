package engine

import (
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
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
		enc[i] = e
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
// each connector's guarantee holds at any number of sink subtasks. An input that runs as one instance under
// the graph lock (parallelism 1 with a keyed operator, a global operator, a reused scan's branch, ...) cannot
// feed the exchange yet: it is written by one writer as before the option, with a warning
// (sinkParallelismIgnored), never silently.

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
// before the option (one instance after the union of its input, the same rows), and the user is told so.
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
	fmt.Fprintf(g.notice, "[WARNING] Table %s: 'sink.parallelism' = '%d' has no effect in this streaming job: the sink's input (%s) runs as one instance at 'parallelism.default' = '%d', so one writer writes the sink (the rows written are the same). Set 'sink.parallelism' to %s or remove it to silence this warning, or raise 'parallelism.default'.\n",
		table, n.Parallelism, in.Describe(), g.subtasks, sinkParallelismHint(g.subtasks, in))
}

// sinkParallelismHint is the value of 'sink.parallelism' that needs no exchange of the sink's own.
func sinkParallelismHint(p int, in planner.Node) string {
	return strconv.Itoa(planner.InputParallelism(in, p))
}
