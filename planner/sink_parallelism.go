package planner

import (
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/sql"
)

// A streaming sink's own parallelism ('sink.parallelism', Flink's option). When it differs from the
// parallelism of the sink's input, the sink runs as that many subtasks behind an exchange (Flink's
// CommonExecSink.applyKeyBy / the sink's own transformation): hash by the sink's primary key when the input
// is updating (every change of a key through one sink subtask, in order) or when
// 'table.exec.sink.keyed-shuffle' is AUTO or FORCE over an insert-only input with a primary key; else
// rebalance (rows dealt round robin). An updating input without a primary key is refused (Flink's
// TableException: the changes of a row could reach the sink out of order). When the parallelisms are equal
// the sink is chained to its input (forward) and written by the input's subtasks, as without the option.
// The exchange is the SinkMaterializer node with Parallelism set (ShuffleOnly unless it materializes); the
// engine builds it as that many subtasks that write the sink (engine/exchange_sink.go).
//
// Only the sinks the engine can write from several subtasks take the option in streaming mode
// (MultiWriterSink); for the others it stays a warning at CREATE TABLE (engine/execute.go). The engine feeds
// the sink's subtasks from source subtasks, keyed subtasks, or from under the graph lock when the input runs
// as one instance (engine/exchange_sink.go, buildLockFedSink).

// MultiWriterSink reports whether a streaming job writes a sink of this connector from several subtasks, so
// that its 'sink.parallelism' is honoured (print, blackhole and filesystem: a writer per subtask; kafka and
// upsert-kafka: an encoder per subtask).
func MultiWriterSink(connector string) bool {
	switch connector {
	case "print", "blackhole", "filesystem", "kafka", "upsert-kafka":
		return true
	}
	return false
}

// JobParallelism is the parallelism of the job's operators given the session options (as the engine reads
// them): 'table.exec.resource.default-parallelism', else 'parallelism.default', else 1.
func JobParallelism(session map[string]string) int {
	for _, k := range []string{"table.exec.resource.default-parallelism", "parallelism.default"} {
		if n, err := strconv.Atoi(strings.TrimSpace(session[k])); err == nil && n > 0 {
			return n
		}
	}
	return 1
}

// sinkParallelism returns the sink's 'sink.parallelism' when the streaming engine honours it for its
// connector, else 0.
func sinkParallelism(s *Sink) int {
	if !MultiWriterSink(s.Table.Options["connector"]) {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(s.Table.Options["sink.parallelism"]))
	if err != nil || n < 1 {
		return 0
	}
	return n
}

// InputParallelism is the number of subtasks that produce n's rows in a streaming job at job parallelism p:
// a scan's own 'scan.parallelism' (1 for a source that cannot run as subtasks) through the operators chained
// to it, 1 for global operators (keyless aggregates, sorts, limits), else p.
func InputParallelism(n Node, p int) int {
	for {
		switch x := n.(type) {
		case *Calc:
			n = x.Input
		case *WatermarkAssigner:
			n = x.Input
		case *MiniBatchAssigner:
			n = x.Input
		case *WindowTVF:
			n = x.Input
		case *Scan:
			if _, ok := x.Source.(connectors.ParallelSource); !ok {
				return 1
			}
			if v, err := strconv.Atoi(strings.TrimSpace(x.Table.Options["scan.parallelism"])); err == nil && v > 0 {
				return v
			}
			return p
		case *Values:
			return 1
		case *Aggregate:
			if len(x.Keys) == 0 {
				return 1
			}
			return p
		case *GlobalGroupAggregate:
			if len(x.Keys) == 0 {
				return 1
			}
			return p
		case *Sort, *TopN, *Limit, *TemporalSort:
			return 1
		default:
			return p
		}
	}
}

// sinkExchange decides the exchange in front of streaming sink s for its own parallelism: n > 0 the sink's
// subtasks when they differ from its input's (0: forward, no exchange of its own), hash by the primary key
// (keyed) or rebalance. It refuses an updating input without a primary key.
func (p *Planner) sinkExchange(s *Sink, pk []int, shuffle string) (n int, keyed bool, err error) {
	n = sinkParallelism(s)
	if n == 0 || n == InputParallelism(s.Input, JobParallelism(p.Session)) {
		return 0, false, nil
	}
	if !s.Input.Mode().IsInsertOnly() {
		if len(pk) == 0 {
			in := InputParallelism(s.Input, JobParallelism(p.Session))
			return 0, false, sql.Errorf(s.Pos, ErrValidation, "table %s has 'sink.parallelism' = '%d', while its input runs as %d subtask(s); since the two differ and the input is not insert-only, the sink needs a PRIMARY KEY to keep the changes of a row in order, and it has none: declare one, or set 'sink.parallelism' to %d or remove it",
				s.Table.Name, n, in, in)
		}
		return n, true, nil
	}
	return n, len(pk) > 0 && shuffle != "NONE", nil
}
