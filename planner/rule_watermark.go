package planner

// watermarkAssignerRemove drops watermark assigners in batch mode, where rows are complete and no operator
// waits for time to pass (Flink's batch program has no time indicators either).
type watermarkAssignerRemove struct{}

func (watermarkAssignerRemove) Name() string { return "WatermarkAssignerRemoveRule" }

func (watermarkAssignerRemove) Rewrite(n Node) (Node, bool) {
	w, ok := n.(*WatermarkAssigner)
	if !ok {
		return n, false
	}
	return w.Input, true
}
