package engine

import (
	"fmt"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
)

// buildMiniBatch wires the nodes of mini-batch and two-phase aggregation (planner/minibatch.go).
func (g *graph) buildMiniBatch(n planner.Node, out changelog.Output, j *Job) error {
	switch n := n.(type) {
	case *planner.MiniBatchAssigner:
		// Rows pass through: the mini-batch operators apply their buffers by size, latency, watermark and end.
		return g.build(n.Input, out, j)
	case *planner.LocalGroupAggregate:
		in := n.Input.Fields()
		cfg := exec.GroupAggConfig{Keys: n.Keys, Aggs: n.Aggs, InTypes: fieldTypes(in), InsertOnly: n.Input.Mode().IsInsertOnly()}
		for _, k := range n.Keys {
			cfg.KeyTypes = append(cfg.KeyTypes, in[k].Type)
		}
		local, err := exec.NewLocalGroupAgg(cfg, exec.MiniBatchConfig{Size: n.MiniBatch.Size, Latency: n.MiniBatch.Latency}, out)
		if err != nil {
			return err
		}
		g.register(n, local)
		return g.build(n.Input, local, j)
	case *planner.GlobalGroupAggregate:
		if g.backend != nil {
			return fmt.Errorf("two-phase aggregation ('table.optimizer.agg-phase-strategy') is not supported with 'state.backend.type' = 'rocksdb' yet; SET 'table.optimizer.agg-phase-strategy' = 'ONE_PHASE' or 'table.exec.mini-batch.enabled' = 'false'")
		}
		local := n.Input.(*planner.LocalGroupAggregate)
		orig := local.Input.Fields()
		cfg := exec.GroupAggConfig{Keys: n.Keys, Aggs: n.Aggs, InTypes: fieldTypes(orig), EmitUpdateBefore: true, InsertOnly: n.InsertOnlyInput, TTL: g.ttl}
		keys := make([]int, len(n.Keys))
		var keyTypes []types.Type
		for i, k := range n.Keys {
			keys[i] = i
			cfg.KeyTypes = append(cfg.KeyTypes, orig[k].Type)
			keyTypes = append(keyTypes, orig[k].Type)
		}
		mk := func(o changelog.Output) (changelog.Output, error) { return exec.NewGlobalGroupAgg(cfg, o) }
		agg, err := g.parallel(keys, keyTypes, mk, out)
		if err != nil {
			return err
		}
		g.register(n, agg)
		return g.build(n.Input, agg, j)
	}
	return fmt.Errorf("%w: buildMiniBatch: unexpected node %T", planner.ErrInternal, n)
}
