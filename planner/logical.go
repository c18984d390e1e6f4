package planner

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

// The logical-only nodes: the binder emits them and the rewrite phases (rules.go) replace every one of them
// before the physical pass, which refuses any that is left. Their Mode is their input's: a logical node has
// no changelog mode of its own (modes are inferred on the physical plan).

// Project is a projection as bound (a SELECT list, the pre-projection of an aggregation, column aliases).
// project_rewrite removes it when it changes nothing, merges it into the Calc below, or makes it a Calc.
type Project struct {
	Input    Node
	Projects []expr.Expr
	Out      []Field
}

// Filter is a WHERE or HAVING condition as bound. RankBounds are the conjuncts of the form `col <= N`,
// `col < N` or `col = 1` (col a column of the input, N an integer literal), recognized by the binder so
// that the rank-limit rule can push them into a Rank below.
type Filter struct {
	Input      Node
	Cond       expr.Expr
	RankBounds []RankBound
}

// RankBound is a conjunct `Col Op N` of a filter (Op is <=, < or =).
type RankBound struct {
	Col int
	Op  string
	N   int64
}

// SortLimit is ORDER BY / LIMIT / OFFSET as bound. The physical pass makes it a Sort (batch), a TopN
// (streaming ORDER BY with LIMIT) or a Limit (streaming LIMIT without ORDER BY).
type SortLimit struct {
	Input  Node
	Keys   []exec.SortKey
	Limit  int64 // -1: none
	Offset int64
	// Pos is the query and OrderPos its first ORDER BY item, for the physical pass's errors.
	Pos, OrderPos sql.Pos
}

// InSubquery keeps the rows of Input whose column Col is among the values of Sub (`x IN (SELECT y ...)`).
// subquery_rewrite makes it a semi-join.
type InSubquery struct {
	Input Node
	Sub   Node
	Col   int
}

// GroupWindow is a group window of Flink 1.12's syntax (GROUP BY TUMBLE(ts, ...), HOP, SESSION): the input's
// columns followed by window_start, window_end and window_time, as the window TVF it is rewritten to
// (window_rewrite).
type GroupWindow struct {
	Window WindowTVF
}

func (n *Project) Fields() []Field     { return n.Out }
func (n *Filter) Fields() []Field      { return n.Input.Fields() }
func (n *SortLimit) Fields() []Field   { return n.Input.Fields() }
func (n *InSubquery) Fields() []Field  { return n.Input.Fields() }
func (n *GroupWindow) Fields() []Field { return n.Window.Out }

func (n *Project) Inputs() []Node     { return []Node{n.Input} }
func (n *Filter) Inputs() []Node      { return []Node{n.Input} }
func (n *SortLimit) Inputs() []Node   { return []Node{n.Input} }
func (n *InSubquery) Inputs() []Node  { return []Node{n.Input, n.Sub} }
func (n *GroupWindow) Inputs() []Node { return []Node{n.Window.Input} }

func (n *Project) Mode() changelog.Mode     { return n.Input.Mode() }
func (n *Filter) Mode() changelog.Mode      { return n.Input.Mode() }
func (n *SortLimit) Mode() changelog.Mode   { return n.Input.Mode() }
func (n *InSubquery) Mode() changelog.Mode  { return n.Input.Mode() }
func (n *GroupWindow) Mode() changelog.Mode { return n.Window.Input.Mode() }

func (n *Project) Describe() string {
	return "Project(select=[" + selectText(n.Projects, n.Out) + "])"
}

func (n *Filter) Describe() string {
	return "Filter(condition=[" + n.Cond.String() + "])"
}

func (n *SortLimit) Describe() string {
	return fmt.Sprintf("Sort(orderBy=[%s]%s)", sortText(n.Keys, n.Input.Fields()), limitText(n.Limit, n.Offset))
}

func (n *InSubquery) Describe() string {
	in := n.Input.Fields()
	return fmt.Sprintf("InSubquery(condition=[IN(%s, $subquery)], select=[%s])", in[n.Col].Name, names(in))
}

func (n *GroupWindow) Describe() string {
	return fmt.Sprintf("GroupWindow(window=[%s])", windowText(n.Window.Spec, n.Window.Input.Fields()[n.Window.TimeCol].Name))
}

// selectText prints projections as Calc and Project do: expr [AS name].
func selectText(projects []expr.Expr, out []Field) string {
	var sel []string
	for i, p := range projects {
		s := p.String()
		if s != out[i].Name {
			s += " AS " + out[i].Name
		}
		sel = append(sel, s)
	}
	return strings.Join(sel, ", ")
}

// isLogical reports whether n is a logical-only node (one the physical pass does not accept).
func isLogical(n Node) bool {
	switch n.(type) {
	case *Project, *Filter, *SortLimit, *InSubquery, *GroupWindow, *SetOp, *SubqueryJoin:
		return true
	}
	return false
}
