package planner

import "time"

// miniBatchRule (MiniBatchGroupAggregateRule): with 'table.exec.mini-batch.enabled', a streaming group
// aggregate buffers its input and applies it once per key per mini-batch (exec.NewMiniBatchGroupAgg), as
// Flink's GroupAggregate with mini-batch does. The plan keeps the node's name, as Flink's EXPLAIN does.
type miniBatchRule struct{ mb MiniBatch }

func (miniBatchRule) Name() string { return "MiniBatchGroupAggregateRule" }

func (r miniBatchRule) Rewrite(n Node) (Node, bool) {
	a, ok := n.(*Aggregate)
	if !ok || a.Batch || a.MiniBatch != nil {
		return n, false
	}
	c := *a
	mb := r.mb
	c.MiniBatch = &mb
	return &c, true
}

// miniBatchAssignerRule (MiniBatchAssignerRule): a MiniBatchAssigner right after each source, above its
// watermark assigner when it has one, as in Flink's plans (MiniBatchAssigner(interval=[...],
// mode=[ProcTime])).
type miniBatchAssignerRule struct {
	interval time.Duration
	// underWatermark holds the sources below a watermark assigner (the assigner goes above that instead).
	underWatermark map[Node]bool
}

func (miniBatchAssignerRule) Name() string { return "MiniBatchAssignerRule" }

func (r miniBatchAssignerRule) Rewrite(n Node) (Node, bool) {
	if _, ok := n.(*MiniBatchAssigner); ok {
		return n, false
	}
	ins := n.Inputs()
	var out []Node
	for i, in := range ins {
		wrap := false
		switch in.(type) {
		case *WatermarkAssigner:
			wrap = true
		case *Scan, *Values:
			wrap = !r.underWatermark[in]
		}
		if !wrap {
			continue
		}
		if out == nil {
			out = append([]Node(nil), ins...)
		}
		out[i] = &MiniBatchAssigner{Input: in, Interval: r.interval}
	}
	if out == nil {
		return n, false
	}
	return withInputs(n, out), true
}

// sourcesUnderWatermark returns the scans and VALUES below a watermark assigner of the plan.
func sourcesUnderWatermark(n Node, under bool, dst map[Node]bool) map[Node]bool {
	if dst == nil {
		dst = map[Node]bool{}
	}
	switch n.(type) {
	case *WatermarkAssigner:
		under = true
	case *Scan, *Values:
		if under {
			dst[n] = true
		}
	}
	for _, in := range n.Inputs() {
		sourcesUnderWatermark(in, under, dst)
	}
	return dst
}
