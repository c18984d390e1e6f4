package engine

import (
	"sync"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
)

// More keyed operators behind the hash exchange (exchange.go): ChangelogNormalize (keyed by the upsert key),
// OVER aggregates and MATCH_RECOGNIZE (by PARTITION BY), interval and window joins (by the join keys) and
// one-phase mini-batch GROUP BY (by the group keys; its processing-time trigger reaches the subtasks
// through their queues). Each runs as
// g.subtasks instances when its inputs are chains of source subtasks and it has keys; without keys it stays
// one instance (Flink's `single` distribution, as EXPLAIN prints it). Their state keys are the exchange's
// routing keys (exec.appendGroupKey of the key columns; a join's NULL-key bucket for rows with a NULL join
// key), so exec.Exchange.State writes one operator's state and restores it at any parallelism.
//
// The watermark-driven ones (OVER and MATCH_RECOGNIZE with event time, interval joins) see, per subtask, the minimum watermark
// over the exchange's channels (one exec.NewUnion per side): every subtask gets every watermark, so each
// fires its own keys' timers once, and at a checkpoint (the exchange idle) all subtasks hold the same
// watermark, which the first subtask's operator-wide entry records.

// keyedSide is an exchange side keyed by cols of a row with column types ts.
func keyedSide(cols []int, ts []types.Type) exec.ExchangeSide {
	sd := exec.ExchangeSide{Keys: cols}
	for _, c := range cols {
		sd.KeyTypes = append(sd.KeyTypes, ts[c])
	}
	return sd
}

// exchangeNormalize builds a streaming ChangelogNormalize behind an exchange keyed by its upsert key.
func (g *graph) exchangeNormalize(n *planner.ChangelogNormalize, cfg exec.NormalizeConfig, out changelog.Output, j *Job) (bool, error) {
	if n.Batch || g.batch {
		return false, nil
	}
	sd := keyedSide(n.Keys, cfg.Types)
	in := []exchangeInput{{node: n.Input, side: sd}}
	return g.buildExchange(n, in, func(o changelog.Output) ([]changelog.Output, changelog.Output, error) {
		op := exec.WithMessageColumns(exec.NewNormalize(cfg, o), n.MetaCols)
		return []changelog.Output{op}, op, nil
	}, out, j)
}

// exchangeOver builds an OVER aggregate with a PARTITION BY behind an exchange keyed by it.
func (g *graph) exchangeOver(n *planner.OverAggregate, cfg exec.OverConfig, out changelog.Output, j *Job) (bool, error) {
	if g.batch {
		return false, nil
	}
	in := []exchangeInput{{node: n.Input, side: keyedSide(n.Partition, cfg.InTypes)}}
	return g.buildExchange(n, in, func(o changelog.Output) ([]changelog.Output, changelog.Output, error) {
		op, err := exec.NewOverAgg(cfg, o)
		return []changelog.Output{op}, op, err
	}, out, j)
}

// exchangeMatch builds a MATCH_RECOGNIZE with a PARTITION BY behind an exchange keyed by it.
func (g *graph) exchangeMatch(n *planner.MatchRecognize, cfg exec.MatchConfig, out changelog.Output, j *Job) (bool, error) {
	if g.batch {
		return false, nil
	}
	in := []exchangeInput{{node: n.Input, side: keyedSide(n.Partition, cfg.Types)}}
	return g.buildExchange(n, in, func(o changelog.Output) ([]changelog.Output, changelog.Output, error) {
		op, err := exec.NewMatch(cfg, o)
		return []changelog.Output{op}, op, err
	}, out, j)
}

// exchangeWindowJoin builds a window join behind an exchange keyed by its equi-keys (the window bounds
// included; rows with a NULL key go to the NULL-key bucket's subtask), as its state is keyed
// (exec/window_join_keyed.go). A NOT IN anti join (NullAware) stays one instance: a right row with a NULL
// last key concerns the left rows of every key of its group.
func (g *graph) exchangeWindowJoin(n *planner.WindowJoin, cfg exec.WindowJoinConfig, out changelog.Output, j *Job) (bool, error) {
	if g.batch || n.NullAware {
		return false, nil
	}
	left, right := keyedSide(n.LeftKeys, cfg.LeftTypes), keyedSide(n.RightKeys, cfg.RightTypes)
	left.NullKey, right.NullKey = true, true
	in := []exchangeInput{{node: n.Left, side: left}, {node: n.Right, side: right}}
	cfg.Keyed = true
	return g.buildExchange(n, in, func(o changelog.Output) ([]changelog.Output, changelog.Output, error) {
		l, r := exec.NewWindowJoin(cfg, o)
		return []changelog.Output{l, r}, l, nil
	}, out, j)
}

// exchangeTemporalJoin builds an event-time temporal join behind an exchange keyed by its equi-keys on both
// inputs (Flink: Exchange(hash[key]) in front of TemporalJoin); left rows with a NULL key go to the NULL-key
// bucket's subtask, where they wait like any other (exec/temporal_state.go).
func (g *graph) exchangeTemporalJoin(n *planner.TemporalJoin, cfg exec.TemporalJoinConfig, out changelog.Output, j *Job) (bool, error) {
	if g.batch {
		return false, nil
	}
	left, right := keyedSide(n.LeftKeys, cfg.LeftTypes), keyedSide(n.RightKeys, cfg.RightTypes)
	left.NullKey, right.NullKey = true, true
	in := []exchangeInput{{node: n.Left, side: left}, {node: n.Right, side: right}}
	return g.buildExchange(n, in, func(o changelog.Output) ([]changelog.Output, changelog.Output, error) {
		l, r := exec.NewTemporalJoin(cfg, o)
		return []changelog.Output{l, r}, l, nil
	}, out, j)
}

// tickExchange makes the graph's mini-batch ticker apply the due batches of the keyed subtasks of the
// exchange g.exchanges[i] (a mini-batch GROUP BY): each subtask applies its own on its goroutine. The
// exchange is not the one built last when keyed operators below it send into it (exchange_keyed.go): those
// are built after it.
func (g *graph) tickExchange(i int, latency time.Duration) {
	g.miniBatch.add(exchangeTicker{gate: &g.gate, x: g.exchanges[i].x}, latency)
}

// exchangeTicker is an exchange as the mini-batch ticker sees it (called under the graph lock).
type exchangeTicker struct {
	gate *sync.RWMutex
	x    *exec.Exchange
}

// FlushDue queues a tick for the keyed subtasks without blocking: not while a checkpoint closes the gate
// (it waits for the exchange to be idle; the next tick comes soon) and not into a full queue.
func (t exchangeTicker) FlushDue() error {
	if t.gate.TryRLock() {
		t.x.TryFlushDue()
		t.gate.RUnlock()
	}
	return nil
}
