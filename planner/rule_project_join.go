package planner

import (
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
)

// projectJoinTranspose prunes the inputs of a regular, interval, window, event-time temporal or lookup join
// (rule_project_join_kinds.go) to the columns that its reader and the join itself (keys, residual condition,
// time bounds, window bounds, version times) use, as Flink's ProjectJoinTransposeRule with
// ProjectRemoveRule: a join stores its input rows in state, and a row that keeps only what is read costs less
// to store, copy and decode (projection pushdown carries the narrower inputs on into scans and formats).
//
// It fires on a Calc reading a join (TrimJoinReadersRule handles the other readers): a join's parent join reads it through the Calc the rule puts below that
// parent, so chains of joins prune from the top down, one pass each; an aggregate reads a join through the
// Calc of its pre-projection (which the rule removes when it is left as a plain copy). Each input that loses
// a column gets a Calc keeping the rest in order and under the same names — merged into the input when that
// is already a Calc — and the join's keys, condition and time bounds, and the parent's expressions, are
// renumbered. A parent Calc left as a plain copy of the join's columns is removed. The rule leaves the plan
// as it is when an expression cannot be renumbered (expr.MapColumns; a UDF's call is bound again over the
// moved columns).
//
// Column names survive the pruning, so time attributes (found by name) and key derivation see the same
// columns; a join's changelog mode depends only on its type and its inputs' modes, which a Calc keeps.
type projectJoinTranspose struct{}

func (projectJoinTranspose) Name() string { return "ProjectJoinTransposeRule" }

func (projectJoinTranspose) Rewrite(n Node) (Node, bool) {
	switch p := n.(type) {
	case *Calc:
		j := p.Input
		switch j.(type) {
		case *Join, *WindowJoin, *TemporalJoin, *LookupJoin:
		default:
			return n, false
		}
		used := make([]bool, len(j.Fields()))
		for _, x := range p.Projects {
			if !markColumns(x, used) {
				return n, false
			}
		}
		if p.Filter != nil && !markColumns(p.Filter, used) {
			return n, false
		}
		nj, to, ok := pruneAnyJoin(j, used) // rule_project_join_kinds.go
		if !ok {
			return n, false
		}
		projects := make([]expr.Expr, len(p.Projects))
		for i, x := range p.Projects {
			if projects[i], ok = expr.MapColumns(x, to); !ok {
				return n, false
			}
		}
		var filter expr.Expr
		if p.Filter != nil {
			if filter, ok = expr.MapColumns(p.Filter, to); !ok {
				return n, false
			}
		}
		if filter == nil && copiesColumns(projects, p.Out, nj.Fields()) {
			return nj, true
		}
		return &Calc{Input: nj, Projects: projects, Filter: filter, Out: p.Out}, true
	}
	return n, false
}

// pruneJoin returns j over inputs that keep only the columns marked in used (the reader's, indexes of j's
// output) and the ones j itself reads, and the renumbering of j's output columns; false when every column
// is needed or j's condition cannot be renumbered.
func pruneJoin(j *Join, used []bool) (*Join, func(int) (int, bool), bool) {
	nl := len(j.Left.Fields())
	for _, k := range j.LeftKeys {
		used[k] = true
	}
	for _, k := range j.RightKeys {
		used[nl+k] = true
	}
	if j.Residual != nil && !markColumns(j.Residual, used) {
		return nil, nil, false
	}
	for _, b := range []*exec.IntervalBounds{j.Bounds, j.Interval} {
		if b != nil {
			used[b.LeftTime], used[nl+b.RightTime] = true, true
		}
	}
	var lkeep, rkeep []int
	for i, u := range used {
		switch {
		case !u:
		case i < nl:
			lkeep = append(lkeep, i)
		default:
			rkeep = append(rkeep, i-nl)
		}
	}
	nr := len(used) - nl
	if len(lkeep) == nl && len(rkeep) == nr {
		return nil, nil, false
	}
	// A side none of whose columns is read (a cross join under COUNT(*)) keeps its first one: rows are never
	// empty.
	if len(lkeep) == 0 {
		lkeep, used[0] = []int{0}, true
	}
	if len(rkeep) == 0 {
		rkeep, used[nl] = []int{0}, true
	}
	pos := make([]int, len(used)) // j's output column → the pruned join's, -1 when dropped
	var out []Field
	for i, u := range used {
		pos[i] = -1
		if u {
			pos[i] = len(out)
			out = append(out, j.Out[i])
		}
	}
	to := func(c int) (int, bool) {
		if c < 0 || c >= len(pos) || pos[c] < 0 {
			return 0, false
		}
		return pos[c], true
	}
	nj := *j
	nj.Out = out
	nj.Left, nj.Right = pruneInput(j.Left, lkeep), pruneInput(j.Right, rkeep)
	nj.LeftKeys = make([]int, len(j.LeftKeys))
	for i, k := range j.LeftKeys {
		nj.LeftKeys[i] = pos[k]
	}
	nlNew := len(lkeep)
	nj.RightKeys = make([]int, len(j.RightKeys))
	for i, k := range j.RightKeys {
		nj.RightKeys[i] = pos[nl+k] - nlNew
	}
	if j.Residual != nil {
		var ok bool
		if nj.Residual, ok = expr.MapColumns(j.Residual, to); !ok {
			return nil, nil, false
		}
	}
	bounds := func(b *exec.IntervalBounds) *exec.IntervalBounds {
		if b == nil {
			return nil
		}
		c := *b
		c.LeftTime, c.RightTime = pos[b.LeftTime], pos[nl+b.RightTime]-nlNew
		return &c
	}
	nj.Bounds, nj.Interval = bounds(j.Bounds), bounds(j.Interval)
	return &nj, to, true
}

// pruneInput returns in keeping only the columns keep (ascending), under their names: the Calc that in
// already is with fewer projections, or a new Calc.
func pruneInput(in Node, keep []int) Node {
	if len(keep) == len(in.Fields()) {
		return in
	}
	fs := in.Fields()
	out := make([]Field, len(keep))
	projects := make([]expr.Expr, len(keep))
	c, isCalc := in.(*Calc)
	for i, k := range keep {
		out[i] = fs[k]
		if isCalc {
			projects[i] = c.Projects[k]
		} else {
			projects[i] = expr.Column(k, fs[k].Name, fs[k].Type)
		}
	}
	if isCalc {
		return &Calc{Input: c.Input, Projects: projects, Filter: c.Filter, Out: out}
	}
	return &Calc{Input: in, Projects: projects, Out: out}
}

// markColumns marks the input columns x reads; false when x holds an expression whose reads are unknown.
func markColumns(x expr.Expr, used []bool) bool {
	if c, ok := expr.ColumnIndex(x); ok {
		if c < 0 || c >= len(used) {
			return false
		}
		used[c] = true
		return true
	}
	kids, ok := expr.Children(x)
	if !ok {
		return false
	}
	for _, k := range kids {
		if !markColumns(k, used) {
			return false
		}
	}
	return true
}

// copiesColumns reports whether projects are exactly the columns of in, in order, under the same names and
// types (the Calc changes nothing).
func copiesColumns(projects []expr.Expr, out, in []Field) bool {
	if len(projects) != len(in) || !isIdentity(projects) {
		return false
	}
	for i := range out {
		if out[i].Name != in[i].Name || !out[i].Type.Equal(in[i].Type) {
			return false
		}
	}
	return true
}
