package planner

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// generalMarker plans EXISTS (q) (lhs nil) or lhs IN (q) for a subquery whose correlation is not only
// equalities inner = outer (a condition such as t2.b < t1.b, outer columns in its SELECT list): the
// outer values it uses become a value generator joined with its FROM on its correlated conditions
// (valueMarker). why is the reason the equality-only decorrelation refused it, reported when this one
// cannot plan it either.
func (p *Planner) generalMarker(q *sql.Query, lhs []sql.Expr, base, in Node, sc *scope, why error) (sql.Expr, Node, *scope, error) {
	exists := lhs == nil
	sel, ok := q.Body.(*sql.Select)
	if !ok || sel.From == nil {
		return nil, nil, nil, why
	}
	defer p.pushCTEs(q)()
	var aggs []*sql.FuncCall
	for _, it := range sel.Items {
		if it.Expr != nil {
			collectAggs(it.Expr, &aggs)
		}
	}
	if len(aggs) > 0 || len(sel.GroupBy) > 0 || sel.Having != nil {
		return nil, nil, nil, why
	}
	if q.Limit != nil || q.Offset != nil {
		if !exists || q.Offset != nil || !positiveLimit(q.Limit) {
			return nil, nil, nil, sql.Errorf(sel.P, ErrUnsupported, "a correlated subquery with LIMIT or OFFSET is not supported yet (only EXISTS (... LIMIT n) with n > 0 is); remove the LIMIT, or compute the rows with ROW_NUMBER() in a subquery first")
		}
	}
	from, inner, err := p.from(sel.From)
	if err != nil {
		return nil, nil, nil, err
	}
	if ref := p.deepOuterRef(sel, inner, sc); ref != nil {
		return nil, nil, nil, why
	}
	isOuter := func(ref *sql.ColumnRef) bool {
		if _, _, err := inner.resolvePath(ref); err == nil {
			return false
		}
		_, _, err := sc.resolvePath(ref)
		return err == nil
	}
	// The outer values used: each distinct outer reference (by what it resolves to), then the IN operands.
	var dproj []expr.Expr
	var dnames []string
	var outerCols []int
	index := map[string]int{}
	var outerErr error
	rewrite := func(e sql.Expr) sql.Expr {
		return replaceRefs(e, func(ref *sql.ColumnRef) *sql.ColumnRef {
			if !isOuter(ref) {
				return nil
			}
			col, fields, _ := sc.resolvePath(ref)
			outerCols = append(outerCols, col)
			key := fmt.Sprintf("%d.%s", col, strings.Join(fields, "."))
			i, seen := index[key]
			if !seen {
				x, err := p.b.expr(ref, sc)
				if err != nil {
					outerErr = err
					return nil
				}
				i = len(dproj)
				index[key] = i
				dproj, dnames = append(dproj, x), append(dnames, fmt.Sprintf("$o%d", i))
			}
			return &sql.ColumnRef{P: ref.P, Parts: []string{"$o", dnames[i]}}
		})
	}
	var conds, innerOnly, correlated []sql.Expr
	splitAnd(sel.Where, &conds)
	for _, c := range conds {
		refs := columnRefs(c)
		outer := false
		for _, r := range refs {
			outer = outer || isOuter(r)
		}
		if outer {
			correlated = append(correlated, rewrite(c))
		} else {
			innerOnly = append(innerOnly, c)
		}
	}
	var ys []sql.Expr
	if !exists {
		for _, it := range sel.Items {
			if it.Expr == nil {
				return nil, nil, nil, sql.Errorf(it.P, ErrUnsupported, "SELECT * in a correlated IN subquery is not supported yet; name the column")
			}
			ys = append(ys, rewrite(it.Expr))
		}
		if len(ys) != len(lhs) {
			return nil, nil, nil, sql.Errorf(q.P, ErrValidation, "the subquery of IN must return %d column(s), it returns %d", len(lhs), len(ys))
		}
	}
	if outerErr != nil {
		return nil, nil, nil, outerErr
	}
	nOuter := len(dproj)
	for i, l := range lhs {
		x, err := p.b.expr(l, sc)
		if err != nil {
			return nil, nil, nil, err
		}
		dproj, dnames = append(dproj, x), append(dnames, fmt.Sprintf("$x%d", i))
	}
	// The subquery's FROM with its conditions on its own columns (semi-joins for its own subqueries).
	var where sql.Expr
	for _, c := range innerOnly {
		if where == nil {
			where = c
		} else {
			where = &sql.Binary{P: c.Position(), Op: "AND", L: where, R: c}
		}
	}
	r := from
	if where != nil {
		var rest sql.Expr
		if r, rest, err = p.semiJoins(where, r, inner); err != nil {
			return nil, nil, nil, err
		}
		if rest != nil {
			cond, err := p.b.expr(rest, inner)
			if err != nil {
				return nil, nil, nil, err
			}
			if cond.Type().Kind != types.Boolean && cond.Type().Kind != types.Null {
				return nil, nil, nil, sql.Errorf(rest.Position(), ErrValidation, "WHERE condition must be BOOLEAN, got %s", cond.Type())
			}
			r = &Filter{Input: r, Cond: cond}
		}
	}
	// Equalities outer = inner column are join keys; the other correlated conditions the join condition.
	var lkeys, rkeys []int
	var residual []sql.Expr
	for _, c := range correlated {
		if l, r, ok := keyPair(c, inner, dproj, dnames[:nOuter]); ok {
			lkeys, rkeys = append(lkeys, l), append(rkeys, r)
			continue
		}
		residual = append(residual, c)
	}
	bind := func(comb *scope) (expr.Expr, expr.Expr, error) {
		var res expr.Expr
		for _, c := range residual {
			x, err := p.b.expr(c, comb)
			if err != nil {
				return nil, nil, err
			}
			if x.Type().Kind != types.Boolean && x.Type().Kind != types.Null {
				return nil, nil, sql.Errorf(c.Position(), ErrValidation, "WHERE condition must be BOOLEAN, got %s", x.Type())
			}
			if res == nil {
				res = x
			} else if res, err = expr.Call(p.Env, "AND", res, x); err != nil {
				return nil, nil, err
			}
		}
		if exists {
			return res, nil, nil
		}
		var pairs [][2]expr.Expr
		for i, y := range ys {
			yx, err := p.b.expr(y, comb)
			if err != nil {
				return nil, nil, err
			}
			c := comb.cols[nOuter+i]
			pairs = append(pairs, [2]expr.Expr{expr.Column(nOuter+i, c.name, c.typ), yx})
		}
		inRes, full, err := p.inConditions(q.P, pairs)
		if err != nil {
			return nil, nil, err
		}
		if res == nil {
			return inRes, full, nil
		}
		res, err = expr.Call(p.Env, "AND", res, inRes)
		return res, full, err
	}
	conds2 := func(comb *scope, rOff int) (expr.Expr, expr.Expr, error) { return bind(comb) }
	n, nsc, res, err := p.valueMarker(q.P, valueBase(base, in, sc, lhs, outerCols), in, sc, dproj, dnames, r, inner.cols, lkeys, rkeys, conds2)
	if err != nil {
		return nil, nil, nil, err
	}
	return res, n, nsc, nil
}

