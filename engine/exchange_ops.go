package engine

import (
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
)

// More keyed operators behind the hash exchange (exchange.go): ChangelogNormalize (keyed by the upsert key),
// OVER aggregates (by PARTITION BY) and interval joins (by the join keys, as regular joins). Each runs as
// g.subtasks instances when its inputs are chains of source subtasks and it has keys; without keys it stays
// one instance (Flink's `single` distribution, as EXPLAIN prints it). Their state keys are the exchange's
// routing keys (exec.appendGroupKey of the key columns; a join's NULL-key bucket for rows with a NULL join
// key), so exec.Exchange.State writes one operator's state and restores it at any parallelism.
//
// The watermark-driven ones (OVER with event time, interval joins) see, per subtask, the minimum watermark
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
	in := []exchangeInput{{node: n.Input, side: keyedSide(n.Keys, cfg.Types)}}
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
