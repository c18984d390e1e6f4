package planner

import (
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
)

// trimJoinReaders prunes a join read by something other than a Calc, as Flink's RelFieldTrimmer does for
// every reader: ProjectJoinTransposeRule only sees a Calc directly over a join.
//
//   - An Aggregate or WindowAggregate reading a join: the join keeps what the grouping keys, the aggregate
//     arguments and their FILTER columns read (and what it reads itself); the aggregate is renumbered. Its
//     output is unchanged.
//   - A Calc over a Rank, WindowRank or WindowTVF over a join: these pass their input's columns through (and
//     add the row number or the window columns), so what the join must keep is what the Calc reads of those
//     columns plus what the node itself reads (partition and order columns, window bounds, the time column).
//     The node is rebuilt over the pruned join with the same added columns, and the Calc is renumbered; the
//     Calc's output is unchanged.
//
// A sink or another join reading a join directly reads every column of it (they output or write all of
// them), so there is nothing to prune there; a join read through a Calc above its parent join is pruned
// top-down by ProjectJoinTransposeRule. Like that rule, this one leaves the plan as it is when an expression
// cannot be renumbered (expr.MapColumns).
type trimJoinReaders struct{}

func (trimJoinReaders) Name() string { return "TrimJoinReadersRule" }

func (trimJoinReaders) Rewrite(n Node) (Node, bool) {
	switch p := n.(type) {
	case *Aggregate:
		in, keys, aggs, ok := trimAggregateInput(p.Input, p.Keys, p.Aggs)
		if !ok {
			return n, false
		}
		c := *p
		c.Input, c.Keys, c.Aggs = in, keys, aggs
		return &c, true
	case *WindowAggregate:
		in, keys, aggs, ok := trimAggregateInput(p.Input, p.Keys, p.Aggs)
		if !ok {
			return n, false
		}
		c := *p
		c.Input, c.Keys, c.Aggs = in, keys, aggs
		return &c, true
	case *Calc:
		if out, ok := narrowCalcOverCalc(p); ok {
			return out, true
		}
		return trimThroughPassThrough(p)
	}
	return n, false
}

// narrowCalcOverCalc drops the projections of a Calc (below p) that p does not read, when that Calc reads a
// join or a Rank, WindowRank or WindowTVF over a join: the Calc chain of a filter over a projection
// (`SELECT ... FROM (SELECT ... ROW_NUMBER() ...) WHERE rn <= 2`) then lets the lower Calc prune the join.
// p is renumbered; its output is unchanged.
func narrowCalcOverCalc(p *Calc) (Node, bool) {
	c, ok := p.Input.(*Calc)
	if !ok {
		return p, false
	}
	below := c.Input
	switch below.(type) {
	case *Rank, *WindowRank, *WindowTVF:
		if ins := below.Inputs(); !isJoinNode(ins[0]) {
			return p, false
		}
	default:
		if !isJoinNode(below) {
			return p, false
		}
	}
	used := make([]bool, len(c.Out))
	for _, x := range p.Projects {
		if !markColumns(x, used) {
			return p, false
		}
	}
	if p.Filter != nil && !markColumns(p.Filter, used) {
		return p, false
	}
	nc, to, ok := narrowCalc(c, used)
	if !ok {
		return p, false
	}
	nps := make([]expr.Expr, len(p.Projects))
	for i, x := range p.Projects {
		if nps[i], ok = expr.MapColumns(x, to); !ok {
			return p, false
		}
	}
	var filter expr.Expr
	if p.Filter != nil {
		if filter, ok = expr.MapColumns(p.Filter, to); !ok {
			return p, false
		}
	}
	return &Calc{Input: nc, Projects: nps, Filter: filter, Out: p.Out}, true
}

// isJoinNode reports whether n is one of the joins pruneAnyJoin prunes.
func isJoinNode(n Node) bool {
	switch n.(type) {
	case *Join, *WindowJoin, *TemporalJoin, *LookupJoin:
		return true
	}
	return false
}

// trimAggregateInput prunes the join in read by an aggregate's keys and calls, and returns them renumbered.
func trimAggregateInput(in Node, keys []int, aggs []exec.AggCall) (Node, []int, []exec.AggCall, bool) {
	if !isJoinNode(in) {
		return nil, nil, nil, false
	}
	used := make([]bool, len(in.Fields()))
	for _, k := range keys {
		used[k] = true
	}
	for _, a := range aggs {
		for _, c := range a.Args {
			used[c] = true
		}
		if a.Filter >= 0 {
			used[a.Filter] = true
		}
	}
	nj, to, ok := pruneAnyJoin(in, used)
	if !ok {
		return nil, nil, nil, false
	}
	nkeys, ok := mapCols(keys, to)
	if !ok {
		return nil, nil, nil, false
	}
	naggs := make([]exec.AggCall, len(aggs))
	for i, a := range aggs {
		naggs[i] = a
		if naggs[i].Args, ok = mapCols(a.Args, to); !ok {
			return nil, nil, nil, false
		}
		if a.Filter >= 0 {
			if naggs[i].Filter, ok = to(a.Filter); !ok {
				return nil, nil, nil, false
			}
		}
	}
	return nj, nkeys, naggs, true
}

