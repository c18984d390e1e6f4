package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

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
		g.locals = append(g.locals, graphLocal{node: n, op: local.(localFlusher)}) // twophase.go
		g.miniBatch.add(local, n.MiniBatch.Latency)
		return g.build(n.Input, local, j)
	case *planner.GlobalGroupAggregate:
		if g.backend != nil {
			return fmt.Errorf("two-phase aggregation ('table.optimizer.agg-phase-strategy') is not supported with 'state.backend.type' = 'rocksdb' yet; use the hashmap backend or SET 'table.exec.mini-batch.enabled' = 'false'")
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
		if ok, err := g.buildTwoPhase(n, cfg, keyTypes, out, j); ok || err != nil {
			return err // twophase.go
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

// miniBatchOps are a graph's mini-batch operators (exec's mini-batch and local aggregates, or exec.Parallel
// over them) with the shortest latency: while a job runs, a ticker applies the batches that are due, so
// buffered rows wait at most about one latency even when no input arrives (Flink's processing-time
// mini-batch trigger).
type miniBatchOps struct {
	ops   []interface{ FlushDue() error }
	every time.Duration
}

func (m *miniBatchOps) add(op any, latency time.Duration) {
	f, ok := op.(interface{ FlushDue() error })
	if !ok || latency <= 0 {
		return
	}
	m.ops = append(m.ops, f)
	if m.every == 0 || latency < m.every {
		m.every = latency
	}
}

// tick starts the ticker (nil when the graph has no mini-batch operator): every latency it takes the graph's
// lock and applies the due batches, unless done reports the graph stopped. It ends with ctx; a failed flush
// marks failure under the lock and fail gets its error. The returned channel closes when it has ended.
func (m *miniBatchOps) tick(ctx context.Context, mu *sync.Mutex, done func() bool, failure *pushFailure, fail func(error)) chan struct{} {
	if len(m.ops) == 0 {
		return nil
	}
	end := make(chan struct{})
	go func() {
		defer close(end)
		t := time.NewTicker(max(m.every/2, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			mu.Lock()
			var err error
			if !done() {
				for _, op := range m.ops {
					if err = op.FlushDue(); err != nil {
						failure.mark(err) // under mu (push_failure.go)
						break
					}
				}
			}
			mu.Unlock()
			if err != nil {
				fail(fmt.Errorf("mini-batch: %w", err))
				return
			}
		}
	}()
	return end
}
