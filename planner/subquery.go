package planner

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// semiJoins binds the subquery conjuncts of where over in and returns the remaining condition (nil when
// none): `x IN (SELECT y ...)` becomes an InSubquery node (a semi-join, subquery_rewrite); `[NOT] EXISTS
// (...)`, `x NOT IN (SELECT y ...)` and `(a, b) IN (SELECT c, d ...)` become SubqueryJoin nodes
// (rule_subquery_join.go). A correlated EXISTS / IN subquery is decorrelated here, as Calcite's
// SubQueryRemoveRule with its decorrelator does for equality correlations: the conjuncts `inner = outer`
// of the subquery's WHERE become join keys (see correlate).
func (p *Planner) semiJoins(where sql.Expr, in Node, sc *scope) (Node, sql.Expr, error) {
	var conds []sql.Expr
	splitAnd(where, &conds)
	var rest sql.Expr
	keep := func(c sql.Expr) {
		if rest == nil {
			rest = c
		} else {
			rest = &sql.Binary{P: c.Position(), Op: "AND", L: rest, R: c}
		}
	}
	for _, c := range conds {
		var err error
		var outerOnly []sql.Expr
		var n Node
		switch e := unparen(c).(type) {
		case *sql.Exists:
			n, outerOnly, err = p.existsJoin(e.Query, in, sc, false)
		case *sql.Unary:
			x, ok := unparen(e.X).(*sql.Exists)
			if e.Op != "NOT" || !ok {
				keep(c)
				continue
			}
			n, outerOnly, err = p.existsJoin(x.Query, in, sc, true)
		case *sql.In:
			if e.Query == nil {
				keep(c)
				continue
			}
			n, outerOnly, err = p.inSubquery(e, in, sc)
		default:
			keep(c)
			continue
		}
		if errors.Is(err, ErrUnsupported) {
			// Not a semi- or anti-join (a correlation that is not an equality, row-valued NOT IN, ...):
			// markSubqueries plans it with a marker join, or says why not.
			keep(c)
			continue
		}
		if err != nil {
			return nil, nil, p.outerRefError(err, subqueryOf(c), sc)
		}
		in = n
		// Conditions of the subquery on outer columns only are conditions of the outer row.
		for _, o := range outerOnly {
			keep(o)
		}
	}
	return in, rest, nil
}

// inSubquery binds `x [NOT] IN (SELECT ...)` and `(a, b) [NOT] IN (SELECT c, d ...)`.
func (p *Planner) inSubquery(e *sql.In, in Node, sc *scope) (Node, []sql.Expr, error) {
	var lhs []sql.Expr
	if row, ok := unparen(e.X).(*sql.Constructor); ok && row.Kind == "ROW" {
		lhs = row.Elems
	} else {
		lhs = []sql.Expr{e.X}
	}
	var cols []int
	for _, x := range lhs {
		ref, ok := unparen(x).(*sql.ColumnRef)
		if !ok {
			return nil, nil, sql.Errorf(x.Position(), ErrUnsupported, "IN (subquery) takes columns on its left; compute %s in a subquery first", sql.FormatExpr(x))
		}
		col, err := sc.resolve(ref)
		if err != nil {
			return nil, nil, err
		}
		cols = append(cols, col)
	}
	if e.Not && len(cols) > 1 {
		return nil, nil, sql.Errorf(e.P, ErrUnsupported, "row-valued NOT IN (subquery) is not supported yet; write NOT EXISTS (SELECT ... WHERE c = a AND d = b) (mind NULLs)")
	}
	corr, outerOnly, subQ, err := p.correlate(e.Query, sc, !e.Not, false)
	if err != nil {
		return nil, nil, err
	}
	sub, err := p.query(subQ)
	if err != nil {
		return nil, nil, err
	}
	sf := sub.Fields()
	if len(sf)-len(corr) != len(cols) {
		return nil, nil, sql.Errorf(e.Query.P, ErrValidation, "the subquery of IN must return %d column(s), it returns %d", len(cols), len(sf)-len(corr))
	}
	for i, c := range cols {
		if !joinKeyCompatible(sc.cols[c].typ, sf[i].Type) {
			return nil, nil, sql.Errorf(e.P, ErrValidation, "IN compares %s with a subquery of %s; CAST one side", sc.cols[c].typ, sf[i].Type)
		}
	}
	if len(cols) == 1 && len(corr) == 0 && !e.Not {
		return &InSubquery{Input: in, Sub: sub, Col: cols[0]}, outerOnly, nil
	}
	kind := SubqueryExists
	if e.Not {
		kind = SubqueryNotIn
	}
	keys := append(append([]int{}, cols...), corrCols(corr)...)
	for i, k := range corr {
		if !joinKeyCompatible(sc.cols[k.outer].typ, sf[len(cols)+i].Type) {
			return nil, nil, sql.Errorf(k.pos, ErrValidation, "the correlation compares %s with %s; CAST one side", sc.cols[k.outer].typ, sf[len(cols)+i].Type)
		}
	}
	return &SubqueryJoin{Input: in, Sub: sub, Kind: kind, Keys: keys, Pos: e.P}, outerOnly, nil
}

