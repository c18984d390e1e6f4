package planner

// projectToCalc makes a projection that no other rule removed or merged a Calc (Flink's logical phase turns
// LogicalProject into FlinkLogicalCalc).
type projectToCalc struct{}

func (projectToCalc) Name() string { return "ProjectToCalcRule" }

func (projectToCalc) Rewrite(n Node) (Node, bool) {
	p, ok := n.(*Project)
	if !ok {
		return n, false
	}
	return &Calc{Input: p.Input, Projects: p.Projects, Out: p.Out}, true
}

// filterToCalc makes a filter a Calc that keeps every column (Flink's FilterToCalcRule).
type filterToCalc struct{}

func (filterToCalc) Name() string { return "FilterToCalcRule" }

func (filterToCalc) Rewrite(n Node) (Node, bool) {
	f, ok := n.(*Filter)
	if !ok {
		return n, false
	}
	fs := f.Input.Fields()
	return &Calc{Input: f.Input, Projects: identity(fs), Filter: f.Cond, Out: fs}, true
}
