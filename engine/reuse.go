package engine

import (
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/planner"
)

// Shared plan nodes (planner.ReuseSources): a node with several parents is built once; its output goes to
// a fanout that hands every batch, watermark and end to each parent's input in turn (all under the job's
// lock, like any push).

// countParents records how many parents each node of the plans has.
func (g *graph) countParents(roots []planner.Node) {
	g.parents = map[planner.Node]int{}
	seen := map[planner.Node]bool{}
	var walk func(n planner.Node)
	walk = func(n planner.Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, in := range n.Inputs() {
			g.parents[in]++
			walk(in)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	g.fanouts = map[planner.Node]*fanout{}
}

// shared returns the output to build n with, and false when n was built already (out joined its fanout).
// A reused scan that runs as subtasks (pipeline_reuse.go) is never built here: out becomes one of its
// branches, fed by every subtask through a union.
func (g *graph) shared(n planner.Node, out changelog.Output, j *Job) (changelog.Output, bool, error) {
	if g.parents[n] < 2 {
		return out, true, nil
	}
	if sc, ok := n.(*planner.Scan); ok && g.reusedSubtasks(sc) >= 2 {
		return nil, false, g.addReusedBranch(sc, j, reusedBranch{out: out})
	}
	if f := g.fanouts[n]; f != nil {
		f.outs = append(f.outs, out)
		return nil, false, nil
	}
	f := &fanout{outs: []changelog.Output{out}}
	g.fanouts[n] = f
	return f, true, nil
}

// fanout passes its input to several outputs. The end is passed on once every output has been given it.
// Columnar batches go to every output that takes columns with a header of its own (reuse_vec.go).
type fanout struct {
	outs []changelog.Output
	cols fanoutCols
}

func (f *fanout) Push(b *changelog.Batch) error {
	for _, o := range f.outs {
		if err := o.Push(b); err != nil {
			return err
		}
	}
	return nil
}

func (f *fanout) Watermark(ts int64) error {
	for _, o := range f.outs {
		if err := o.Watermark(ts); err != nil {
			return err
		}
	}
	return nil
}

func (f *fanout) End() error {
	var first error
	for _, o := range f.outs {
		if err := o.End(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