// existsJoin binds `[NOT] EXISTS (subquery)`.
func (p *Planner) existsJoin(q *sql.Query, in Node, sc *scope, not bool) (Node, []sql.Expr, error) {
	corr, outerOnly, subQ, err := p.correlate(q, sc, !not, true)
	if err != nil {
		return nil, nil, err
	}
	// Only the correlation columns matter: SELECT them (or a constant when there are none).
	var qq *sql.Query
	if len(corr) == 0 {
		item := &sql.SelectItem{P: q.P, Expr: &sql.Literal{P: q.P, Kind: sql.LitBool, Text: "TRUE", Bool: true}}
		// subQ: q without the conjuncts on outer columns only (they are conditions of the outer row).
		qq = &sql.Query{P: q.P, Body: &sql.Select{P: q.P, Items: []*sql.SelectItem{item}, From: &sql.Subquery{P: q.P, Query: subQ, Alias: "$exists"}}}
	} else {
		body := *subQ.Body.(*sql.Select)
		body.Items = body.Items[len(body.Items)-len(corr):]
		qq = &sql.Query{P: subQ.P, With: subQ.With, Body: &body}
	}
	sub, err := p.query(qq)
	if err != nil {
		return nil, nil, err
	}
	sf := sub.Fields()
	for i, k := range corr {
		if !joinKeyCompatible(sc.cols[k.outer].typ, sf[i].Type) {
			return nil, nil, sql.Errorf(k.pos, ErrValidation, "the correlation compares %s with %s; CAST one side", sc.cols[k.outer].typ, sf[i].Type)
		}
	}
	kind := SubqueryExists
	if not {
		kind = SubqueryNotExists
	}
	return &SubqueryJoin{Input: in, Sub: sub, Kind: kind, Keys: corrCols(corr), Pos: q.P}, outerOnly, nil
}

// correlation is one correlated equality `inner = outer` of a subquery's WHERE: outer is the column of the
// enclosing scope; the inner side is appended to the subquery's SELECT list.
type correlation struct {
	outer int
	pos   sql.Pos
}

func corrCols(cs []correlation) []int {
	var out []int
	for _, c := range cs {
		out = append(out, c.outer)
	}
	return out
}

