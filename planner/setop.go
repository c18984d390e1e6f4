package planner

import (
	"fmt"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

func (p *Planner) setOp(s *sql.SetOp) (Node, error) {
	l, err := p.body(s.Left)
	if err != nil {
		return nil, err
	}
	r, err := p.body(s.Right)
	if err != nil {
		return nil, err
	}
	lf, rf := l.Fields(), r.Fields()
	if len(lf) != len(rf) {
		return nil, sql.Errorf(s.P, ErrValidation, "Column count mismatch in %s: the left side has %d columns, the right side %d", s.Op, len(lf), len(rf))
	}
	var common []types.Type
	for i := range lf {
		t, ok := types.CommonType(lf[i].Type, rf[i].Type)
		if !ok {
			return nil, sql.Errorf(s.P, ErrValidation, "Type mismatch in %s column %d (%s): %s and %s have no common type", s.Op, i+1, lf[i].Name, lf[i].Type, rf[i].Type)
		}
		common = append(common, t)
	}
	conform := func(n Node) (Node, error) {
		fs := n.Fields()
		same := true
		var projects []expr.Expr
		var out []Field
		for i, f := range fs {
			var x expr.Expr = expr.Column(i, f.Name, f.Type)
			if !f.Type.Equal(common[i]) {
				same = false
				c, err := expr.Cast(p.Env, x, common[i], false)
				if err != nil {
					return nil, sql.Errorf(s.P, ErrValidation, "%s column %d: %v", s.Op, i+1, err)
				}
				x = c
			}
			projects = append(projects, x)
			out = append(out, Field{Name: lf[i].Name, Type: common[i]})
		}
		if same {
			return n, nil
		}
		return &Calc{Input: n, Projects: projects, Out: out}, nil
	}
	if l, err = conform(l); err != nil {
		return nil, err
	}
	if r, err = conform(r); err != nil {
		return nil, err
	}
	if s.Op != "UNION" {
		return &SetOp{Op: s.Op, All: s.All, Left: l, Right: r}, nil
	}
	var ins []Node
	for _, n := range []Node{l, r} {
		if u, ok := n.(*Union); ok {
			ins = append(ins, u.Ins...)
		} else {
			ins = append(ins, n)
		}
	}
	var n Node = &Union{Ins: ins}
	if !s.All {
		n = p.distinct(n)
	}
	return n, nil
}

// distinct groups by every column.
func (p *Planner) distinct(n Node) Node {
	fs := n.Fields()
	keys := make([]int, len(fs))
	for i := range keys {
		keys[i] = i
	}
	return &Aggregate{Input: n, Keys: keys, Distinct: true, Out: append([]Field(nil), fs...)}
}

// SetOp is INTERSECT or EXCEPT [ALL] of two inputs whose columns have the same types (logical;
// subquery_rewrite makes it an aggregate over a union, rule_set_op.go). Rows compare as in GROUP BY: NULLs
// are equal.
type SetOp struct {
	Op          string // INTERSECT or EXCEPT
	All         bool
	Left, Right Node
}

func (n *SetOp) Fields() []Field      { return n.Left.Fields() }
func (n *SetOp) Inputs() []Node       { return []Node{n.Left, n.Right} }
func (n *SetOp) Mode() changelog.Mode { return n.Left.Mode() }

// Describe names the node as Calcite does: Intersect or Minus (EXCEPT).
func (n *SetOp) Describe() string {
	op := "Intersect"
	if n.Op == "EXCEPT" {
		op = "Minus"
	}
	return fmt.Sprintf("%s(all=[%t])", op, n.All)
}

// Replicate emits each input row as many times as its last column (a BIGINT count) says, without that
// column: the ALL forms of INTERSECT and EXCEPT (Flink's REPLICATE_ROWS table function over a Correlate).
// The row kind is kept, so a retracted count retracts as many copies as were emitted.
type Replicate struct {
	Input Node
	Out   []Field
}

func (n *Replicate) Fields() []Field      { return n.Out }
func (n *Replicate) Inputs() []Node       { return []Node{n.Input} }
func (n *Replicate) Mode() changelog.Mode { return n.Input.Mode() }
func (n *Replicate) Describe() string {
	in := n.Input.Fields()
	return fmt.Sprintf("Correlate(invocation=[$REPLICATE_ROWS$1(%s, %s)], select=[%s])", in[len(in)-1].Name, names(n.Out), names(n.Out))
}
