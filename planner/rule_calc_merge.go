package planner

import "github.com/sluicesql/sluice/expr"

// projectRemove drops a projection that keeps every column of its input in order, under the same names and
// types (Flink's ProjectRemoveRule).
type projectRemove struct{}

func (projectRemove) Name() string { return "ProjectRemoveRule" }

func (projectRemove) Rewrite(n Node) (Node, bool) {
	p, ok := n.(*Project)
	if !ok {
		return n, false
	}
	inf := p.Input.Fields()
	if len(p.Projects) != len(inf) {
		return n, false
	}
	for i, x := range p.Projects {
		if c, ok := expr.ColumnIndex(x); !ok || c != i || p.Out[i].Name != inf[i].Name || !p.Out[i].Type.Equal(inf[i].Type) {
			return n, false
		}
	}
	return p.Input, true
}

// calcMerge merges a projection into the Calc below it, as Flink's CalcMergeRule does, when no expression
// has to be rewritten: the Calc only filters (identity projection), or the projection only picks columns.
type calcMerge struct{}

func (calcMerge) Name() string { return "CalcMergeRule" }

func (calcMerge) Rewrite(n Node) (Node, bool) {
	p, ok := n.(*Project)
	if !ok {
		return n, false
	}
	c, ok := p.Input.(*Calc)
	if !ok {
		return n, false
	}
	if isIdentity(c.Projects) {
		return &Calc{Input: c.Input, Projects: p.Projects, Filter: c.Filter, Out: p.Out}, true
	}
	picked := make([]expr.Expr, len(p.Projects))
	for i, x := range p.Projects {
		ci, ok := expr.ColumnIndex(x)
		if !ok {
			return n, false
		}
		picked[i] = c.Projects[ci]
	}
	return &Calc{Input: c.Input, Projects: picked, Filter: c.Filter, Out: p.Out}, true
}

func isIdentity(projects []expr.Expr) bool {
	for i, x := range projects {
		if c, ok := expr.ColumnIndex(x); !ok || c != i {
			return false
		}
	}
	return true
}
