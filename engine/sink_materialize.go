package engine

import (
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
)

// The SinkUpsertMaterializer in front of an upsert sink (planner/sink_materialize.go): at parallelism >= 2,
// when its input is a chain of source subtasks or (through Calcs) keyed subtasks of another exchange, it runs
// as keyed subtasks behind a hash exchange on the sink's primary key, and those subtasks write the sink
// (exchange_sink.go); otherwise one instance under the graph lock, after the union of its input's subtasks
// (which sees every row of a key in the order the union passes them, so it is as correct). Its state keys
// are the exchange's routing keys, so a savepoint restores at any parallelism. With ShuffleOnly
// ('table.exec.sink.keyed-shuffle' = FORCE over an insert-only input) the subtasks pass the rows unchanged.

// sinkMaterializersBuilt counts the materializers built behind an exchange (tests check the path).
var sinkMaterializersBuilt atomic.Int64

// buildSinkMaterializer builds n with its output going to out.
// single builds it as one instance (its own parallelism's exchange cannot be fed: the caller warned).
func (g *graph) buildSinkMaterializer(n *planner.SinkMaterializer, out changelog.Output, j *Job, single bool) error {
	ts := fieldTypes(n.Input.Fields())
	mk := func(o changelog.Output) changelog.Output {
		if n.ShuffleOnly {
			return shuffleOnly{o}
		}
		return exec.NewSinkMaterializer(exec.SinkMaterializeConfig{Keys: n.Keys, Types: ts, TTL: g.ttl}, o)
	}
	if single {
		return g.build(n.Input, g.op(n, mk(out)), j)
	}
	side := keyedSide(n.Keys, ts)
	if n.Rebalance {
		side = exec.ExchangeSide{Rebalance: true}
	}
	in := []exchangeInput{{node: n.Input, side: side}}
	ok, err := g.buildExchange(n, in, func(o changelog.Output) ([]changelog.Output, changelog.Output, error) {
		op := mk(o)
		return []changelog.Output{op}, op, nil
	}, out, j)
	if ok || err != nil {
		if ok && err == nil {
			sinkMaterializersBuilt.Add(1)
			sinkOwnSubtasksBuilt.Add(int64(n.Parallelism)) // exchange_sink.go
		}
		return err
	}
	if n.Parallelism > 0 {
		g.sinkParallelismIgnored("", n) // exchange_sink.go
	}
	return g.build(n.Input, g.op(n, mk(out)), j)
}

// shuffleOnly is a keyed subtask of the sink's keyed shuffle: the rows pass unchanged.
type shuffleOnly struct{ changelog.Output }
