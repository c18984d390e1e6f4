package planner

import (
	"fmt"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/types"
)

// twoPhaseRule (TwoStageOptimizedAggregateRule): with mini-batch on and 'table.optimizer.agg-phase-strategy'
// AUTO or TWO_PHASE, a streaming group aggregate whose calls all merge (exec.AggMergeable: COUNT, SUM, SUM0,
// AVG, BOOL_AND, BOOL_OR, and MIN/MAX over insert-only input; no DISTINCT) becomes a LocalGroupAggregate,
// which combines each mini-batch per key into partial accumulators, under a GlobalGroupAggregate, which
// merges them, as in Flink. Otherwise the aggregate stays one-phase (Flink's AUTO and TWO_PHASE both fall back
// then).
type twoPhaseRule struct{}

func (twoPhaseRule) Name() string { return "TwoStageOptimizedAggregateRule" }

func (twoPhaseRule) Rewrite(n Node) (Node, bool) {
	a, ok := n.(*Aggregate)
	if !ok || a.Batch || a.MiniBatch == nil {
		return n, false
	}
	insertOnly := a.Input.Mode().IsInsertOnly()
	for _, c := range a.Aggs {
		if !exec.AggMergeable(c, insertOnly) {
			return n, false
		}
	}
	in := a.Input.Fields()
	local := &LocalGroupAggregate{Input: a.Input, Keys: a.Keys, Aggs: a.Aggs, MiniBatch: *a.MiniBatch}
	for _, k := range a.Keys {
		local.Out = append(local.Out, in[k])
	}
	seq := 0
	for _, c := range a.Aggs {
		names, ts := exec.AggPartialColumns(c)
		for i, name := range names {
			local.Out = append(local.Out, Field{Name: fmt.Sprintf("%s$%d", name, seq), Type: ts[i]})
			seq++
		}
	}
	local.Out = append(local.Out, Field{Name: fmt.Sprintf("count1$%d", seq), Type: types.BigIntType().WithNullable(false)})
	return &GlobalGroupAggregate{Input: local, Keys: a.Keys, Aggs: a.Aggs, Out: a.Out, InsertOnlyInput: insertOnly}, true
}
