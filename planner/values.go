package planner

import (
	"fmt"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

func (p *Planner) values(v *sql.ValuesBody) (Node, error) {
	if len(v.Rows) == 0 {
		return nil, sql.Errorf(v.P, ErrValidation, "VALUES needs at least one row")
	}
	width := len(v.Rows[0])
	var cells [][]expr.Expr
	for _, row := range v.Rows {
		if len(row) != width {
			return nil, sql.Errorf(v.P, ErrValidation, "VALUES rows have different numbers of columns (%d and %d)", width, len(row))
		}
		var xs []expr.Expr
		for _, c := range row {
			x, err := p.b.expr(c, &scope{})
			if err != nil {
				return nil, err
			}
			xs = append(xs, x)
		}
		cells = append(cells, xs)
	}
	var out []Field
	for c := 0; c < width; c++ {
		var ts []types.Type
		for _, row := range cells {
			ts = append(ts, row[c].Type())
		}
		t, ok := types.CommonType(ts...)
		if !ok {
			return nil, sql.Errorf(v.Rows[0][c].Position(), ErrValidation, "VALUES column %d has no common type", c+1)
		}
		if t.Kind == types.Null {
			t = types.Type{Kind: types.Null}
		}
		out = append(out, Field{Name: fmt.Sprintf("EXPR$%d", c), Type: t})
	}
	var rows [][]types.Value
	for ri, row := range cells {
		var vals []types.Value
		for c, x := range row {
			if !x.Type().Equal(out[c].Type) && x.Type().Kind != types.Null {
				cx, err := expr.Cast(p.Env, x, out[c].Type, false)
				if err != nil {
					return nil, sql.Errorf(v.Rows[ri][c].Position(), ErrValidation, "%v", err)
				}
				x = cx
			}
			val, err := x.Eval(nil)
			if err != nil {
				return nil, sql.Errorf(v.Rows[ri][c].Position(), ErrValidation, "%v", err)
			}
			vals = append(vals, val)
		}
		rows = append(rows, vals)
	}
	return &Values{Rows: rows, Out: out}, nil
}
