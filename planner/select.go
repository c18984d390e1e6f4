package planner

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

func (p *Planner) selectBlock(s *sql.Select) (Node, error) {
	var in Node
	var sc *scope
	if s.From == nil {
		in = &Values{Rows: [][]types.Value{{}}, Out: nil}
		sc = &scope{}
	} else {
		from, where := s.From, s.Where
		// FROM a, b WHERE a.k = b.k: the WHERE clause is the join condition.
		if j, ok := from.(*sql.Join); ok && j.Kind == "CROSS" && j.On == nil && len(j.Using) == 0 && where != nil {
			jj := *j
			jj.Kind, jj.On = "INNER", where
			from, where = &jj, nil
		}
		n, fsc, err := p.from(from)
		if err != nil {
			return nil, err
		}
		in, sc = n, fsc
		ss := *s
		ss.From, ss.Where = from, where
		s = &ss
	}
	// Correlated subqueries of one global aggregate: EXISTS is TRUE, IN compares with the scalar subquery.
	s = p.rewriteGlobalAggs(s, sc)
	// Scalar subqueries become left joins with the (decorrelated) subquery.
	s, in, sc, err := p.scalarSubqueries(s, in, sc)
	if err != nil {
		return nil, err
	}
	if s.Where != nil {
		// x IN (subquery) conjuncts become semi-joins with the subquery's distinct values.
		var err error
		var where sql.Expr
		if in, where, err = p.semiJoins(s.Where, in, sc); err != nil {
			return nil, err
		}
		ss := *s
		ss.Where = where
		s = &ss
	}
	// Other EXISTS and IN (subquery) predicates (in OR, CASE, the SELECT list) become marker joins.
	if s, in, sc, err = p.markSubqueries(s, in, sc, isAggregating(s)); err != nil {
		return nil, err
	}
	if s.Where != nil {
		var aggs []*sql.FuncCall
		collectAggs(s.Where, &aggs)
		if len(aggs) > 0 {
			return nil, sql.Errorf(aggs[0].P, ErrValidation, "aggregate functions are not allowed in WHERE; use HAVING")
		}
		cond, err := p.b.expr(s.Where, sc)
		if err != nil {
			return nil, err
		}
		if cond.Type().Kind != types.Boolean && cond.Type().Kind != types.Null {
			return nil, sql.Errorf(s.Where.Position(), ErrValidation, "WHERE condition must be BOOLEAN, got %s", cond.Type())
		}
		in = &Filter{Input: in, Cond: cond, RankBounds: rankBounds(s.Where, sc)}
	}
	// ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...): a Rank node under the projection.
	if rn, ri := rowNumberItem(s.Items); rn != nil {
		var err error
		if in, sc, s, err = p.rowNumber(rn, ri, in, sc, s); err != nil {
			return nil, err
		}
	}
	// Aggregates with OVER windows: an OverAggregate node under the projection.
	for hasOverAgg(s) {
		var err error
		if in, sc, s, err = p.overAggregate(in, sc, s); err != nil {
			return nil, err
		}
	}
	// Flink 1.12's group windows: GROUP BY TUMBLE(ts, size) / HOP(ts, slide, size), with TUMBLE_START,
	// TUMBLE_END, TUMBLE_ROWTIME (and HOP_*) in the select list, are planned as a window TVF and a window
	// aggregation.
	if gw := groupWindow(s.GroupBy); gw != nil {
		var err error
		if in, sc, s, err = p.legacyGroupWindow(gw, in, sc, s); err != nil {
			return nil, err
		}
	}
	var aggCalls []*sql.FuncCall
	for _, it := range s.Items {
		collectAggs(it.Expr, &aggCalls)
	}
	collectAggs(s.Having, &aggCalls)
	// Items, with * expanded.
	type item struct {
		e    sql.Expr
		name string
		col  int // for * expansion: input column
	}
	var items []item
	for i, it := range s.Items {
		if it.Star {
			found := false
			for ci, c := range sc.cols {
				if len(it.Qualifier) > 0 && c.qual != it.Qualifier[len(it.Qualifier)-1] {
					continue
				}
				if strings.HasPrefix(c.name, "$") && c.qual == "" {
					continue // planner-internal columns ($row_number, $window_start, ...)
				}
				found = true
				items = append(items, item{name: c.name, col: ci})
			}
			if !found {
				return nil, sql.Errorf(it.P, ErrValidation, "Unknown table '%s' in %s.*", sql.JoinIdents(it.Qualifier), sql.JoinIdents(it.Qualifier))
			}
			continue
		}
		name := it.Alias
		if name == "" {
			name = exprName(it.Expr, i)
		}
		items = append(items, item{e: it.Expr, name: name, col: -1})
	}
	uniqueNames(len(items), func(i int) *string { return &items[i].name })
	isAgg := len(s.GroupBy) > 0 || len(aggCalls) > 0
	if !isAgg {
		if s.Having != nil {
			return nil, sql.Errorf(s.Having.Position(), ErrValidation, "HAVING needs GROUP BY or an aggregate function")
		}
		var projects []expr.Expr
		var out []Field
		for _, it := range items {
			var x expr.Expr
			if it.e == nil {
				c := sc.cols[it.col]
				x = expr.Column(it.col, c.name, c.typ)
			} else {
				var err error
				if x, err = p.b.expr(it.e, sc); err != nil {
					return nil, err
				}
			}
			projects = append(projects, x)
			out = append(out, Field{Name: it.name, Type: x.Type()})
		}
		n := project(in, projects, out)
		if s.Distinct {
			n = p.distinct(n)
		}
		return n, nil
	}
	// Aggregation: pre-projection (group keys, aggregate arguments), aggregate, HAVING, projection.
	am := &aggMap{in: sc}
	var pre []expr.Expr
	var preNames []string
	groupExprs, sets, err := groupingSets(s.GroupBy)
	if err != nil {
		return nil, err
	}
	am.sets = sets
	for gi, g := range groupExprs {
		var aggs []*sql.FuncCall
		collectAggs(g, &aggs)
		if len(aggs) > 0 {
			return nil, sql.Errorf(aggs[0].P, ErrValidation, "aggregate functions are not allowed in GROUP BY")
		}
		x, err := p.b.expr(g, sc)
		if err != nil {
			return nil, err
		}
		name := exprName(g, gi)
		if _, ok := g.(*sql.ColumnRef); !ok {
			name = fmt.Sprintf("$f%d", gi)
		}
		am.groupText = append(am.groupText, sql.FormatExpr(g))
		am.groupExpr = append(am.groupExpr, g)
		am.groupType = append(am.groupType, x.Type())
		am.groupName = append(am.groupName, name)
		pre = append(pre, x)
		preNames = append(preNames, name)
	}
	var calls []exec.AggCall
	aggIndex := map[string]int{} // aggregate call text → index in am.aggText
	for _, f := range aggCalls {
		text := sql.FormatExpr(f)
		if _, dup := aggIndex[text]; dup {
			continue
		}
		aggIndex[text] = len(am.aggText)
		call, err := p.b.aggCallFor(f, sc, &pre, &preNames)
		if err != nil {
			return nil, err
		}
		calls = append(calls, call)
		am.aggText = append(am.aggText, text)
		am.aggType = append(am.aggType, call.Type)
		am.aggName = append(am.aggName, fmt.Sprintf("EXPR$%d", len(am.aggText)-1))
	}
	// Name aggregates after the select item they make up, as Flink does.
	for _, it := range items {
		if it.e == nil {
			continue
		}
		if f, ok := isAggCall(it.e); ok {
			if i, ok := aggIndex[sql.FormatExpr(f)]; ok && strings.HasPrefix(am.aggName[i], "EXPR$") {
				am.aggName[i] = it.name
			}
		}
	}
	var preOut []Field
	for i, x := range pre {
		preOut = append(preOut, Field{Name: preNames[i], Type: x.Type()})
	}
	// GROUPING SETS, ROLLUP and CUBE: an Expand under the aggregate (grouping_sets.go).
	aggIn, keys := groupingInput(project(in, pre, preOut), am)
	var aggOut []Field
	for _, k := range keys {
		aggOut = append(aggOut, aggIn.Fields()[k])
	}
	for i := range calls {
		aggOut = append(aggOut, Field{Name: am.aggName[i], Type: am.aggType[i]})
	}
	// GROUP BY window_start, window_end of a window TVF becomes a window aggregation (windowAggregateRule).
	var n Node = &Aggregate{Input: aggIn, Keys: keys, Aggs: calls, Out: aggOut}
	asc := &scope{cols: scopeOf(aggOut, "").cols, agg: am}
	for _, it := range items {
		if it.e == nil {
			return nil, sql.Errorf(s.P, ErrValidation, "SELECT * cannot be used with GROUP BY; list the grouped columns")
		}
	}
	if s.Having != nil {
		cond, err := p.b.expr(s.Having, asc)
		if err != nil {
			return nil, err
		}
		if cond.Type().Kind != types.Boolean {
			return nil, sql.Errorf(s.Having.Position(), ErrValidation, "HAVING condition must be BOOLEAN, got %s", cond.Type())
		}
		n = &Filter{Input: n, Cond: cond}
	}
	var projects []expr.Expr
	var out []Field
	for _, it := range items {
		x, err := p.b.expr(it.e, asc)
		if err != nil {
			return nil, err
		}
		projects = append(projects, x)
		out = append(out, Field{Name: it.name, Type: x.Type()})
	}
	n = project(n, projects, out)
	if s.Distinct {
		n = p.distinct(n)
	}
	return n, nil
}

// project is the binder's projection: a Project node, which project_rewrite removes, merges into the Calc
// below or makes a Calc.
func project(in Node, projects []expr.Expr, out []Field) Node {
	return &Project{Input: in, Projects: projects, Out: out}
}

func identity(fs []Field) []expr.Expr {
	var out []expr.Expr
	for i, f := range fs {
		out = append(out, expr.Column(i, f.Name, f.Type))
	}
	return out
}