// correlate finds the references of subquery q to the enclosing scope outer (names that its own FROM does
// not resolve, as SQL resolves the innermost scope first). The WHERE conjuncts `inner = outer.col` are
// removed and their inner sides appended to the SELECT list, in order; the returned query is then
// uncorrelated. Any other correlated reference gets a positioned "not supported yet".
//
// Conjuncts that refer only to outer columns (`EXISTS (SELECT ... WHERE k = o.k AND o.x > 1)`) are returned
// in outerOnly when allowOuterOnly (EXISTS and IN, where they are conditions of the outer row); else they
// are refused.
func (p *Planner) correlate(q *sql.Query, outer *scope, allowOuterOnly, exists bool) (corr []correlation, outerOnly []sql.Expr, _ *sql.Query, _ error) {
	sel, ok := q.Body.(*sql.Select)
	if !ok || sel.From == nil {
		return nil, nil, q, nil
	}
	defer p.pushCTEs(q)()
	_, inner, err := p.from(sel.From)
	if err != nil {
		return nil, nil, q, nil // binding the subquery reports it
	}
	if ref := p.deepOuterRef(sel, inner, outer); ref != nil {
		return nil, nil, nil, sql.Errorf(ref.P, ErrUnsupported, "a reference to the outer column %s from a subquery nested inside another subquery is not supported yet: Sluice decorrelates one level; compare with a column of the enclosing subquery instead (join the table there), or move the condition up one level",
			sql.JoinIdents(ref.Parts))
	}
	isOuter := func(ref *sql.ColumnRef) bool {
		if _, _, err := inner.resolvePath(ref); err == nil {
			return false
		}
		_, _, err := outer.resolvePath(ref)
		return err == nil
	}
	innerRefs := 0
	outerRefs := func(e sql.Expr) []*sql.ColumnRef {
		var refs []*sql.ColumnRef
		innerRefs = 0
		for _, r := range columnRefs(e) {
			if isOuter(r) {
				refs = append(refs, r)
			} else {
				innerRefs++
			}
		}
		return refs
	}
	var conds []sql.Expr
	splitAnd(sel.Where, &conds)
	var innerExprs []sql.Expr
	var kept sql.Expr
	for _, c := range conds {
		refs := outerRefs(c)
		if len(refs) == 0 {
			if kept == nil {
				kept = c
			} else {
				kept = &sql.Binary{P: c.Position(), Op: "AND", L: kept, R: c}
			}
			continue
		}
		if innerRefs == 0 && allowOuterOnly {
			outerOnly = append(outerOnly, c)
			continue
		}
		b, ok := unparen(c).(*sql.Binary)
		if ok && b.Op == "=" {
			l, r := unparen(b.L), unparen(b.R)
			if ref, ok := r.(*sql.ColumnRef); ok && isOuter(ref) && len(outerRefs(l)) == 0 {
				col, err := outer.resolve(ref)
				if err != nil {
					return nil, nil, nil, err
				}
				corr = append(corr, correlation{outer: col, pos: b.P})
				innerExprs = append(innerExprs, l)
				continue
			}
			if ref, ok := l.(*sql.ColumnRef); ok && isOuter(ref) && len(outerRefs(r)) == 0 {
				col, err := outer.resolve(ref)
				if err != nil {
					return nil, nil, nil, err
				}
				corr = append(corr, correlation{outer: col, pos: b.P})
				innerExprs = append(innerExprs, r)
				continue
			}
		}
		return nil, nil, nil, sql.Errorf(refs[0].P, ErrUnsupported, "the correlated condition %s is not supported yet here: a scalar subquery, or one with an aggregate, GROUP BY, HAVING or LIMIT, may refer to the outer column %s only in equalities inner = outer of its WHERE clause",
			sql.FormatExpr(c), sql.JoinIdents(refs[0].Parts))
	}
	itemsOuter := false
	for _, it := range sel.Items {
		if it.Expr == nil {
			continue
		}
		if refs := outerRefs(it.Expr); len(refs) > 0 {
			if !exists {
				return nil, nil, nil, sql.Errorf(refs[0].P, ErrUnsupported, "a reference to the outer column %s in the SELECT list of a subquery is not supported yet", sql.JoinIdents(refs[0].Parts))
			}
			itemsOuter = true
		}
	}
	for _, g := range append(append([]sql.Expr{}, sel.GroupBy...), sel.Having) {
		if g == nil {
			continue
		}
		if refs := outerRefs(g); len(refs) > 0 {
			return nil, nil, nil, sql.Errorf(refs[0].P, ErrUnsupported, "a reference to the outer column %s in GROUP BY or HAVING of a subquery is not supported yet", sql.JoinIdents(refs[0].Parts))
		}
	}
	if len(corr) == 0 && len(outerOnly) == 0 && !itemsOuter {
		return nil, nil, q, nil
	}
	var aggs []*sql.FuncCall
	for _, it := range sel.Items {
		if it.Expr != nil {
			collectAggs(it.Expr, &aggs)
		}
	}
	pos := sel.P
	if len(corr) > 0 {
		pos = corr[0].pos
	}
	if q.Limit != nil || q.Offset != nil {
		// LIMIT n (n > 0) does not change whether a row exists; elsewhere it would pick rows per outer row.
		if !exists || q.Offset != nil || !positiveLimit(q.Limit) {
			return nil, nil, nil, sql.Errorf(pos, ErrUnsupported, "a correlated subquery with LIMIT or OFFSET is not supported yet (only EXISTS (... LIMIT n) with n > 0 is); remove the LIMIT, or compute the rows with ROW_NUMBER() in a subquery first")
		}
	}
	for _, g := range sel.GroupBy {
		if _, ok := g.(*sql.GroupingSets); ok {
			// An empty grouping set returns a row for an empty group, which grouping by the correlation loses.
			return nil, nil, nil, sql.Errorf(pos, ErrUnsupported, "a correlated subquery with GROUPING SETS, ROLLUP, CUBE or GROUP BY () is not supported yet; group by columns only")
		}
	}
	if len(sel.GroupBy) == 0 && (len(aggs) > 0 || sel.Having != nil) {
		// A global aggregate returns one row even for an empty group, which grouping by the correlation
		// cannot express: scalar subqueries, EXISTS and IN with one aggregate are rewritten before
		// (rewriteGlobalAggSubqueries); the rest is refused.
		return nil, nil, nil, sql.Errorf(pos, ErrUnsupported, "a correlated subquery with an aggregate and no GROUP BY is not supported yet here (it is as a scalar subquery, in EXISTS, and as IN (SELECT AGG(x) ...) without HAVING); group by the correlated column instead")
	}
	s := *sel
	s.Where = kept
	s.Items = append([]*sql.SelectItem{}, sel.Items...)
	if exists && itemsOuter {
		// EXISTS does not read its SELECT list.
		s.Items = []*sql.SelectItem{{P: sel.P, Expr: boolLit(sel.P, true)}}
	}
	for i, x := range innerExprs {
		s.Items = append(s.Items, &sql.SelectItem{P: x.Position(), Expr: x, Alias: fmt.Sprintf("$corr%d", i)})
	}
	if len(sel.GroupBy) > 0 {
		// Decorrelated as Calcite does: grouped by the correlation columns too, one group set per outer value.
		s.GroupBy = append(append([]sql.Expr{}, sel.GroupBy...), innerExprs...)
	}
	qq := *q
	qq.Body = &s
	// ORDER BY without LIMIT does not change a subquery's rows; a LIMIT left here is EXISTS's LIMIT n.
	qq.OrderBy, qq.Limit = nil, nil
	return corr, outerOnly, &qq, nil
}

