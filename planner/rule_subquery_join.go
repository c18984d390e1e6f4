package planner

import (
	"fmt"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// SubqueryKind is the predicate of a SubqueryJoin.
type SubqueryKind uint8

const (
	SubqueryExists    SubqueryKind = iota // EXISTS, correlated or not; (a, b) IN (SELECT ...); correlated IN
	SubqueryNotExists                     // NOT EXISTS, correlated or not
	SubqueryNotIn                         // x NOT IN (SELECT y ...), correlated or not
)

func (k SubqueryKind) String() string {
	return [...]string{"EXISTS", "NOT EXISTS", "NOT IN"}[k]
}

// SubqueryJoin keeps the rows of Input for which the subquery predicate holds (logical; subquery_rewrite
// makes it joins and aggregates, SubqueryToJoinRule). Keys are columns of Input compared for equality with
// the columns of Sub in order (Sub has exactly len(Keys) columns; for an uncorrelated EXISTS none and Sub
// has one constant column). For NOT IN, Keys is x and then the correlation columns; Sub's columns are y and
// then the correlated inner columns.
type SubqueryJoin struct {
	Input Node
	Sub   Node
	Kind  SubqueryKind
	Keys  []int
	Pos   sql.Pos
}

func (n *SubqueryJoin) Fields() []Field      { return n.Input.Fields() }
func (n *SubqueryJoin) Inputs() []Node       { return []Node{n.Input, n.Sub} }
func (n *SubqueryJoin) Mode() changelog.Mode { return n.Input.Mode() }
func (n *SubqueryJoin) Describe() string {
	in := n.Input.Fields()
	var ks []Field
	for _, k := range n.Keys {
		ks = append(ks, in[k])
	}
	args := "$subquery"
	if len(ks) > 0 {
		args = names(ks) + ", " + args
	}
	return fmt.Sprintf("SubqueryFilter(condition=[%s(%s)], select=[%s])", n.Kind, args, names(in))
}

// subqueryToJoin plans SubqueryJoin as Calcite's SubQueryRemoveRule does, with the joins and aggregates the
// engine runs in both modes (all of them retract, so updating inputs stay correct):
//
//	EXISTS      inner join with the subquery's distinct keys (a semi-join)
//	NOT EXISTS  left join with the distinct keys and a marker; keep the rows whose marker is NULL (an
//	            anti-join: a NULL key matches nothing, so the row is kept)
//	NOT IN      left join with the subquery's row counts ($n = COUNT(*), $nn = COUNT(y)) on a constant key,
//	            then with its distinct values and a marker; keep the row when the subquery is empty, or when
//	            x is not NULL, matched nothing, and the subquery has no NULL ($nn = $n): Flink's three-valued
//	            NOT IN, where UNKNOWN drops the row
//
// An uncorrelated EXISTS joins on a constant key (all rows in one group, as Flink's single-key joins). A
// correlated NOT IN counts the subquery's rows per correlation key instead.
//
// deferWindowed (the subquery_rewrite phase) leaves a filter whose correlation equates the window bounds
// of both sides to windowSemiJoinRule (window_operators), where this rule runs again, after it, for the
// ones that do not become window joins.
type subqueryToJoin struct{ deferWindowed bool }

func (subqueryToJoin) Name() string { return "SubqueryToJoinRule" }

func (r subqueryToJoin) Rewrite(n Node) (Node, bool) {
	s, ok := n.(*SubqueryJoin)
	if !ok || r.deferWindowed && windowedSubquery(s) {
		return n, false
	}
	fields := s.Input.Fields()
	boolT := types.BooleanType().WithNullable(false)
	trueLit := expr.Literal(types.BoolValue(true), boolT)
	left, lkeys := s.Input, s.Keys
	if len(lkeys) == 0 || s.Kind == SubqueryNotIn && len(lkeys) == 1 {
		// A constant key column on the left.
		left = &Calc{Input: s.Input, Projects: append(identity(fields), trueLit), Out: append(append([]Field{}, fields...), Field{Name: "$k", Type: boolT})}
	}
	if len(lkeys) == 0 {
		lkeys = []int{len(fields)}
	}
	nl := len(left.Fields())
	switch s.Kind {
	case SubqueryExists:
		d := distinctOf(s.Sub)
		j := &Join{Left: left, Right: d, Type: exec.InnerJoin, LeftKeys: lkeys, RightKeys: seq(len(lkeys)), Out: joinFields(left, d, false)}
		return &Calc{Input: j, Projects: identity(fields), Out: fields}, true
	case SubqueryNotExists:
		m := marked(distinctOf(s.Sub), trueLit)
		j := &Join{Left: left, Right: m, Type: exec.LeftJoin, LeftKeys: lkeys, RightKeys: seq(len(lkeys)), Out: joinFields(left, m, true)}
		mark := j.Out[len(j.Out)-1]
		return &Calc{Input: j, Projects: identity(fields), Filter: call("IS NULL", expr.Column(len(j.Out)-1, mark.Name, mark.Type)), Out: fields}, true
	}
	// NOT IN: the subquery's row counts per correlation key (uncorrelated: per the constant $k).
	count := types.BigIntType().WithNullable(false)
	sf := s.Sub.Fields()
	var kp []expr.Expr
	var kf []Field
	cntLeft := []int{nl - 1}
	if len(s.Keys) == 1 {
		kp, kf = []expr.Expr{trueLit}, []Field{{Name: "$k", Type: boolT}}
	} else {
		cntLeft = s.Keys[1:]
		for i := 1; i < len(sf); i++ {
			kp, kf = append(kp, expr.Column(i, sf[i].Name, sf[i].Type)), append(kf, sf[i])
		}
	}
	nk := len(kf)
	keyed := &Calc{Input: s.Sub, Projects: append(kp, expr.Column(0, sf[0].Name, sf[0].Type)), Out: append(kf, sf[0])}
	counts := &Aggregate{Input: keyed, Keys: seq(nk), Aggs: []exec.AggCall{
		{Func: "COUNT", Type: count, Filter: -1},
		{Func: "COUNT", Args: []int{nk}, ArgTypes: []types.Type{sf[0].Type}, Type: count, Filter: -1},
	}, Out: append(append([]Field{}, kf...), Field{Name: "$n", Type: count}, Field{Name: "$nn", Type: count})}
	j1 := &Join{Left: left, Right: counts, Type: exec.LeftJoin, LeftKeys: cntLeft, RightKeys: seq(nk), Out: joinFields(left, counts, true)}
	m := marked(distinctOf(s.Sub), trueLit)
	j2 := &Join{Left: j1, Right: m, Type: exec.LeftJoin, LeftKeys: s.Keys, RightKeys: seq(len(s.Keys)), Out: joinFields(j1, m, true)}
	col := func(i int) expr.Expr { return expr.Column(i, j2.Out[i].Name, j2.Out[i].Type) }
	x, cnt, nn, mark := col(s.Keys[0]), col(nl+nk), col(nl+nk+1), col(len(j2.Out)-1)
	zero := expr.Literal(types.IntValue(0), count)
	cond := call("OR", call("OR", call("IS NULL", cnt), call("=", cnt, zero)),
		call("AND", call("AND", call("IS NULL", mark), call("IS NOT NULL", x)), call("=", nn, cnt)))
	return &Calc{Input: j2, Projects: identity(fields), Filter: cond, Out: fields}, true
}

// marked appends a TRUE column $m to n's columns.
func marked(n Node, trueLit expr.Expr) Node {
	fs := n.Fields()
	return &Calc{Input: n, Projects: append(identity(fs), trueLit), Out: append(append([]Field{}, fs...), Field{Name: "$m", Type: trueLit.Type()})}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// joinFields is the output of a join of l and r: l's columns, then r's (nullable when rightPadded), with
// the names of r made unique against l's as joins name them (x, x0).
func joinFields(l, r Node, rightPadded bool) []Field {
	out := append([]Field{}, l.Fields()...)
	seen := map[string]bool{}
	for _, f := range out {
		seen[f.Name] = true
	}
	for _, f := range r.Fields() {
		name := f.Name
		for i := 0; seen[name]; i++ {
			name = fmt.Sprintf("%s%d", f.Name, i)
		}
		seen[name] = true
		if rightPadded {
			f.Type = f.Type.WithNullable(true)
		}
		out = append(out, Field{Name: name, Type: f.Type})
	}
	return out
}
