package engine

import (
	"fmt"
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
	enc := make([]connectors.SubtaskEncoder, g.subtasks)
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
