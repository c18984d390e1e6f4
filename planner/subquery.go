package planner

import (
	"github.com/sluicesql/sluice/sql"
)

// semiJoins binds the `x IN (SELECT y ...)` conjuncts of where as InSubquery nodes over in (made semi-joins
// by subquery_rewrite), and returns the remaining condition (nil when none).
func (p *Planner) semiJoins(where sql.Expr, in Node, sc *scope) (Node, sql.Expr, error) {
	var conds []sql.Expr
	splitAnd(where, &conds)
	var rest sql.Expr
	for _, c := range conds {
		e, ok := unparen(c).(*sql.In)
		if !ok || e.Query == nil {
			if rest == nil {
				rest = c
			} else {
				rest = &sql.Binary{P: c.Position(), Op: "AND", L: rest, R: c}
			}
			continue
		}
		if e.Not {
			return nil, nil, sql.Errorf(e.P, ErrUnsupported, "NOT IN (subquery) is not supported yet; write it as LEFT JOIN (SELECT DISTINCT ...) s ON x = s.y WHERE s.y IS NULL (mind NULLs)")
		}
		ref, ok := unparen(e.X).(*sql.ColumnRef)
		if !ok {
			return nil, nil, sql.Errorf(e.X.Position(), ErrUnsupported, "IN (subquery) takes a column on its left; compute %s in a subquery first", sql.FormatExpr(e.X))
		}
		col, err := sc.resolve(ref)
		if err != nil {
			return nil, nil, err
		}
		sub, err := p.query(e.Query)
		if err != nil {
			return nil, nil, err
		}
		sf := sub.Fields()
		if len(sf) != 1 {
			return nil, nil, sql.Errorf(e.Query.P, ErrValidation, "the subquery of IN must return one column, it returns %d", len(sf))
		}
		if !joinKeyCompatible(sc.cols[col].typ, sf[0].Type) {
			return nil, nil, sql.Errorf(e.P, ErrValidation, "IN compares %s with a subquery of %s; CAST one side", sc.cols[col].typ, sf[0].Type)
		}
		in = &InSubquery{Input: in, Sub: sub, Col: col}
	}
	return in, rest, nil
}