// keyPair recognizes a correlated condition `$o.$oN = inner column` (either way round) whose types can be
// join keys: the D column and the inner column.
func keyPair(c sql.Expr, inner *scope, dproj []expr.Expr, dnames []string) (int, int, bool) {
	b, ok := unparen(c).(*sql.Binary)
	if !ok || b.Op != "=" {
		return 0, 0, false
	}
	l, r := unparen(b.L), unparen(b.R)
	for _, side := range [][2]sql.Expr{{l, r}, {r, l}} {
		o, ok1 := side[0].(*sql.ColumnRef)
		i, ok2 := side[1].(*sql.ColumnRef)
		if !ok1 || !ok2 || len(o.Parts) != 2 || o.Parts[0] != "$o" {
			continue
		}
		col, fields, err := inner.resolvePath(i)
		if err != nil || len(fields) > 0 {
			continue
		}
		for d, name := range dnames {
			if name == o.Parts[1] && joinKeyCompatible(dproj[d].Type(), inner.cols[col].typ) {
				return d, col, true
			}
		}
	}
	return 0, 0, false
}

// replaceRefs copies e with each column reference for which fn returns a replacement replaced, in every
// kind of expression (not inside nested queries, which have their own scope). Unchanged parts are shared.
func replaceRefs(e sql.Expr, fn func(*sql.ColumnRef) *sql.ColumnRef) sql.Expr {
	if e == nil {
		return nil
	}
	v, changed := replaceValue(reflect.ValueOf(e), fn)
	if !changed {
		return e
	}
	return v.Interface().(sql.Expr)
}

