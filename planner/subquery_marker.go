package planner

import (
	"errors"
	"fmt"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Subquery predicates that are not conjuncts of WHERE (inside OR, under NOT, in CASE, in the SELECT list),
// and conjuncts that semiJoins cannot make a semi- or anti-join (a correlation that is not an equality,
// row-valued NOT IN, an expression on the left of IN), are planned as Calcite's SubQueryRemoveRule does
// for them: the input is LEFT joined with a "marker" relation and the predicate becomes a test of the
// marker's columns, in SQL's three-valued logic:
//
//	EXISTS            the subquery's distinct correlation values and TRUE: EXISTS is `$m IS NOT NULL`
//	x IN (SELECT y)   the distinct (y, correlation) values and TRUE, and the subquery's row counts per
//	                  correlation ($n = COUNT(*), $nn = COUNT(y)): TRUE when matched, FALSE when the
//	                  subquery is empty, NULL when x is NULL or the subquery has a NULL, else FALSE
//	other forms       a value generator, as Calcite's RelDecorrelator: the distinct values of the outer
//	                  expressions the subquery uses (D) joined with the subquery's FROM on its correlated
//	                  conditions (equalities as keys, the rest as the join condition); counted per D row
//	                  ($n: rows, $nfull: rows where every (x, y) pair is equal) and joined back on D's
//	                  values (NULL matching NULL). IN's join keeps the rows where each pair is equal or
//	                  NULL, so a row with $n > 0 and $nfull = 0 makes IN NULL.
//
// NOT IN is NOT of IN. All the joins and aggregates retract, so updating inputs stay correct in streaming
// mode.

// markSubqueries replaces the EXISTS and IN (subquery) predicates left in s's WHERE clause and SELECT list
// by tests of marker columns joined to in. In an aggregating query the SELECT list's are refused.
func (p *Planner) markSubqueries(s *sql.Select, in Node, sc *scope, isAgg bool) (*sql.Select, Node, *scope, error) {
	var firstErr error
	// Value generators read the outer values from the input before any marker join (else each marker would
	// copy the plan of the ones before it twice).
	base := in
	replace := func(e sql.Expr, inItems bool) sql.Expr {
		return rewriteExpr(e, func(x sql.Expr) (sql.Expr, bool) {
			if firstErr != nil {
				return x, false
			}
			var r sql.Expr
			var err error
			n, nsc := in, sc
			switch y := x.(type) {
			case *sql.Exists:
				if inItems && isAgg {
					err = sql.Errorf(y.P, ErrUnsupported, "EXISTS (subquery) in the SELECT list of an aggregating query is not supported yet; compute it in a subquery first")
					break
				}
				r, n, nsc, err = p.markExists(y, base, in, sc)
			case *sql.In:
				if y.Query == nil {
					return x, false
				}
				if inItems && isAgg {
					err = sql.Errorf(y.P, ErrUnsupported, "IN (subquery) in the SELECT list of an aggregating query is not supported yet; compute it in a subquery first")
					break
				}
				r, n, nsc, err = p.markIn(y, base, in, sc)
			default:
				return x, false
			}
			if err != nil {
				firstErr = p.outerRefError(err, subqueryOf(x), sc)
				return x, true
			}
			in, sc = n, nsc
			return r, true
		})
	}
	ss := rewriteWhereAndItems(s, replace)
	if firstErr != nil {
		return nil, nil, nil, firstErr
	}
	return ss, in, sc, nil
}

// hasSubqueryPredicate reports whether e has an EXISTS or IN (subquery) outside nested queries.
func hasSubqueryPredicate(e sql.Expr) bool {
	found := false
	rewriteExpr(e, func(x sql.Expr) (sql.Expr, bool) {
		switch y := x.(type) {
		case *sql.Exists:
			found = true
			return x, true
		case *sql.In:
			if y.Query != nil {
				found = true
				return x, true
			}
		}
		return x, false
	})
	return found
}

// existsQuery is the query whose rows decide an EXISTS: its correlation columns (subQ's last len(corr)
// columns), or a constant when it has none.
func existsQuery(subQ *sql.Query, corr []correlation) *sql.Query {
	if len(corr) == 0 {
		item := &sql.SelectItem{P: subQ.P, Expr: &sql.Literal{P: subQ.P, Kind: sql.LitBool, Text: "TRUE", Bool: true}}
		return &sql.Query{P: subQ.P, Body: &sql.Select{P: subQ.P, Items: []*sql.SelectItem{item}, From: &sql.Subquery{P: subQ.P, Query: subQ, Alias: "$exists"}}}
	}
	body := *subQ.Body.(*sql.Select)
	body.Items = body.Items[len(body.Items)-len(corr):]
	return &sql.Query{P: subQ.P, With: subQ.With, Body: &body}
}

// markExists plans EXISTS (q) as a marker join.
func (p *Planner) markExists(e *sql.Exists, base, in Node, sc *scope) (sql.Expr, Node, *scope, error) {
	corr, outerOnly, subQ, err := p.correlate(e.Query, sc, true, true)
	if err != nil {
		if !errors.Is(err, ErrUnsupported) {
			return nil, nil, nil, err
		}
		return p.generalMarker(e.Query, nil, base, in, sc, err)
	}
	sub, err := p.query(existsQuery(subQ, corr))
	if err != nil {
		return nil, nil, nil, err
	}
	sf := sub.Fields()
	for i, k := range corr {
		if !joinKeyCompatible(sc.cols[k.outer].typ, sf[i].Type) {
			return nil, nil, nil, sql.Errorf(k.pos, ErrValidation, "the correlation compares %s with %s; CAST one side", sc.cols[k.outer].typ, sf[i].Type)
		}
	}
	m := marked(distinctOf(sub), trueLit())
	left, lkeys := in, corrCols(corr)
	if len(lkeys) == 0 {
		left, lkeys = withConst(in), []int{len(in.Fields())}
	}
	j := &Join{Left: left, Right: m, Type: exec.LeftJoin, LeftKeys: lkeys, RightKeys: seq(len(lkeys)), Out: joinFields(left, m, true)}
	r := isNotNull(e.P, j.Out[len(j.Out)-1].Name)
	return withOuterOnly(r, outerOnly), j, extendScope(sc, j.Out), nil
}

// markIn plans x [NOT] IN (q) and (a, b) [NOT] IN (q) as marker joins.
func (p *Planner) markIn(e *sql.In, base, in Node, sc *scope) (sql.Expr, Node, *scope, error) {
	lhs := []sql.Expr{e.X}
	if row, ok := unparen(e.X).(*sql.Constructor); ok && row.Kind == "ROW" {
		lhs = row.Elems
	}
	corr, outerOnly, subQ, err := p.correlate(e.Query, sc, true, false)
	if err != nil {
		if !errors.Is(err, ErrUnsupported) {
			return nil, nil, nil, err
		}
		r, n, nsc, err := p.generalMarker(e.Query, lhs, base, in, sc, err)
		return not(e, r), n, nsc, err
	}
	sub, err := p.query(subQ)
	if err != nil {
		return nil, nil, nil, err
	}
	sf := sub.Fields()
	if len(sf)-len(corr) != len(lhs) {
		return nil, nil, nil, sql.Errorf(e.Query.P, ErrValidation, "the subquery of IN must return %d column(s), it returns %d", len(lhs), len(sf)-len(corr))
	}
	var xs []expr.Expr
	for i, l := range lhs {
		x, err := p.b.expr(l, sc)
		if err != nil {
			return nil, nil, nil, err
		}
		if !joinKeyCompatible(x.Type(), sf[i].Type) {
			return nil, nil, nil, sql.Errorf(e.P, ErrValidation, "IN compares %s with a subquery of %s; CAST one side", x.Type(), sf[i].Type)
		}
		xs = append(xs, x)
	}
	for i, k := range corr {
		if !joinKeyCompatible(sc.cols[k.outer].typ, sf[len(lhs)+i].Type) {
			return nil, nil, nil, sql.Errorf(k.pos, ErrValidation, "the correlation compares %s with %s; CAST one side", sc.cols[k.outer].typ, sf[len(lhs)+i].Type)
		}
	}
	var r sql.Expr
	var n Node
	var nsc *scope
	if len(lhs) == 1 {
		r, n, nsc = p.markInSingle(e.P, xs[0], sub, corr, in, sc)
	} else {
		// Row-valued: a value generator over (correlation values, x...), joined with the subquery on the
		// correlation; the join condition keeps the rows that may match.
		fields := in.Fields()
		var dproj []expr.Expr
		var dnames []string
		for i, k := range corr {
			dproj = append(dproj, expr.Column(k.outer, fields[k.outer].Name, fields[k.outer].Type))
			dnames = append(dnames, fmt.Sprintf("$o%d", i))
		}
		for i, x := range xs {
			dproj = append(dproj, x)
			dnames = append(dnames, fmt.Sprintf("$x%d", i))
		}
		var lkeys, rkeys []int
		for i := range corr {
			lkeys, rkeys = append(lkeys, i), append(rkeys, len(lhs)+i)
		}
		conds := func(comb *scope, rOff int) (expr.Expr, expr.Expr, error) {
			var pairs [][2]expr.Expr
			for i := range xs {
				xc, yc := comb.cols[len(corr)+i], comb.cols[rOff+i]
				pairs = append(pairs, [2]expr.Expr{expr.Column(len(corr)+i, xc.name, xc.typ), expr.Column(rOff+i, yc.name, yc.typ)})
			}
			return p.inConditions(e.P, pairs)
		}
		var err error
		n, nsc, r, err = p.valueMarker(e.P, valueBase(base, in, sc, lhs, corrCols(corr)), in, sc, dproj, dnames, sub, scopeOf(sf, "$r").cols, lkeys, rkeys, conds)
		if err != nil {
			return nil, nil, nil, err
		}
	}
	return not(e, withOuterOnly(r, outerOnly)), n, nsc, nil
}

// markInSingle joins in with the distinct (y, correlation) values of sub and, when x or y may be NULL, with
// sub's row counts per correlation.
func (p *Planner) markInSingle(pos sql.Pos, x expr.Expr, sub Node, corr []correlation, in Node, sc *scope) (sql.Expr, Node, *scope) {
	fields := in.Fields()
	nl := len(fields)
	projs, out := identity(fields), append([]Field{}, fields...)
	projs, out = append(projs, x), append(out, Field{Name: freshName(out, "$x"), Type: x.Type()})
	if len(corr) == 0 {
		projs, out = append(projs, trueLit()), append(out, Field{Name: freshName(out, "$k"), Type: trueLit().Type()})
	}
	left := &Calc{Input: in, Projects: projs, Out: out}
	lkeys := append([]int{nl}, corrCols(corr)...)
	m := marked(distinctOf(sub), trueLit())
	j1 := &Join{Left: left, Right: m, Type: exec.LeftJoin, LeftKeys: lkeys, RightKeys: seq(len(lkeys)), Out: joinFields(left, m, true)}
	mark := j1.Out[len(j1.Out)-1].Name
	sf := sub.Fields()
	if !x.Type().Nullable() && !sf[0].Type.Nullable() {
		return isNotNull(pos, mark), j1, extendScope(sc, j1.Out)
	}
	count := types.BigIntType().WithNullable(false)
	var kp []expr.Expr
	var kf []Field
	cntLeft := corrCols(corr)
	if len(corr) == 0 {
		kp, kf = []expr.Expr{trueLit()}, []Field{{Name: "$k", Type: trueLit().Type()}}
		cntLeft = []int{nl + 1}
	} else {
		for i := 1; i < len(sf); i++ {
			kp, kf = append(kp, expr.Column(i, sf[i].Name, sf[i].Type)), append(kf, sf[i])
		}
	}
	nk := len(kf)
	keyed := &Calc{Input: sub, Projects: append(kp, expr.Column(0, sf[0].Name, sf[0].Type)), Out: append(kf, sf[0])}
	counts := &Aggregate{Input: keyed, Keys: seq(nk), Aggs: []exec.AggCall{
		{Func: "COUNT", Type: count, Filter: -1},
		{Func: "COUNT", Args: []int{nk}, ArgTypes: []types.Type{sf[0].Type}, Type: count, Filter: -1},
	}, Out: append(append([]Field{}, kf...), Field{Name: "$n", Type: count}, Field{Name: "$nn", Type: count})}
	j2 := &Join{Left: j1, Right: counts, Type: exec.LeftJoin, LeftKeys: cntLeft, RightKeys: seq(nk), Out: joinFields(j1, counts, true)}
	n, nn, xn := j2.Out[len(j2.Out)-2].Name, j2.Out[len(j2.Out)-1].Name, j2.Out[nl].Name
	// CASE WHEN matched THEN TRUE WHEN empty THEN FALSE WHEN x IS NULL OR a y is NULL THEN NULL ELSE FALSE
	r := &sql.Case{P: pos, Whens: []*sql.When{
		{Cond: isNotNull(pos, mark), Result: boolLit(pos, true)},
		{Cond: &sql.IsTest{P: pos, X: colRef(pos, n), What: "NULL"}, Result: boolLit(pos, false)},
		{Cond: &sql.Binary{P: pos, Op: "OR", L: &sql.IsTest{P: pos, X: colRef(pos, xn), What: "NULL"}, R: &sql.Binary{P: pos, Op: "<", L: colRef(pos, nn), R: colRef(pos, n)}}, Result: nullBool(pos)},
	}, Else: boolLit(pos, false)}
	return r, j2, extendScope(sc, j2.Out)
}

// inConditions are the join condition (each pair equal or one side NULL: the rows that make IN TRUE or
// NULL) and the full match (each pair equal) of IN over the (x, y) pairs.
func (p *Planner) inConditions(pos sql.Pos, pairs [][2]expr.Expr) (residual, full expr.Expr, err error) {
	and := func(a, b expr.Expr) (expr.Expr, error) {
		if a == nil {
			return b, nil
		}
		return expr.Call(p.Env, "AND", a, b)
	}
	for _, pr := range pairs {
		eq, err := expr.Call(p.Env, "=", pr[0], pr[1])
		if err != nil {
			return nil, nil, sql.Errorf(pos, ErrValidation, "IN compares %s with a subquery of %s; CAST one side", pr[0].Type(), pr[1].Type())
		}
		maybe := eq
		for _, side := range pr {
			if side.Type().Nullable() {
				if maybe, err = expr.Call(p.Env, "OR", maybe, call("IS NULL", side)); err != nil {
					return nil, nil, err
				}
			}
		}
		if full, err = and(full, eq); err != nil {
			return nil, nil, err
		}
		if residual, err = and(residual, maybe); err != nil {
			return nil, nil, err
		}
	}
	return residual, full, nil
}

// valueMarker joins in with a marker computed over the distinct values dproj (expressions over base, whose
// columns are the first ones of in; named
// dnames) joined with r (whose columns rcols name for binding) on lkeys = rkeys and the conditions conds
// returns (bound over the scope of the join of the two: D's columns, qualified "$o", then r's, at rOff;
// full is nil for EXISTS). The result is EXISTS (`$n IS NOT NULL`) or, with full, IN.
func (p *Planner) valueMarker(pos sql.Pos, base, in Node, sc *scope, dproj []expr.Expr, dnames []string, r Node, rcols []scopeCol, lkeys, rkeys []int,
	conds func(comb *scope, rOff int) (residual, full expr.Expr, err error)) (Node, *scope, sql.Expr, error) {
	var dout []Field
	for i, x := range dproj {
		dout = append(dout, Field{Name: dnames[i], Type: x.Type()})
	}
	nd := len(dout)
	var d Node = distinctOf(&Calc{Input: base, Projects: dproj, Out: dout})
	comb := &scope{}
	for _, f := range dout {
		comb.cols = append(comb.cols, scopeCol{qual: "$o", name: f.Name, typ: f.Type})
	}
	rr := r
	if len(lkeys) == 0 {
		// No equality: every row in one group, as Flink runs such joins.
		d, rr = withConst(d), withConst(r)
		lkeys, rkeys = []int{nd}, []int{len(r.Fields())}
		comb.cols = append(comb.cols, scopeCol{qual: "$", name: "$k", typ: trueLit().Type()})
	}
	rOff := len(comb.cols)
	comb.cols = append(comb.cols, rcols...)
	if rr != r {
		comb.cols = append(comb.cols, scopeCol{qual: "$", name: "$k", typ: trueLit().Type()})
	}
	residual, full, err := conds(comb, rOff)
	if err != nil {
		return nil, nil, nil, err
	}
	j := &Join{Left: d, Right: rr, Type: exec.InnerJoin, LeftKeys: lkeys, RightKeys: rkeys, Residual: residual, Out: joinFields(d, rr, false)}
	count := types.BigIntType().WithNullable(false)
	aproj, aout := identity(dout), append([]Field{}, dout...)
	aggs := []exec.AggCall{{Func: "COUNT", Type: count, Filter: -1}}
	mout := append(append([]Field{}, dout...), Field{Name: "$n", Type: count})
	if full != nil {
		isTrue, err := expr.Call(p.Env, "IS TRUE", full)
		if err != nil {
			return nil, nil, nil, err
		}
		aproj, aout = append(aproj, isTrue), append(aout, Field{Name: "$full", Type: isTrue.Type()})
		aggs = append(aggs, exec.AggCall{Func: "COUNT", Type: count, Filter: nd})
		mout = append(mout, Field{Name: "$nfull", Type: count})
	}
	m := &Aggregate{Input: &Calc{Input: j, Projects: aproj, Out: aout}, Keys: seq(nd), Aggs: aggs, Out: mout}
	// Join back on D's values, NULL matching NULL.
	fields := in.Fields()
	lproj, lout := identity(fields), append([]Field{}, fields...)
	rproj, rout := []expr.Expr{}, []Field{}
	var lk, rk []int
	for i, x := range dproj {
		lparts, err := p.nullSafeKey(pos, x)
		if err != nil {
			return nil, nil, nil, err
		}
		rparts, _ := p.nullSafeKey(pos, expr.Column(i, dout[i].Name, dout[i].Type))
		for k := range lparts {
			lk, rk = append(lk, len(lproj)), append(rk, len(rproj))
			lproj, lout = append(lproj, lparts[k]), append(lout, Field{Name: freshName(lout, "$key"), Type: lparts[k].Type()})
			rproj, rout = append(rproj, rparts[k]), append(rout, Field{Name: fmt.Sprintf("$key%d", len(rout)), Type: rparts[k].Type()})
		}
	}
	for i := nd; i < len(mout); i++ {
		rproj, rout = append(rproj, expr.Column(i, mout[i].Name, mout[i].Type)), append(rout, mout[i])
	}
	left := &Calc{Input: in, Projects: lproj, Out: lout}
	right := &Calc{Input: m, Projects: rproj, Out: rout}
	jb := &Join{Left: left, Right: right, Type: exec.LeftJoin, LeftKeys: lk, RightKeys: rk, Out: joinFields(left, right, true)}
	nsc := extendScope(sc, jb.Out)
	if full == nil {
		return jb, nsc, isNotNull(pos, jb.Out[len(jb.Out)-1].Name), nil
	}
	n, nfull := jb.Out[len(jb.Out)-2].Name, jb.Out[len(jb.Out)-1].Name
	// CASE WHEN no row may match THEN FALSE WHEN a row matches THEN TRUE ELSE NULL
	res := &sql.Case{P: pos, Whens: []*sql.When{
		{Cond: &sql.IsTest{P: pos, X: colRef(pos, n), What: "NULL"}, Result: boolLit(pos, false)},
		{Cond: &sql.Binary{P: pos, Op: ">", L: colRef(pos, nfull), R: &sql.Literal{P: pos, Kind: sql.LitInteger, Text: "0"}}, Result: boolLit(pos, true)},
	}, Else: nullBool(pos)}
	return jb, nsc, res, nil
}

// nullSafeKey is x as join key columns on which NULL matches NULL: x itself when it cannot be NULL, else
// (x IS NULL, COALESCE(x, a constant of its type)).
func (p *Planner) nullSafeKey(pos sql.Pos, x expr.Expr) ([]expr.Expr, error) {
	t := x.Type()
	if !t.Nullable() {
		return []expr.Expr{x}, nil
	}
	v := x
	zero, ok := zeroOf(t)
	if !ok {
		s, err := expr.Cast(p.Env, x, types.StringType(), false)
		if err != nil {
			return nil, sql.Errorf(pos, ErrUnsupported, "a subquery correlated on a value of type %s is not supported yet here; CAST it to STRING", t)
		}
		v, zero = s, expr.Literal(types.StringValue(""), types.StringType().WithNullable(false))
	}
	co, err := expr.Call(p.Env, "COALESCE", v, zero)
	if err != nil {
		return nil, fmt.Errorf("%w: null-safe key: %v", ErrInternal, err)
	}
	return []expr.Expr{call("IS NULL", x), co}, nil
}

func trueLit() expr.Expr {
	return expr.Literal(types.BoolValue(true), types.BooleanType().WithNullable(false))
}

// withConst appends a constant TRUE column $k to n's columns (a join key when there is no other).
func withConst(n Node) Node {
	fs := n.Fields()
	return &Calc{Input: n, Projects: append(identity(fs), trueLit()), Out: append(append([]Field{}, fs...), Field{Name: freshName(fs, "$k"), Type: trueLit().Type()})}
}

// freshName is base, or base followed by a number, unused in fs.
func freshName(fs []Field, base string) string {
	used := map[string]bool{}
	for _, f := range fs {
		used[f.Name] = true
	}
	name := base
	for i := 0; used[name]; i++ {
		name = fmt.Sprintf("%s%d", base, i)
	}
	return name
}

// extendScope is sc followed by the columns of out beyond it (hidden from SELECT *: their names begin with $).
func extendScope(sc *scope, out []Field) *scope {
	nsc := &scope{cols: append([]scopeCol{}, sc.cols...), agg: sc.agg}
	for _, f := range out[len(sc.cols):] {
		nsc.cols = append(nsc.cols, scopeCol{name: f.Name, typ: f.Type})
	}
	return nsc
}

func colRef(pos sql.Pos, name string) sql.Expr { return &sql.ColumnRef{P: pos, Parts: []string{name}} }

func isNotNull(pos sql.Pos, name string) sql.Expr {
	return &sql.IsTest{P: pos, X: colRef(pos, name), Not: true, What: "NULL"}
}

func boolLit(pos sql.Pos, v bool) sql.Expr {
	text := "FALSE"
	if v {
		text = "TRUE"
	}
	return &sql.Literal{P: pos, Kind: sql.LitBool, Text: text, Bool: v}
}

func nullBool(pos sql.Pos) sql.Expr {
	return &sql.Cast{P: pos, X: &sql.Literal{P: pos, Kind: sql.LitNull, Text: "NULL"}, Type: types.BooleanType()}
}

// withOuterOnly is r AND (the subquery's conditions on outer columns only) IS TRUE: when they do not hold
// the subquery is empty, and EXISTS and IN are FALSE.
func withOuterOnly(r sql.Expr, outerOnly []sql.Expr) sql.Expr {
	if len(outerOnly) == 0 {
		return r
	}
	c := outerOnly[0]
	for _, o := range outerOnly[1:] {
		c = &sql.Binary{P: o.Position(), Op: "AND", L: c, R: o}
	}
	return &sql.Binary{P: r.Position(), Op: "AND", L: &sql.IsTest{P: c.Position(), X: &sql.Paren{P: c.Position(), X: c}, What: "TRUE"}, R: r}
}

// not is NOT r for NOT IN.
func not(e *sql.In, r sql.Expr) sql.Expr {
	if r == nil || !e.Not {
		return r
	}
	return &sql.Unary{P: e.P, Op: "NOT", X: &sql.Paren{P: e.P, X: r}}
}

// valueBase is base when the expressions exprs and the columns cols of scope sc read only its columns, else
// in.
func valueBase(base, in Node, sc *scope, exprs []sql.Expr, cols []int) Node {
	w := len(base.Fields())
	for _, c := range cols {
		if c >= w {
			return in
		}
	}
	for _, e := range exprs {
		for _, r := range columnRefs(e) {
			if c, _, err := sc.resolvePath(r); err != nil || c >= w {
				return in
			}
		}
	}
	return base
}

// subqueryOf is the query of an EXISTS, IN (subquery) or NOT EXISTS predicate; nil for others.
func subqueryOf(e sql.Expr) *sql.Query {
	switch x := unparen(e).(type) {
	case *sql.Exists:
		return x.Query
	case *sql.In:
		return x.Query
	case *sql.Unary:
		return subqueryOf(x.X)
	}
	return nil
}

// pushCTEs makes the WITH queries of q visible to p.from (as p.query does) until the returned function runs.
func (p *Planner) pushCTEs(q *sql.Query) func() {
	if len(q.With) == 0 {
		return func() {}
	}
	m := map[string]*sql.CTE{}
	for _, c := range q.With {
		m[c.Name] = c
	}
	p.ctes = append(p.ctes, m)
	return func() { p.ctes = p.ctes[:len(p.ctes)-1] }
}