// scalarSubqueries plans the scalar subqueries of the WHERE clause and SELECT list of s as left joins of in
// with the subquery, decorrelated as Calcite does: `(SELECT AGG(y) FROM t2 WHERE t2.k = t1.k)` becomes a
// join on t1.k with `SELECT AGG(y), t2.k FROM t2 GROUP BY t2.k`; an uncorrelated one joins on a constant
// key. Each subquery is replaced by a reference to the joined column ($scalarN, hidden from *); a COUNT
// becomes COALESCE(column, 0), as a count of no rows is 0. Only single-aggregate subqueries without GROUP
// BY are supported (they return at most one row, so Flink's "more than one row" runtime error cannot
// happen); others get a positioned "not supported yet".
func (p *Planner) scalarSubqueries(s *sql.Select, in Node, sc *scope) (*sql.Select, Node, *scope, error) {
	var firstErr error
	isAgg := len(s.GroupBy) > 0
	for _, it := range s.Items {
		if it.Expr != nil {
			var aggs []*sql.FuncCall
			collectAggs(it.Expr, &aggs)
			isAgg = isAgg || len(aggs) > 0
		}
	}
	replace := func(e sql.Expr, inItems bool) sql.Expr {
		return rewriteExpr(e, func(x sql.Expr) (sql.Expr, bool) {
			sq, ok := x.(*sql.SubqueryExpr)
			if !ok || firstErr != nil {
				return x, false
			}
			if inItems && isAgg {
				firstErr = sql.Errorf(sq.P, ErrUnsupported, "a scalar subquery in the SELECT list of an aggregating query is not supported yet; compute it in WHERE or a subquery")
				return x, true
			}
			ref, n, nsc, err := p.scalarJoin(sq, in, sc)
			if err != nil {
				firstErr = p.outerRefError(err, sq.Query, sc)
				return x, true
			}
			in, sc = n, nsc
			return ref, true
		})
	}
	ss := rewriteWhereAndItems(s, replace)
	if firstErr != nil {
		return nil, nil, nil, firstErr
	}
	return ss, in, sc, nil
}