func replaceValue(v reflect.Value, fn func(*sql.ColumnRef) *sql.ColumnRef) (reflect.Value, bool) {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return v, false
		}
		nv, changed := replaceValue(v.Elem(), fn)
		if !changed {
			return v, false
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(nv)
		return out, true
	case reflect.Pointer:
		if v.IsNil() {
			return v, false
		}
		switch x := v.Interface().(type) {
		case *sql.ColumnRef:
			if r := fn(x); r != nil {
				return reflect.ValueOf(r), true
			}
			return v, false
		case *sql.Query:
			return v, false
		}
		if v.Elem().Kind() != reflect.Struct {
			return v, false
		}
		nv, changed := replaceValue(v.Elem(), fn)
		if !changed {
			return v, false
		}
		out := reflect.New(v.Elem().Type())
		out.Elem().Set(nv)
		return out, true
	case reflect.Struct:
		var out reflect.Value
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			nf, changed := replaceValue(v.Field(i), fn)
			if !changed {
				continue
			}
			if !out.IsValid() {
				out = reflect.New(v.Type()).Elem()
				out.Set(v)
			}
			out.Field(i).Set(nf)
		}
		if !out.IsValid() {
			return v, false
		}
		return out, true
	case reflect.Slice:
		var out reflect.Value
		for i := 0; i < v.Len(); i++ {
			ne, changed := replaceValue(v.Index(i), fn)
			if !changed {
				continue
			}
			if !out.IsValid() {
				out = reflect.MakeSlice(v.Type(), v.Len(), v.Len())
				reflect.Copy(out, v)
			}
			out.Index(i).Set(ne)
		}
		if !out.IsValid() {
			return v, false
		}
		return out, true
	}
	return v, false
}

// rewriteGlobalAggSubqueries rewrites the correlated subqueries whose body is one global aggregate
// (SELECT AGG(x) FROM ... WHERE inner = outer, no GROUP BY or HAVING), which return exactly one row for
// every outer row: EXISTS is TRUE (NOT EXISTS FALSE), and x [NOT] IN (SELECT AGG(y) ...) is x = (NOT IN:
// <>) the scalar subquery, which scalarSubqueries decorrelates (an empty group's COUNT is 0).
func (p *Planner) rewriteGlobalAggSubqueries(e sql.Expr, sc *scope) sql.Expr {
	global := func(q *sql.Query) (*sql.Select, bool) {
		sel, ok := q.Body.(*sql.Select)
		if !ok || sel.From == nil || len(sel.GroupBy) > 0 || sel.Having != nil || q.Limit != nil || q.Offset != nil || len(sel.Items) == 0 {
			return nil, false
		}
		for _, it := range sel.Items {
			if it.Expr == nil {
				return nil, false
			}
			var aggs []*sql.FuncCall
			collectAggs(it.Expr, &aggs)
			if len(aggs) == 0 {
				return nil, false
			}
		}
		return sel, len(p.outerRefsIn(sel, sc, sel.Where)) > 0
	}
	return rewriteExpr(e, func(x sql.Expr) (sql.Expr, bool) {
		switch y := x.(type) {
		case *sql.Exists:
			if _, ok := global(y.Query); ok {
				return boolLit(y.P, true), true
			}
		case *sql.In:
			if y.Query == nil {
				return x, false
			}
			if row, ok := unparen(y.X).(*sql.Constructor); ok && row.Kind == "ROW" {
				return x, false
			}
			if sel, ok := global(y.Query); ok && len(sel.Items) == 1 {
				op := "="
				if y.Not {
					op = "<>"
				}
				return &sql.Binary{P: y.P, Op: op, L: y.X, R: &sql.SubqueryExpr{P: y.Query.P, Query: y.Query}}, true
			}
		}
		return x, false
	})
}

// rewriteGlobalAggs applies rewriteGlobalAggSubqueries to s's WHERE clause and SELECT list.
func (p *Planner) rewriteGlobalAggs(s *sql.Select, sc *scope) *sql.Select {
	ss := *s
	ss.Where = p.rewriteGlobalAggSubqueries(s.Where, sc)
	ss.Items = nil
	for i, it := range s.Items {
		c := *it
		if it.Expr != nil {
			c.Expr = p.rewriteGlobalAggSubqueries(it.Expr, sc)
			if c.Expr != it.Expr && c.Alias == "" {
				c.Alias = exprName(it.Expr, i)
			}
		}
		ss.Items = append(ss.Items, &c)
	}
	return &ss
}

// isAggregating reports whether s groups or aggregates.
func isAggregating(s *sql.Select) bool {
	if len(s.GroupBy) > 0 || s.Having != nil {
		return true
	}
	for _, it := range s.Items {
		var aggs []*sql.FuncCall
		collectAggs(it.Expr, &aggs)
		if len(aggs) > 0 {
			return true
		}
	}
	return false
}
