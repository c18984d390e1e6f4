package planner

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

func (p *Planner) setOp(s *sql.SetOp) (Node, error) {
	if s.Op != "UNION" {
		return nil, sql.Errorf(s.P, ErrUnsupported, "%s is not supported yet; UNION and UNION ALL are", s.Op)
	}
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
		return nil, sql.Errorf(s.P, ErrValidation, "Column count mismatch in UNION: the left side has %d columns, the right side %d", len(lf), len(rf))
	}
	var common []types.Type
	for i := range lf {
		t, ok := types.CommonType(lf[i].Type, rf[i].Type)
		if !ok {
			return nil, sql.Errorf(s.P, ErrValidation, "Type mismatch in UNION column %d (%s): %s and %s have no common type", i+1, lf[i].Name, lf[i].Type, rf[i].Type)
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
					return nil, sql.Errorf(s.P, ErrValidation, "UNION column %d: %v", i+1, err)
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