// scalarJoin joins in with one scalar subquery and returns the expression that replaces it.
func (p *Planner) scalarJoin(sq *sql.SubqueryExpr, in Node, sc *scope) (sql.Expr, Node, *scope, error) {
	sel, ok := sq.Query.Body.(*sql.Select)
	var aggs []*sql.FuncCall
	if ok && len(sel.Items) == 1 && sel.Items[0].Expr != nil {
		collectAggs(sel.Items[0].Expr, &aggs)
	}
	if !ok || len(aggs) == 0 || len(sel.GroupBy) > 0 || len(sq.Query.OrderBy) > 0 || sq.Query.Limit != nil || sq.Query.Offset != nil || sel.Distinct {
		return nil, nil, nil, sql.Errorf(sq.P, ErrUnsupported, "scalar subqueries other than one aggregate without GROUP BY (SELECT AGG(x) FROM ... WHERE ...) are not supported yet; join with the subquery instead")
	}
	// Decorrelate: the correlations are equalities; the aggregate's WHERE keeps the rest.
	noAgg := *sel
	noAgg.Items = []*sql.SelectItem{{P: sel.P, Expr: &sql.Literal{P: sel.P, Kind: sql.LitBool, Text: "TRUE", Bool: true}}}
	nq := *sq.Query
	nq.Body = &noAgg
	corr, _, decor, err := p.correlate(&nq, sc, false, false)
	if err != nil {
		return nil, nil, nil, err
	}
	if refs := p.outerRefsIn(sel, sc, sel.Items[0].Expr); len(refs) > 0 {
		return nil, nil, nil, sql.Errorf(refs[0].P, ErrUnsupported, "a reference to the outer column %s in the SELECT list of a subquery is not supported yet", sql.JoinIdents(refs[0].Parts))
	}
	name := fmt.Sprintf("$scalar%d", len(sc.cols))
	body := *sel
	body.Where = decor.Body.(*sql.Select).Where
	body.Items = []*sql.SelectItem{{P: sel.Items[0].P, Expr: sel.Items[0].Expr, Alias: name}}
	left := in
	var lkeys []int
	if len(corr) == 0 {
		// A constant key on both sides.
		body.Items = append(body.Items, &sql.SelectItem{P: sel.P, Expr: &sql.Literal{P: sel.P, Kind: sql.LitBool, Text: "TRUE", Bool: true}, Alias: "$k"})
		fs := in.Fields()
		boolT := types.BooleanType().WithNullable(false)
		left = &Calc{Input: in, Projects: append(identity(fs), expr.Literal(types.BoolValue(true), boolT)), Out: append(append([]Field{}, fs...), Field{Name: "$k", Type: boolT})}
		lkeys = []int{len(fs)}
	} else {
		for i, it := range decor.Body.(*sql.Select).Items[1:] {
			body.Items = append(body.Items, it)
			body.GroupBy = append(body.GroupBy, it.Expr)
			lkeys = append(lkeys, corr[i].outer)
		}
	}
	sub, err := p.query(&sql.Query{P: sq.Query.P, With: sq.Query.With, Body: &body})
	if err != nil {
		return nil, nil, nil, err
	}
	sf := sub.Fields()
	for i, k := range lkeys {
		if !joinKeyCompatible(left.Fields()[k].Type, sf[i+1].Type) {
			return nil, nil, nil, sql.Errorf(sq.P, ErrValidation, "the correlation compares %s with %s; CAST one side", left.Fields()[k].Type, sf[i+1].Type)
		}
	}
	rkeys := make([]int, len(lkeys))
	for i := range rkeys {
		rkeys[i] = i + 1
	}
	j := &Join{Left: left, Right: sub, Type: exec.LeftJoin, LeftKeys: lkeys, RightKeys: rkeys, Out: joinFields(left, sub, true)}
	nsc := &scope{cols: append([]scopeCol{}, sc.cols...), agg: sc.agg}
	for _, f := range j.Out[len(sc.cols):] {
		nsc.cols = append(nsc.cols, scopeCol{name: f.Name, typ: f.Type})
	}
	col := j.Out[len(left.Fields())]
	var ref sql.Expr = &sql.ColumnRef{P: sq.P, Parts: []string{col.Name}}
	if f, ok := unparen(sel.Items[0].Expr).(*sql.FuncCall); ok && strings.EqualFold(f.Name, "COUNT") && f.Over == nil {
		ref = &sql.FuncCall{P: sq.P, Name: "COALESCE", Args: []sql.Expr{ref, &sql.Literal{P: sq.P, Kind: sql.LitInteger, Text: "0"}}}
	}
	return ref, j, nsc, nil
}