// trimThroughPassThrough handles a Calc over a Rank, WindowRank or WindowTVF over a join, or over a Calc
// over a join (a view's projection: that Calc drops what is not read, and then prunes the join itself).
func trimThroughPassThrough(p *Calc) (Node, bool) {
	mid := p.Input
	switch mid.(type) {
	case *Rank, *WindowRank, *WindowTVF:
	default:
		return p, false
	}
	ins := mid.Inputs()
	if len(ins) != 1 || !isJoinNode(ins[0]) && !isCalcOverJoin(ins[0]) {
		return p, false
	}
	j := ins[0]
	nin := len(j.Fields())
	midUsed := make([]bool, len(mid.Fields()))
	for _, x := range p.Projects {
		if !markColumns(x, midUsed) {
			return p, false
		}
	}
	if p.Filter != nil && !markColumns(p.Filter, midUsed) {
		return p, false
	}
	used := make([]bool, nin)
	copy(used, midUsed[:nin])
	var sortCols []exec.SortKey
	switch m := mid.(type) {
	case *Rank:
		markAll(used, m.Partition)
		sortCols = m.Order
	case *WindowRank:
		markAll(used, m.Partition)
		markAll(used, []int{m.StartCol, m.EndCol})
		sortCols = m.Order
	case *WindowTVF:
		markAll(used, m.Partition)
		markAll(used, []int{m.TimeCol})
	default:
		return p, false
	}
	for _, k := range sortCols {
		used[k.Col] = true
	}
	var nj Node
	var to func(int) (int, bool)
	var ok bool
	if c, isCalc := j.(*Calc); isCalc {
		nj, to, ok = narrowCalc(c, used)
	} else {
		nj, to, ok = pruneAnyJoin(j, used)
	}
	if !ok {
		return p, false
	}
	nNew := len(nj.Fields())
	// The pass-through node's output: the pruned join's columns, then the columns it adds, as before.
	out := append(append([]Field(nil), keptMid(mid.Fields()[:nin], to)...), mid.Fields()[nin:]...)
	var nm Node
	switch m := mid.(type) {
	case *Rank:
		c := *m
		c.Input, c.Out = nj, out
		if c.Partition, ok = mapCols(m.Partition, to); !ok {
			return p, false
		}
		if c.Order, ok = mapSortKeys(m.Order, to); !ok {
			return p, false
		}
		nm = &c
	case *WindowRank:
		c := *m
		c.Input, c.Out = nj, out
		if c.Partition, ok = mapCols(m.Partition, to); !ok {
			return p, false
		}
		if c.Order, ok = mapSortKeys(m.Order, to); !ok {
			return p, false
		}
		c.StartCol, _ = to(m.StartCol)
		c.EndCol, _ = to(m.EndCol)
		nm = &c
	case *WindowTVF:
		c := *m
		c.Input, c.Out = nj, out
		if c.Partition, ok = mapCols(m.Partition, to); !ok {
			return p, false
		}
		c.TimeCol, _ = to(m.TimeCol)
		nm = &c
	}
	midTo := func(c int) (int, bool) {
		if c >= nin {
			return c - nin + nNew, c < len(midUsed)
		}
		return to(c)
	}
	projects := make([]expr.Expr, len(p.Projects))
	for i, x := range p.Projects {
		if projects[i], ok = expr.MapColumns(x, midTo); !ok {
			return p, false
		}
	}
	var filter expr.Expr
	if p.Filter != nil {
		if filter, ok = expr.MapColumns(p.Filter, midTo); !ok {
			return p, false
		}
	}
	return &Calc{Input: nm, Projects: projects, Filter: filter, Out: p.Out}, true
}

// keptMid returns the fields whose column to keeps, in order.
func keptMid(fs []Field, to func(int) (int, bool)) []Field {
	var out []Field
	for i, f := range fs {
		if _, ok := to(i); ok {
			out = append(out, f)
		}
	}
	return out
}

func markAll(used []bool, cols []int) {
	for _, c := range cols {
		used[c] = true
	}
}

func mapCols(cols []int, to func(int) (int, bool)) ([]int, bool) {
	if cols == nil {
		return nil, true
	}
	out := make([]int, len(cols))
	for i, c := range cols {
		var ok bool
		if out[i], ok = to(c); !ok {
			return nil, false
		}
	}
	return out, true
}

func mapSortKeys(keys []exec.SortKey, to func(int) (int, bool)) ([]exec.SortKey, bool) {
	out := make([]exec.SortKey, len(keys))
	for i, k := range keys {
		out[i] = k
		var ok bool
		if out[i].Col, ok = to(k.Col); !ok {
			return nil, false
		}
	}
	return out, true
}

// isCalcOverJoin reports whether n is a Calc reading a join.
func isCalcOverJoin(n Node) bool {
	c, ok := n.(*Calc)
	return ok && isJoinNode(c.Input)
}

// narrowCalc returns c keeping only the projections marked in used, and the renumbering of its columns;
// false when it keeps them all (or none).
func narrowCalc(c *Calc, used []bool) (Node, func(int) (int, bool), bool) {
	pos := make([]int, len(used))
	var projects []expr.Expr
	var out []Field
	for i, u := range used {
		pos[i] = -1
		if u {
			pos[i] = len(projects)
			projects = append(projects, c.Projects[i])
			out = append(out, c.Out[i])
		}
	}
	if len(projects) == len(c.Projects) || len(projects) == 0 {
		return nil, nil, false
	}
	return &Calc{Input: c.Input, Projects: projects, Filter: c.Filter, Out: out}, posMap(pos), true
}
