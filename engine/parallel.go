package engine

import (
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/types"
)

// Parallel subtasks. With 'parallelism.default' (or 'table.exec.resource.default-parallelism') above 1, the
// streaming keyed aggregates (GROUP BY with keys, window aggregates) run as that many subtasks, each owning a
// range of key groups, fork-join per batch (exec.NewParallel), unless they are fed by source subtasks
// through a hash exchange (exchange.go: GROUP BY and regular joins; exchange_proctime.go: processing-time
// window aggregates). State is one operator's at any
// parallelism, so a checkpoint restores at another parallelism.

// parallelism is the number of subtasks of keyed operators (1: none).
func (s *Session) parallelism() int {
	if n, ok, err := sessionInt(s.opts, "table.exec.resource.default-parallelism"); ok && err == nil && n > 0 {
		return int(n)
	}
	if n, ok, err := sessionInt(s.opts, "parallelism.default"); ok && err == nil && n > 0 {
		return int(n)
	}
	return 1
}

// parallel builds a keyed operator with mk, as g.subtasks subtasks when that is above 1.
func (g *graph) parallel(keys []int, keyTypes []types.Type, mk func(changelog.Output) (changelog.Output, error), out changelog.Output) (changelog.Output, error) {
	op, err := exec.NewParallel(keys, keyTypes, g.maxPar, g.subtasks, mk, out)
	if err != nil {
		return nil, err
	}
	if p, ok := op.(*exec.Parallel); ok {
		g.closers = append(g.closers, p.Close)
	}
	return op, nil
}

// closeSubtasks stops the subtask goroutines of the graph's parallel operators (idempotent).
func (g *graph) closeSubtasks() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.closers {
		c()
	}
	g.closers = nil
}
