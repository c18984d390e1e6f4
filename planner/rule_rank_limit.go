package planner

import "github.com/sluicesql/sluice/expr"

// rankLimitPushdown pushes `rn <= N`, `rn < N` and `rn = 1` conditions on the row number of a Rank below a
// filter into the Rank's limit (Flink's RankNumberColumnRemoveRule / FlinkLogicalRankRule): the filter stays,
// and the Rank keeps only the top N rows per partition, so its output is bounded.
type rankLimitPushdown struct{}

func (rankLimitPushdown) Name() string { return "RankLimitPushdownRule" }

func (rankLimitPushdown) Rewrite(n Node) (Node, bool) {
	f, ok := n.(*Filter)
	if !ok || len(f.RankBounds) == 0 {
		return n, false
	}
	in, changed := f.Input, false
	for _, b := range f.RankBounds {
		limit := int64(-1)
		switch b.Op {
		case "<=":
			limit = b.N
		case "<":
			limit = b.N - 1
		case "=":
			if b.N == 1 {
				limit = 1
			}
		}
		if limit < 0 {
			continue
		}
		path := rankPath(in, b.Col)
		if path == nil {
			continue
		}
		rank := path[len(path)-1].(*Rank)
		if rank.Limit >= 0 && limit >= rank.Limit {
			continue
		}
		r := *rank
		r.Limit = max(limit, 0)
		var rebuilt Node = &r
		for i := len(path) - 2; i >= 0; i-- {
			rebuilt = withInputs(path[i], []Node{rebuilt})
		}
		in, changed = rebuilt, true
	}
	if !changed {
		return n, false
	}
	c := *f
	c.Input = in
	return &c, true
}

// rankPath returns the nodes from in down to the Rank whose row-number column is column col of in, through
// projections and filterless Calcs that pass the column on; nil when there is none.
func rankPath(in Node, col int) []Node {
	var path []Node
	for {
		path = append(path, in)
		var projects []expr.Expr
		switch n := in.(type) {
		case *Rank:
			if col == len(n.Out)-1 {
				return path
			}
			return nil
		case *Calc:
			if n.Filter != nil {
				return nil
			}
			projects, in = n.Projects, n.Input
		case *Project:
			projects, in = n.Projects, n.Input
		default:
			return nil
		}
		if col >= len(projects) {
			return nil
		}
		c, ok := expr.ColumnIndex(projects[col])
		if !ok {
			return nil
		}
		col = c
	}
}