// outerRefsIn lists the references of e (an expression of subquery sel) to the enclosing scope outer.
func (p *Planner) outerRefsIn(sel *sql.Select, outer *scope, e sql.Expr) []*sql.ColumnRef {
	if sel.From == nil {
		return nil
	}
	_, inner, err := p.from(sel.From)
	if err != nil {
		return nil
	}
	var refs []*sql.ColumnRef
	for _, r := range columnRefs(e) {
		if _, _, err := inner.resolvePath(r); err != nil {
			if _, _, err := outer.resolvePath(r); err == nil {
				refs = append(refs, r)
			}
		}
	}
	return refs
}

// columnRefs lists the column references in e, in every kind of expression (LIKE, BETWEEN, IN lists, ...)
// but not inside nested queries (they have their own scope).
func columnRefs(e sql.Expr) []*sql.ColumnRef {
	refs, _ := exprParts(e)
	return refs
}

// exprParts walks e and returns its column references and the queries directly inside it (not descending
// into those queries, which have their own scope).
func exprParts(e sql.Expr) (refs []*sql.ColumnRef, queries []*sql.Query) {
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if v.IsNil() {
				return
			}
			switch x := v.Interface().(type) {
			case *sql.ColumnRef:
				refs = append(refs, x)
				return
			case *sql.Query:
				queries = append(queries, x)
				return
			}
			walk(v.Elem())
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		}
	}
	if e != nil {
		walk(reflect.ValueOf(e))
	}
	return refs, queries
}

// positiveLimit reports whether limit is an integer literal above 0.
func positiveLimit(limit sql.Expr) bool {
	l, ok := unparen(limit).(*sql.Literal)
	if !ok || l.Kind != sql.LitInteger {
		return false
	}
	n, err := strconv.ParseInt(l.Text, 10, 64)
	return err == nil && n > 0
}

// rewriteWhereAndItems returns a copy of s whose WHERE and SELECT items went through replace (inItems tells
// which); an item whose expression changed and had no alias keeps its original name.
func rewriteWhereAndItems(s *sql.Select, replace func(e sql.Expr, inItems bool) sql.Expr) *sql.Select {
	ss := *s
	ss.Where = replace(s.Where, false)
	ss.Items = nil
	for i, it := range s.Items {
		if it.Expr == nil {
			ss.Items = append(ss.Items, it)
			continue
		}
		c := *it
		c.Expr = replace(it.Expr, true)
		if c.Expr != it.Expr && c.Alias == "" {
			c.Alias = exprName(it.Expr, i)
		}
		ss.Items = append(ss.Items, &c)
	}
	return &ss
}
