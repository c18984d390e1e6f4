package planner

import (
	"strconv"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

func (p *Planner) query(q *sql.Query) (Node, error) {
	if len(q.With) > 0 {
		m := map[string]*sql.CTE{}
		for _, c := range q.With {
			m[c.Name] = c
		}
		p.ctes = append(p.ctes, m)
		defer func() { p.ctes = p.ctes[:len(p.ctes)-1] }()
	}
	n, err := p.body(q.Body)
	if err != nil {
		return nil, err
	}
	if len(q.OrderBy) == 0 && q.Limit == nil && q.Offset == nil {
		return n, nil
	}
	limit, offset := int64(-1), int64(0)
	if q.Limit != nil {
		if limit, err = p.constInt(q.Limit, "LIMIT"); err != nil {
			return nil, err
		}
	}
	if q.Offset != nil {
		if offset, err = p.constInt(q.Offset, "OFFSET"); err != nil {
			return nil, err
		}
	}
	fields := n.Fields()
	var keys []exec.SortKey
	for _, o := range q.OrderBy {
		col := -1
		switch x := o.Expr.(type) {
		case *sql.Literal:
			if x.Kind == sql.LitInteger {
				i, _ := strconv.Atoi(x.Text)
				if i < 1 || i > len(fields) {
					return nil, sql.Errorf(x.P, ErrValidation, "ORDER BY position %d is not in the select list (1..%d)", i, len(fields))
				}
				col = i - 1
			}
		}
		if col < 0 {
			bound, err := p.b.expr(o.Expr, scopeOf(fields, ""))
			if err != nil {
				if _, isRef := o.Expr.(*sql.ColumnRef); isRef {
					return nil, sql.Errorf(o.P, ErrUnsupported, "ORDER BY %s: only columns of the select list can be ordered by yet; add %s to the SELECT list", sql.FormatExpr(o.Expr), sql.FormatExpr(o.Expr))
				}
				return nil, err
			}
			// ORDER BY works on output columns: an expression must be one of them.
			for i, f := range fields {
				if bound.String() == f.Name || bound.String() == expr.Column(i, f.Name, f.Type).String() {
					col = i
				}
			}
			if col < 0 {
				return nil, sql.Errorf(o.P, ErrUnsupported, "ORDER BY %s: only columns of the select list can be ordered by; add it to the SELECT", sql.FormatExpr(o.Expr))
			}
		}
		nullsFirst := !o.Desc // Flink: NULLS FIRST for ASC, NULLS LAST for DESC by default
		if o.NullsFirst != nil {
			nullsFirst = *o.NullsFirst
		}
		keys = append(keys, exec.SortKey{Col: col, Desc: o.Desc, NullsFirst: nullsFirst})
	}
	// The physical pass chooses the operator (Sort, TopN or Limit) for the runtime mode.
	sl := &SortLimit{Input: n, Keys: keys, Limit: limit, Offset: offset, Pos: q.P}
	if len(q.OrderBy) > 0 {
		sl.OrderPos = q.OrderBy[0].P
	}
	return sl, nil
}

func (p *Planner) constInt(e sql.Expr, what string) (int64, error) {
	x, err := p.b.expr(e, &scope{})
	if err != nil {
		return 0, err
	}
	if !expr.IsConstant(x) || !x.Type().IsIntegral() {
		return 0, sql.Errorf(e.Position(), ErrValidation, "%s must be a constant integer", what)
	}
	v, err := x.Eval(nil)
	if err != nil || v.IsNull() || v.Int() < 0 {
		return 0, sql.Errorf(e.Position(), ErrValidation, "%s must be a non-negative integer", what)
	}
	return v.Int(), nil
}

func (p *Planner) body(b sql.QueryBody) (Node, error) {
	switch b := b.(type) {
	case *sql.Query:
		return p.query(b)
	case *sql.Select:
		return p.selectBlock(b)
	case *sql.ValuesBody:
		return p.values(b)
	case *sql.SetOp:
		return p.setOp(b)
	}
	return nil, sql.Errorf(b.Position(), ErrUnsupported, "unsupported query form")
}
