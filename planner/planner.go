package planner

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Planner turns statements into plans. A Planner is used for one statement.
type Planner struct {
	Catalog    *catalog.Catalog
	Connectors *connectors.Registry
	Formats    *formats.Registry
	// Session is the session configuration.
	Session map[string]string
	// Batch plans for the batch runtime mode.
	Batch  bool
	Env    *expr.Env
	Params []types.Value
	Stdout io.Writer
	Stderr io.Writer

	b        binder
	ctes     []map[string]*sql.CTE
	viewPath []string
}

func (p *Planner) init() {
	p.b = binder{env: p.Env, params: p.Params}
}

// PlanQuery plans a query whose rows are returned to the caller.
func (p *Planner) PlanQuery(q *sql.Query) (Node, error) {
	p.init()
	return p.query(q)
}

// PlanInsert plans INSERT INTO ... and checks that the sink accepts the query's changelog.
func (p *Planner) PlanInsert(ins *sql.Insert) (*Sink, error) {
	p.init()
	t, ok := p.Catalog.Table(ins.Table)
	if !ok {
		if _, isView := p.Catalog.View(ins.Table); isView {
			return nil, sql.Errorf(ins.Table.P, ErrValidation, "cannot INSERT INTO view %s; views are read-only", ins.Table)
		}
		return nil, p.Catalog.NotFound(ins.Table)
	}
	if ins.Overwrite && !p.Batch {
		return nil, sql.Errorf(ins.P, ErrUnsupported, "INSERT OVERWRITE is only supported in batch mode (and no sink supports it yet)")
	}
	if ins.Overwrite {
		return nil, sql.Errorf(ins.P, ErrUnsupported, "INSERT OVERWRITE is not supported by connector '%s'", t.Options["connector"])
	}
	q, err := p.query(ins.Query)
	if err != nil {
		return nil, err
	}
	// The sink's columns: physical and persisted (non-virtual) metadata columns, in declaration order.
	var sinkCols []catalog.Column
	for _, c := range t.Columns {
		if c.Kind == sql.PhysicalColumn || c.Kind == sql.MetadataColumn && !c.Virtual {
			sinkCols = append(sinkCols, c)
		}
	}
	qf := q.Fields()
	// Map the query's columns to the sink's columns (an explicit column list may reorder or omit some).
	src := make([]int, len(sinkCols)) // index into qf, -1 = NULL
	if len(ins.Columns) > 0 {
		if len(ins.Columns) != len(qf) {
			return nil, sql.Errorf(ins.Query.P, ErrValidation, "INSERT INTO %s lists %d columns but the query produces %d", t.Name, len(ins.Columns), len(qf))
		}
		for i := range src {
			src[i] = -1
		}
		for qi, id := range ins.Columns {
			found := false
			for si, c := range sinkCols {
				if c.Name == id.Name {
					if src[si] >= 0 {
						return nil, sql.Errorf(id.P, ErrValidation, "column %s is listed twice", sql.QuoteIdentIfNeeded(id.Name))
					}
					src[si], found = qi, true
				}
			}
			if !found {
				return nil, sql.Errorf(id.P, ErrValidation, "column %s is not a writable column of table %s", sql.QuoteIdentIfNeeded(id.Name), t.Name)
			}
		}
	} else {
		if len(qf) != len(sinkCols) {
			return nil, sql.Errorf(ins.Query.P, ErrValidation, "Column types of query result and sink for '%s' do not match.\nCause: Different number of columns.\n\nQuery schema: %s\nSink schema:  %s",
				qualified(t.Name), schemaText(qf), sinkSchemaText(sinkCols))
		}
		for i := range src {
			src[i] = i
		}
	}
	needCalc := false
	var projects []expr.Expr
	var out []Field
	for si, c := range sinkCols {
		var x expr.Expr
		if src[si] < 0 {
			x = expr.Literal(types.NullValue, types.NullType())
			if c.Type.NotNull {
				return nil, sql.Errorf(ins.Table.P, ErrValidation, "column %s of table %s is NOT NULL and not listed in the INSERT", sql.QuoteIdentIfNeeded(c.Name), t.Name)
			}
		} else {
			x = expr.Column(src[si], qf[src[si]].Name, qf[src[si]].Type)
		}
		if src[si] != si {
			needCalc = true
		}
		if !x.Type().EqualIgnoringNull(c.Type) {
			if !types.ImplicitCastSupported(x.Type(), c.Type) {
				return nil, sql.Errorf(ins.Query.P, ErrValidation, "Column types of query result and sink for '%s' do not match.\nCause: Incompatible types for sink column '%s' at position %d.\n\nQuery schema: %s\nSink schema:  %s",
					qualified(t.Name), c.Name, si, schemaText(qf), sinkSchemaText(sinkCols))
			}
			cx, err := expr.Cast(p.Env, x, c.Type.WithNullable(x.Type().Nullable()), false)
			if err != nil {
				return nil, sql.Errorf(ins.Query.P, ErrValidation, "column %s: %v", c.Name, err)
			}
			x, needCalc = cx, true
		}
		projects = append(projects, x)
		out = append(out, Field{Name: c.Name, Type: x.Type()})
	}
	// The sink receives its physical columns first, then its persisted metadata columns (the connector
	// contract), whatever the declaration order.
	var order []int
	for si, c := range sinkCols {
		if c.Kind == sql.PhysicalColumn {
			order = append(order, si)
		}
	}
	for si, c := range sinkCols {
		if c.Kind != sql.PhysicalColumn {
			order = append(order, si)
		}
	}
	reordered := make([]expr.Expr, len(order))
	reout := make([]Field, len(order))
	for i, si := range order {
		if si != i {
			needCalc = true
		}
		reordered[i], reout[i] = projects[si], out[si]
	}
	projects, out = reordered, reout
	if needCalc {
		q = project(q, projects, out)
	}
	sink, err := p.createSink(t, ins.Table.P)
	if err != nil {
		return nil, err
	}
	node := &Sink{Input: q, Table: t, Sink: sink}
	if err := checkSink(node); err != nil {
		return nil, sql.Errorf(ins.P, ErrValidation, "%s", err.Error())
	}
	return node, nil
}

func qualified(name string) string { return "default_catalog.default_database." + name }

func schemaText(fs []Field) string {
	var s []string
	for _, f := range fs {
		s = append(s, sql.QuoteIdentIfNeeded(f.Name)+": "+f.Type.String())
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func sinkSchemaText(cs []catalog.Column) string {
	var s []string
	for _, c := range cs {
		s = append(s, sql.QuoteIdentIfNeeded(c.Name)+": "+c.Type.String())
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// checkSink refuses plans whose changelog the sink cannot consume, naming the node that produces the
// changes, as Flink does.
func checkSink(s *Sink) error {
	accepts := s.Sink.Accepts()
	mode := s.Input.Mode()
	if accepts.Contains(mode.Kinds) {
		return nil
	}
	producer := findProducer(s.Input)
	what := "update"
	if !mode.HasUpdates() {
		what = "delete"
	}
	msg := fmt.Sprintf("Table sink '%s' doesn't support consuming %s changes which is produced by node %s", qualified(s.Table.Name), what, producer.Describe())
	if hint, ok := s.Sink.(interface{ UpdateHint() string }); ok {
		msg += "\n" + hint.UpdateHint()
	}
	return fmt.Errorf("%s", msg)
}

// findProducer finds the node nearest to the sources that introduces updates or deletes.
func findProducer(n Node) Node {
	for _, in := range n.Inputs() {
		if !in.Mode().IsInsertOnly() {
			return findProducer(in)
		}
	}
	return n
}

// Sources returns the scans of a plan.
func Sources(n Node) []*Scan {
	var out []*Scan
	if s, ok := n.(*Scan); ok {
		out = append(out, s)
	}
	for _, in := range n.Inputs() {
		out = append(out, Sources(in)...)
	}
	return out
}

func (p *Planner) connectorContext(t *catalog.Table) connectors.Context {
	return connectors.Context{Table: t, Options: t.Options, Formats: p.Formats, Batch: p.Batch, Session: p.Session, Stdout: p.Stdout, Stderr: p.Stderr}
}

func (p *Planner) createSink(t *catalog.Table, at sql.Pos) (connectors.Sink, error) {
	f, err := p.Connectors.SinkFactory(t.Options["connector"])
	if err != nil {
		return nil, tableErr(t, at, err)
	}
	s, err := f.CreateSink(p.connectorContext(t))
	if err != nil {
		return nil, tableErr(t, at, err)
	}
	return s, nil
}

// tableErr positions a connector error at the table's 'connector' option (or its name) and says which table.
func tableErr(t *catalog.Table, at sql.Pos, err error) error {
	pos := at
	if t.Def != nil {
		pos = t.Def.Name.P
		for _, o := range t.Def.Options {
			if o.Key == "connector" {
				pos = o.P
			}
		}
	}
	return &sql.Error{Pos: pos, Msg: fmt.Sprintf("table %s: %v", t.Name, err), Err: err}
}

// ---- queries ----

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
	if p.Batch {
		return &Sort{Input: n, Keys: keys, Limit: limit, Offset: offset}, nil
	}
	if len(keys) > 0 {
		if limit < 0 {
			return nil, sql.Errorf(q.OrderBy[0].P, ErrUnsupported, "Sort on a non-time-attribute field is not supported in streaming mode: ORDER BY needs a LIMIT (Top-N) or batch mode (SET 'execution.runtime-mode' = 'batch')")
		}
		return &TopN{Input: n, Keys: keys, Limit: limit, Offset: offset}, nil
	}
	if !n.Mode().IsInsertOnly() {
		return nil, sql.Errorf(q.P, ErrUnsupported, "LIMIT without ORDER BY on an updating query is not supported in streaming mode")
	}
	return &Limit{Input: n, Limit: limit, Offset: offset}, nil
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
	return &Aggregate{Input: n, Keys: keys, Batch: p.Batch, Out: append([]Field(nil), fs...)}
}

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
		pushRankLimit(s.Where, in, sc)
		in = &Calc{Input: in, Projects: identity(in.Fields()), Filter: cond, Out: in.Fields()}
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
	for gi, g := range s.GroupBy {
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
	for _, f := range aggCalls {
		text := sql.FormatExpr(f)
		dup := false
		for _, t := range am.aggText {
			if t == text {
				dup = true
			}
		}
		if dup {
			continue
		}
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
			text := sql.FormatExpr(f)
			for i, t := range am.aggText {
				if t == text && strings.HasPrefix(am.aggName[i], "EXPR$") {
					am.aggName[i] = it.name
				}
			}
		}
	}
	var preOut []Field
	for i, x := range pre {
		preOut = append(preOut, Field{Name: preNames[i], Type: x.Type()})
	}
	preNode := project(in, pre, preOut)
	keys := make([]int, len(s.GroupBy))
	var aggOut []Field
	for i := range keys {
		keys[i] = i
		aggOut = append(aggOut, Field{Name: am.groupName[i], Type: am.groupType[i]})
	}
	for i := range calls {
		aggOut = append(aggOut, Field{Name: am.aggName[i], Type: am.aggType[i]})
	}
	var n Node = &Aggregate{Input: preNode, Keys: keys, Aggs: calls, Batch: p.Batch, Out: aggOut}
	if tvf := windowInput(in); tvf != nil {
		// GROUP BY window_start, window_end, ...: Flink's window aggregation, final results per window.
		startKey, endKey := -1, -1
		nin := len(tvf.Out)
		for i, x := range pre[:len(keys)] {
			if c, ok := expr.ColumnIndex(x); ok {
				switch c {
				case nin - 3:
					startKey = i
				case nin - 2:
					endKey = i
				}
			}
		}
		if startKey >= 0 && endKey >= 0 {
			n = &WindowAggregate{Input: preNode, Keys: keys, Aggs: calls, WindowEndKey: endKey, Spec: tvf.Spec, Out: aggOut}
		}
	}
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
		n = &Calc{Input: n, Projects: identity(aggOut), Filter: cond, Out: aggOut}
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

// project returns a Calc computing projects over in, or in itself when the projection keeps every column in
// order under the same names (Flink removes such a Calc too).
func project(in Node, projects []expr.Expr, out []Field) Node {
	inf := in.Fields()
	if len(projects) == len(inf) {
		same := true
		for i, x := range projects {
			if c, ok := expr.ColumnIndex(x); !ok || c != i || out[i].Name != inf[i].Name || !out[i].Type.Equal(inf[i].Type) {
				same = false
				break
			}
		}
		if same {
			return in
		}
	}
	if c, ok := in.(*Calc); ok {
		// Merge with the Calc below, as Flink's CalcMergeRule does, when no expression has to be rewritten:
		// the inner Calc only filters (identity projection), or the outer one only picks columns.
		if isIdentity(c.Projects) {
			return &Calc{Input: c.Input, Projects: projects, Filter: c.Filter, Out: out}
		}
		picked := make([]expr.Expr, len(projects))
		for i, x := range projects {
			ci, ok := expr.ColumnIndex(x)
			if !ok {
				picked = nil
				break
			}
			picked[i] = c.Projects[ci]
		}
		if picked != nil {
			return &Calc{Input: c.Input, Projects: picked, Filter: c.Filter, Out: out}
		}
	}
	return &Calc{Input: in, Projects: projects, Out: out}
}

func isIdentity(projects []expr.Expr) bool {
	for i, x := range projects {
		if c, ok := expr.ColumnIndex(x); !ok || c != i {
			return false
		}
	}
	return true
}

// ResolveComputed binds the computed columns of tbl over its physical and metadata columns and records
// their types in the catalog entry (DESCRIBE shows them). Errors name the column.
func (p *Planner) ResolveComputed(tbl *catalog.Table) error {
	if p.b.env == nil {
		p.init()
	}
	var base []Field
	for _, c := range tbl.Columns {
		if c.Kind != sql.ComputedColumn {
			base = append(base, Field{Name: c.Name, Type: c.Type})
		}
	}
	ssc := scopeOf(base, "")
	for i := range tbl.Columns {
		c := &tbl.Columns[i]
		if c.Kind != sql.ComputedColumn {
			continue
		}
		x, err := p.b.expr(c.Expr, ssc)
		if err != nil {
			return fmt.Errorf("computed column %s of table %s: %w", c.Name, tbl.Name, err)
		}
		c.Type = x.Type()
	}
	return nil
}

func identity(fs []Field) []expr.Expr {
	var out []expr.Expr
	for i, f := range fs {
		out = append(out, expr.Column(i, f.Name, f.Type))
	}
	return out
}

// ---- FROM ----

func (p *Planner) from(t sql.TableExpr) (Node, *scope, error) {
	switch t := t.(type) {
	case *sql.TableRef:
		return p.tableRef(t)
	case *sql.Subquery:
		if t.Lateral {
			return nil, nil, sql.Errorf(t.P, ErrUnsupported, "LATERAL subqueries are not supported yet")
		}
		n, err := p.query(t.Query)
		if err != nil {
			return nil, nil, err
		}
		return p.aliased(n, t.Alias, t.ColAliases, t.P)
	case *sql.Join:
		return p.join(t)
	case *sql.TableFunc:
		switch t.Call.Name {
		case "TUMBLE", "HOP", "CUMULATE":
			if !t.Lateral {
				n, sc, err := p.windowTVF(t)
				if err != nil {
					return nil, nil, err
				}
				if t.Alias != "" || len(t.ColAliases) > 0 {
					return p.aliased(n, t.Alias, t.ColAliases, t.P)
				}
				return n, sc, nil
			}
		}
		return nil, nil, sql.Errorf(t.P, ErrUnsupported, "table function %s is not supported yet", t.Call.Name)
	}
	return nil, nil, sql.Errorf(t.Position(), ErrUnsupported, "unsupported FROM clause")
}

// aliased renames a node's columns (AS t(a, b)) and qualifies them with the alias.
func (p *Planner) aliased(n Node, alias string, cols []sql.Ident, at sql.Pos) (Node, *scope, error) {
	fs := n.Fields()
	if len(cols) > 0 {
		if len(cols) != len(fs) {
			return nil, nil, sql.Errorf(at, ErrValidation, "List of column aliases must have same degree as table; table has %d columns, whereas alias list has %d columns", len(fs), len(cols))
		}
		out := make([]Field, len(fs))
		for i, f := range fs {
			out[i] = Field{Name: cols[i].Name, Type: f.Type}
		}
		n = project(n, identity(fs), out)
		fs = out
	}
	return n, scopeOf(fs, alias), nil
}

func (p *Planner) tableRef(t *sql.TableRef) (Node, *scope, error) {
	if t.SystemTimeAt != nil {
		return nil, nil, sql.Errorf(t.P, ErrUnsupported, "FOR SYSTEM_TIME AS OF is only supported on the right side of a JOIN (temporal join)")
	}
	alias := t.Alias
	if alias == "" {
		alias = t.Name.Name()
	}
	if len(t.Name.Parts) == 1 {
		for i := len(p.ctes) - 1; i >= 0; i-- {
			if c, ok := p.ctes[i][t.Name.Name()]; ok {
				n, err := p.query(c.Query)
				if err != nil {
					return nil, nil, err
				}
				cols := c.Columns
				if len(t.ColAliases) > 0 {
					cols = t.ColAliases
				}
				return p.aliased(n, alias, cols, t.P)
			}
		}
	}
	if v, ok := p.Catalog.View(t.Name); ok {
		for _, seen := range p.viewPath {
			if seen == v.Name {
				return nil, nil, sql.Errorf(t.P, ErrValidation, "view %s refers to itself", v.Name)
			}
		}
		p.viewPath = append(p.viewPath, v.Name)
		n, err := p.query(v.Query)
		p.viewPath = p.viewPath[:len(p.viewPath)-1]
		if err != nil {
			return nil, nil, fmt.Errorf("in view %s: %w", v.Name, err)
		}
		cols := t.ColAliases
		if len(cols) == 0 && len(v.Columns) > 0 {
			for _, c := range v.Columns {
				cols = append(cols, sql.Ident{Name: c})
			}
		}
		return p.aliased(n, alias, cols, t.P)
	}
	tbl, ok := p.Catalog.Table(t.Name)
	if !ok {
		return nil, nil, p.Catalog.NotFound(t.Name)
	}
	if len(t.Hints) > 0 {
		return nil, nil, sql.Errorf(t.P, ErrUnsupported, "dynamic table options (/*+ OPTIONS(...) */) are not supported yet")
	}
	f, err := p.Connectors.SourceFactory(tbl.Options["connector"])
	if err != nil {
		return nil, nil, tableErr(tbl, t.P, err)
	}
	src, err := f.CreateSource(p.connectorContext(tbl))
	if err != nil {
		return nil, nil, tableErr(tbl, t.P, err)
	}
	if p.Batch && !src.Bounded() {
		return nil, nil, sql.Errorf(t.P, ErrValidation, "Querying an unbounded table '%s' in batch mode is not allowed. The table source is unbounded. Make the source bounded (e.g. 'number-of-rows' for datagen, 'scan.bounded.mode' for kafka) or use SET 'execution.runtime-mode' = 'streaming'", qualified(tbl.Name))
	}
	if err := p.ResolveComputed(tbl); err != nil {
		return nil, nil, err
	}
	// The source produces the physical columns, then the metadata columns (each group in declaration order).
	var scanOut []Field
	scanIdx := map[string]int{}
	for _, kind := range []sql.ColumnKind{sql.PhysicalColumn, sql.MetadataColumn} {
		for _, c := range tbl.Columns {
			if c.Kind == kind {
				scanIdx[c.Name] = len(scanOut)
				scanOut = append(scanOut, Field{Name: c.Name, Type: c.Type})
			}
		}
	}
	declared := len(scanOut) == len(tbl.Columns)
	for i, c := range tbl.Columns {
		if declared && scanIdx[c.Name] != i {
			declared = false
		}
	}
	var n Node = &Scan{Table: tbl, Source: src, Out: scanOut}
	if m := src.ChangelogMode(); p.Batch && !m.IsInsertOnly() && len(m.UpsertKey) == 0 {
		return nil, nil, sql.Errorf(t.P, ErrUnsupported, "Table '%s' is a changelog source (its rows carry %s), which batch mode cannot read yet. Use SET 'execution.runtime-mode' = 'streaming'.", tbl.Name, m.Kinds)
	}
	if m := src.ChangelogMode(); len(m.UpsertKey) > 0 {
		// An upsert source (upsert-kafka): normalize it into a complete changelog, as Flink does.
		cn := &ChangelogNormalize{Input: n, Keys: m.UpsertKey, Batch: p.Batch}
		for _, c := range tbl.Columns {
			if c.Kind == sql.MetadataColumn {
				cn.MetaCols = append(cn.MetaCols, scanIdx[c.Name])
			}
		}
		n = cn
	}
	// Computed columns, evaluated over the physical and metadata columns; output in declaration order.
	if !declared {
		ssc := scopeOf(scanOut, "")
		var projects []expr.Expr
		var out []Field
		for _, c := range tbl.Columns {
			var x expr.Expr
			if c.Kind == sql.ComputedColumn {
				var err error
				if x, err = p.b.expr(c.Expr, ssc); err != nil {
					return nil, nil, fmt.Errorf("computed column %s of table %s: %w", c.Name, tbl.Name, err)
				}
			} else {
				x = expr.Column(scanIdx[c.Name], c.Name, c.Type)
			}
			projects = append(projects, x)
			out = append(out, Field{Name: c.Name, Type: x.Type()})
		}
		n = &Calc{Input: n, Projects: projects, Out: out}
	}
	if tbl.Watermark != nil && !p.Batch {
		wm, err := p.b.expr(tbl.Watermark.Expr, scopeOf(n.Fields(), ""))
		if err != nil {
			return nil, nil, fmt.Errorf("watermark of table %s: %w", tbl.Name, err)
		}
		if !wm.Type().IsTimestamp() {
			return nil, nil, sql.Errorf(tbl.Watermark.Expr.Position(), ErrValidation, "the watermark expression of table %s must return TIMESTAMP(p) or TIMESTAMP_LTZ(p), got %s", tbl.Name, wm.Type())
		}
		n = &WatermarkAssigner{Input: n, Rowtime: tbl.Watermark.Column, Expr: wm}
	}
	return p.aliased(n, alias, t.ColAliases, t.P)
}

// ModeOf is a helper for callers: the changelog mode of a plan's root.
func ModeOf(n Node) changelog.Mode { return n.Mode() }

// join plans a regular join: equality conditions between the two sides become the join key, the rest of the
// ON condition is evaluated on joined rows.
func (p *Planner) join(t *sql.Join) (Node, *scope, error) {
	if tr, ok := t.Right.(*sql.TableRef); ok && tr.SystemTimeAt != nil {
		return p.temporalJoin(t, tr)
	}
	ln, lsc, err := p.from(t.Left)
	if err != nil {
		return nil, nil, err
	}
	rn, rsc, err := p.from(t.Right)
	if err != nil {
		return nil, nil, err
	}
	var jt exec.JoinType
	switch t.Kind {
	case "INNER":
		jt = exec.InnerJoin
	case "LEFT":
		jt = exec.LeftJoin
	case "RIGHT":
		jt = exec.RightJoin
	case "FULL":
		jt = exec.FullJoin
	default:
		return nil, nil, sql.Errorf(t.P, ErrUnsupported, "%s JOIN without a condition is not supported yet; write JOIN ... ON with an equality between the two tables", t.Kind)
	}
	nl := len(lsc.cols)
	sc := &scope{cols: append(append([]scopeCol{}, lsc.cols...), rsc.cols...)}
	var conds []sql.Expr
	if len(t.Using) > 0 {
		for _, id := range t.Using {
			li, err := lsc.resolve(&sql.ColumnRef{P: id.P, Parts: []string{id.Name}})
			if err != nil {
				return nil, nil, err
			}
			ri, err := rsc.resolve(&sql.ColumnRef{P: id.P, Parts: []string{id.Name}})
			if err != nil {
				return nil, nil, err
			}
			conds = append(conds, &sql.Binary{P: id.P, Op: "=",
				L: &sql.ColumnRef{P: id.P, Parts: qualified2(lsc.cols[li].qual, id.Name)},
				R: &sql.ColumnRef{P: id.P, Parts: qualified2(rsc.cols[ri].qual, id.Name)}})
		}
	} else if t.On != nil {
		splitAnd(t.On, &conds)
	}
	var lkeys, rkeys []int
	var residual []sql.Expr
	for _, c := range conds {
		if b, ok := unparen(c).(*sql.Binary); ok && b.Op == "=" {
			lr, lok := unparen(b.L).(*sql.ColumnRef)
			rr, rok := unparen(b.R).(*sql.ColumnRef)
			if lok && rok {
				i, err1 := sc.resolve(lr)
				j, err2 := sc.resolve(rr)
				if err1 != nil {
					return nil, nil, err1
				}
				if err2 != nil {
					return nil, nil, err2
				}
				if i >= nl && j < nl {
					i, j = j, i
				}
				if i < nl && j >= nl {
					lt, rt := sc.cols[i].typ, sc.cols[j].typ
					if !joinKeyCompatible(lt, rt) {
						return nil, nil, sql.Errorf(b.P, ErrUnsupported, "join keys of types %s and %s cannot be compared directly yet; CAST one side to the other's type", lt, rt)
					}
					lkeys, rkeys = append(lkeys, i), append(rkeys, j-nl)
					continue
				}
			}
		}
		residual = append(residual, c)
	}
	if len(lkeys) == 0 {
		return nil, nil, sql.Errorf(t.P, ErrUnsupported, "a join needs at least one equality between a column of each side (e.g. ON a.id = b.id); non-equi joins are not supported yet")
	}
	var res expr.Expr
	for _, c := range residual {
		x, err := p.b.expr(c, sc)
		if err != nil {
			return nil, nil, err
		}
		if x.Type().Kind != types.Boolean {
			return nil, nil, sql.Errorf(c.Position(), ErrValidation, "join condition must be BOOLEAN, got %s", x.Type())
		}
		if res == nil {
			res = x
		} else if res, err = expr.Call(p.Env, "AND", res, x); err != nil {
			return nil, nil, err
		}
	}
	// An interval join (the condition bounds the two sides' rowtimes against each other) keeps only the rows
	// that can still match as watermarks advance.
	var iv *exec.IntervalBounds
	if !p.Batch && ln.Mode().IsInsertOnly() && rn.Mode().IsInsertOnly() {
		iv = p.intervalBounds(residual, sc, nl, ln, rn)
	}
	out := joinOutput(sc, nl, jt == exec.RightJoin || jt == exec.FullJoin, jt == exec.LeftJoin || jt == exec.FullJoin)
	return &Join{Left: ln, Right: rn, Type: jt, LeftKeys: lkeys, RightKeys: rkeys, Residual: res, Interval: iv, Batch: p.Batch, Out: out}, sc, nil
}

func qualified2(qual, name string) []string {
	if qual == "" {
		return []string{name}
	}
	return []string{qual, name}
}

func unparen(e sql.Expr) sql.Expr {
	for {
		p, ok := e.(*sql.Paren)
		if !ok {
			return e
		}
		e = p.X
	}
}

func splitAnd(e sql.Expr, out *[]sql.Expr) {
	if b, ok := unparen(e).(*sql.Binary); ok && b.Op == "AND" {
		splitAnd(b.L, out)
		splitAnd(b.R, out)
		return
	}
	*out = append(*out, e)
}

// joinKeyCompatible reports whether equal values of the two types have equal key encodings.
func joinKeyCompatible(a, b types.Type) bool {
	return a.EqualIgnoringNull(b) || a.IsIntegral() && b.IsIntegral() || a.IsString() && b.IsString() ||
		a.IsBinary() && b.IsBinary() || a.Kind == types.Decimal && b.Kind == types.Decimal
}

// windowTVF plans TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset])), HOP(..., slide, size [, offset])
// and CUMULATE(..., step, size [, offset]).
func (p *Planner) windowTVF(t *sql.TableFunc) (Node, *scope, error) {
	call := t.Call
	want := map[string]int{"TUMBLE": 3, "HOP": 4, "CUMULATE": 4}[call.Name]
	if len(call.Args) != want && len(call.Args) != want+1 {
		return nil, nil, sql.Errorf(call.P, ErrValidation, "%s expects %d arguments (TABLE t, DESCRIPTOR(time_col), %s[, offset]), got %d",
			call.Name, want, map[string]string{"TUMBLE": "size", "HOP": "slide, size", "CUMULATE": "step, size"}[call.Name], len(call.Args))
	}
	ta, ok := call.Args[0].(*sql.TableArg)
	if !ok {
		return nil, nil, sql.Errorf(call.Args[0].Position(), ErrValidation, "the first argument of %s must be TABLE name", call.Name)
	}
	in, insc, err := p.tableRef(&sql.TableRef{P: ta.P, Name: ta.Name})
	if err != nil {
		return nil, nil, err
	}
	d, ok := call.Args[1].(*sql.FuncCall)
	if !ok || d.Name != "DESCRIPTOR" || len(d.Args) != 1 {
		return nil, nil, sql.Errorf(call.Args[1].Position(), ErrValidation, "the second argument of %s must be DESCRIPTOR(time_col)", call.Name)
	}
	ref, ok := d.Args[0].(*sql.ColumnRef)
	if !ok {
		return nil, nil, sql.Errorf(d.Args[0].Position(), ErrValidation, "DESCRIPTOR takes a column name")
	}
	col, err := insc.resolve(ref)
	if err != nil {
		return nil, nil, err
	}
	n, err := p.buildWindow(call.Name, call.P, in, insc, col, ref, call.Args[2:], ta.Name.String())
	if err != nil {
		return nil, nil, err
	}
	return n, scopeOf(n.Out, ""), nil
}

// buildWindow builds a window TVF node of kind name (TUMBLE, HOP, CUMULATE) over in, on time column col,
// with the interval arguments args (TUMBLE: size[, offset]; HOP: slide, size[, offset]; CUMULATE: step,
// size[, offset]).
func (p *Planner) buildWindow(name string, at sql.Pos, in Node, insc *scope, col int, ref *sql.ColumnRef, args []sql.Expr, table string) (*WindowTVF, error) {
	want := map[string]int{"TUMBLE": 1, "HOP": 2, "CUMULATE": 2}[name]
	if len(args) != want && len(args) != want+1 {
		return nil, sql.Errorf(at, ErrValidation, "%s expects %d interval argument(s) (%s[, offset]), got %d",
			name, want, map[string]string{"TUMBLE": "size", "HOP": "slide, size", "CUMULATE": "step, size"}[name], len(args))
	}
	ct := insc.cols[col].typ
	if !ct.IsTimestamp() {
		return nil, sql.Errorf(ref.P, ErrValidation, "The window function requires the timecol to be a TIMESTAMP or TIMESTAMP_LTZ time attribute, but %s is %s.", insc.cols[col].name, ct)
	}
	if !p.Batch && !hasRowtime(in, insc.cols[col].name) {
		return nil, sql.Errorf(ref.P, ErrValidation, "The window function requires the timecol is a time attribute type, but is %s. Declare WATERMARK FOR %s AS ... on table %s.", ct, insc.cols[col].name, table)
	}
	if !in.Mode().IsInsertOnly() {
		return nil, sql.Errorf(at, ErrUnsupported, "window functions over updating input are not supported yet")
	}
	ms := func(i int) (int64, error) {
		x, err := p.b.expr(args[i], &scope{})
		if err != nil {
			return 0, err
		}
		if x.Type().Kind != types.IntervalDayTime || !expr.IsConstant(x) {
			return 0, sql.Errorf(args[i].Position(), ErrValidation, "%s: window intervals must be constant INTERVALs (e.g. INTERVAL '10' MINUTES)", name)
		}
		v, err := x.Eval(nil)
		if err != nil || v.IsNull() {
			return 0, sql.Errorf(args[i].Position(), ErrValidation, "%s: window intervals must not be NULL", name)
		}
		return v.I, nil
	}
	var err error
	spec := exec.WindowSpec{}
	switch name {
	case "TUMBLE":
		spec.Kind = exec.Tumble
		if spec.Size, err = ms(0); err != nil {
			return nil, err
		}
	case "HOP", "CUMULATE":
		spec.Kind = exec.Hop
		if name == "CUMULATE" {
			spec.Kind = exec.Cumulate
		}
		if spec.Slide, err = ms(0); err != nil {
			return nil, err
		}
		if spec.Size, err = ms(1); err != nil {
			return nil, err
		}
		if spec.Slide <= 0 || spec.Size%spec.Slide != 0 {
			return nil, sql.Errorf(at, ErrValidation, "%s: the size (%d ms) must be a positive multiple of the %s (%d ms)", name, spec.Size, map[bool]string{true: "step", false: "slide"}[name == "CUMULATE"], spec.Slide)
		}
	}
	if spec.Size <= 0 {
		return nil, sql.Errorf(at, ErrValidation, "%s: the window size must be positive", name)
	}
	if len(args) == want+1 {
		if spec.Offset, err = ms(want); err != nil {
			return nil, err
		}
	}
	out := append([]Field{}, in.Fields()...)
	wtType := types.TimestampType(3).WithNullable(false)
	if ct.Kind == types.TimestampLTZ {
		wtType = types.TimestampLTZType(3).WithNullable(false)
	}
	out = append(out, Field{Name: "window_start", Type: types.TimestampType(3).WithNullable(false)},
		Field{Name: "window_end", Type: types.TimestampType(3).WithNullable(false)},
		Field{Name: "window_time", Type: wtType})
	return &WindowTVF{Input: in, Spec: spec, TimeCol: col, LTZ: ct.Kind == types.TimestampLTZ, Out: out}, nil
}

// hasRowtime reports whether n's plan assigns watermarks on column name (a time attribute).
func hasRowtime(n Node, name string) bool {
	if w, ok := n.(*WatermarkAssigner); ok && w.Rowtime == name {
		return true
	}
	for _, in := range n.Inputs() {
		if hasRowtime(in, name) {
			return true
		}
	}
	return false
}

// windowInput returns the window TVF under in when in is the TVF or filters/projections of it that keep its
// columns in place.
func windowInput(in Node) *WindowTVF {
	for {
		switch n := in.(type) {
		case *WindowTVF:
			return n
		case *Calc:
			if len(n.Projects) != len(n.Input.Fields()) {
				return nil
			}
			for i, x := range n.Projects {
				if c, ok := expr.ColumnIndex(x); !ok || c != i {
					return nil
				}
			}
			in = n.Input
		default:
			return nil
		}
	}
}

func groupWindow(groupBy []sql.Expr) *sql.FuncCall {
	for _, g := range groupBy {
		if f, ok := unparen(g).(*sql.FuncCall); ok {
			switch f.Name {
			case "TUMBLE", "HOP", "SESSION":
				return f
			}
		}
	}
	return nil
}

// legacyGroupWindow rewrites a SELECT grouped by a group window function into one over a window TVF.
func (p *Planner) legacyGroupWindow(gw *sql.FuncCall, in Node, sc *scope, s *sql.Select) (Node, *scope, *sql.Select, error) {
	if len(gw.Args) < 2 {
		return nil, nil, nil, sql.Errorf(gw.P, ErrValidation, "%s needs a time attribute and interval(s): %s(ts, INTERVAL '1' HOUR)", gw.Name, gw.Name)
	}
	ref, ok := unparen(gw.Args[0]).(*sql.ColumnRef)
	if !ok {
		return nil, nil, nil, sql.Errorf(gw.Args[0].Position(), ErrValidation, "the first argument of %s must be a time attribute column", gw.Name)
	}
	col, err := sc.resolve(ref)
	if err != nil {
		return nil, nil, nil, err
	}
	var tvf *WindowTVF
	if gw.Name == "SESSION" {
		tvf, err = p.sessionWindow(gw, in, sc, col, ref, s.GroupBy)
	} else {
		tvf, err = p.buildWindow(gw.Name, gw.P, in, sc, col, ref, gw.Args[1:], "the FROM clause")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	nsc := &scope{cols: append(append([]scopeCol{}, sc.cols...),
		scopeCol{name: "$window_start", typ: tvf.Out[len(tvf.Out)-3].Type},
		scopeCol{name: "$window_end", typ: tvf.Out[len(tvf.Out)-2].Type},
		scopeCol{name: "$window_time", typ: tvf.Out[len(tvf.Out)-1].Type})}
	ref2 := func(at sql.Pos, name string) sql.Expr { return &sql.ColumnRef{P: at, Parts: []string{name}} }
	prefix := gw.Name + "_"
	rewrite := func(e sql.Expr) sql.Expr {
		return rewriteExpr(e, func(e sql.Expr) (sql.Expr, bool) {
			if f, ok := e.(*sql.FuncCall); ok && strings.HasPrefix(f.Name, prefix) {
				switch strings.TrimPrefix(f.Name, prefix) {
				case "START":
					return ref2(f.P, "$window_start"), true
				case "END":
					return ref2(f.P, "$window_end"), true
				case "ROWTIME":
					return ref2(f.P, "$window_time"), true
				}
			}
			return nil, false
		})
	}
	ns := *s
	ns.Items = nil
	for i, it := range s.Items {
		c := *it
		if it.Expr != nil {
			c.Expr = rewrite(it.Expr)
			if c.Alias == "" && c.Expr != it.Expr {
				if _, isRef := it.Expr.(*sql.ColumnRef); !isRef {
					c.Alias = fmt.Sprintf("EXPR$%d", i)
				}
			}
		}
		ns.Items = append(ns.Items, &c)
	}
	if s.Having != nil {
		ns.Having = rewrite(s.Having)
	}
	ns.GroupBy = nil
	for _, g := range s.GroupBy {
		if unparen(g) == sql.Expr(gw) {
			ns.GroupBy = append(ns.GroupBy, ref2(gw.P, "$window_start"), ref2(gw.P, "$window_end"))
			continue
		}
		ns.GroupBy = append(ns.GroupBy, g)
	}
	return tvf, nsc, &ns, nil
}

func rowNumberItem(items []*sql.SelectItem) (*sql.FuncCall, int) {
	for i, it := range items {
		if f, ok := unparen(it.Expr).(*sql.FuncCall); ok && f.Over != nil && (f.Name == "ROW_NUMBER" || f.Name == "RANK" || f.Name == "DENSE_RANK") {
			return f, i
		}
	}
	return nil, -1
}

// rowNumber plans ROW_NUMBER() OVER (PARTITION BY cols ORDER BY cols) as a Rank node over in; the item
// becomes a reference to the rank's row-number column.
func (p *Planner) rowNumber(f *sql.FuncCall, item int, in Node, sc *scope, s *sql.Select) (Node, *scope, *sql.Select, error) {
	w := f.Over
	if w.Ref != "" {
		return nil, nil, nil, sql.Errorf(w.P, ErrUnsupported, "named windows (OVER %s) are not supported yet", w.Ref)
	}
	if len(w.OrderBy) == 0 {
		return nil, nil, nil, sql.Errorf(w.P, ErrValidation, "%s() needs ORDER BY in its OVER clause", f.Name)
	}
	if len(s.GroupBy) > 0 {
		return nil, nil, nil, sql.Errorf(f.P, ErrUnsupported, "%s() in an aggregating query is not supported yet; aggregate in a subquery first", f.Name)
	}
	col := func(e sql.Expr) (int, error) {
		ref, ok := unparen(e).(*sql.ColumnRef)
		if !ok {
			return 0, sql.Errorf(e.Position(), ErrUnsupported, "PARTITION BY and ORDER BY of %s() take columns; compute %s in a subquery first", f.Name, sql.FormatExpr(e))
		}
		return sc.resolve(ref)
	}
	r := &Rank{Input: in, Limit: -1, Batch: p.Batch, Func: f.Name}
	for _, e := range w.PartitionBy {
		c, err := col(e)
		if err != nil {
			return nil, nil, nil, err
		}
		r.Partition = append(r.Partition, c)
	}
	for _, o := range w.OrderBy {
		c, err := col(o.Expr)
		if err != nil {
			return nil, nil, nil, err
		}
		nf := !o.Desc
		if o.NullsFirst != nil {
			nf = *o.NullsFirst
		}
		r.Order = append(r.Order, exec.SortKey{Col: c, Desc: o.Desc, NullsFirst: nf})
	}
	name := s.Items[item].Alias
	if name == "" {
		name = fmt.Sprintf("EXPR$%d", item)
	}
	r.Out = append(append([]Field{}, in.Fields()...), Field{Name: name, Type: types.BigIntType().WithNullable(false)})
	nsc := &scope{cols: append(append([]scopeCol{}, sc.cols...), scopeCol{name: "$row_number", typ: types.BigIntType().WithNullable(false)})}
	ns := *s
	ns.Items = append([]*sql.SelectItem{}, s.Items...)
	it := *s.Items[item]
	it.Expr, it.Alias = &sql.ColumnRef{P: f.P, Parts: []string{"$row_number"}}, name
	ns.Items[item] = &it
	return r, nsc, &ns, nil
}

// pushRankLimit finds `rn <= N`, `rn < N` or `rn = 1` conditions in where on the row number of a Rank below
// in, and sets the rank's limit (the filter stays; the rank then keeps its output to the top N).
func pushRankLimit(where sql.Expr, in Node, sc *scope) {
	var conds []sql.Expr
	splitAnd(where, &conds)
	for _, c := range conds {
		b, ok := unparen(c).(*sql.Binary)
		if !ok {
			continue
		}
		op, l, r := b.Op, unparen(b.L), unparen(b.R)
		if _, isLit := l.(*sql.Literal); isLit {
			l, r = r, l
			op = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}[op]
		}
		ref, ok1 := l.(*sql.ColumnRef)
		lit, ok2 := r.(*sql.Literal)
		if !ok1 || !ok2 || lit.Kind != sql.LitInteger {
			continue
		}
		n, err := strconv.ParseInt(lit.Text, 10, 64)
		if err != nil {
			continue
		}
		idx, err := sc.resolve(ref)
		if err != nil {
			continue
		}
		rank := rankBelow(in, idx)
		if rank == nil {
			continue
		}
		limit := int64(-1)
		switch op {
		case "<=":
			limit = n
		case "<":
			limit = n - 1
		case "=":
			if n == 1 {
				limit = 1
			}
		}
		if limit >= 0 && (rank.Limit < 0 || limit < rank.Limit) {
			rank.Limit = max(limit, 0)
		}
	}
}

// rankBelow returns the Rank whose row-number column is column col of in (through projections).
func rankBelow(in Node, col int) *Rank {
	for {
		switch n := in.(type) {
		case *Rank:
			if col == len(n.Out)-1 {
				return n
			}
			return nil
		case *Calc:
			if n.Filter != nil || col >= len(n.Projects) {
				return nil
			}
			c, ok := expr.ColumnIndex(n.Projects[col])
			if !ok {
				return nil
			}
			in, col = n.Input, c
		default:
			return nil
		}
	}
}

// rewriteExpr rebuilds e bottom-up, replacing every node for which fn returns (replacement, true).
func rewriteExpr(e sql.Expr, fn func(sql.Expr) (sql.Expr, bool)) sql.Expr {
	if e == nil {
		return nil
	}
	if r, ok := fn(e); ok {
		return r
	}
	switch e := e.(type) {
	case *sql.FuncCall:
		c := *e
		c.Args = make([]sql.Expr, len(e.Args))
		for i, a := range e.Args {
			c.Args[i] = rewriteExpr(a, fn)
		}
		c.Filter = rewriteExpr(e.Filter, fn)
		return &c
	case *sql.Binary:
		c := *e
		c.L, c.R = rewriteExpr(e.L, fn), rewriteExpr(e.R, fn)
		return &c
	case *sql.Unary:
		c := *e
		c.X = rewriteExpr(e.X, fn)
		return &c
	case *sql.Paren:
		c := *e
		c.X = rewriteExpr(e.X, fn)
		return &c
	case *sql.Cast:
		c := *e
		c.X = rewriteExpr(e.X, fn)
		return &c
	case *sql.IsTest:
		c := *e
		c.X = rewriteExpr(e.X, fn)
		return &c
	case *sql.Case:
		c := *e
		c.Operand = rewriteExpr(e.Operand, fn)
		c.Whens = nil
		for _, w := range e.Whens {
			c.Whens = append(c.Whens, &sql.When{Cond: rewriteExpr(w.Cond, fn), Result: rewriteExpr(w.Result, fn)})
		}
		c.Else = rewriteExpr(e.Else, fn)
		return &c
	}
	return e
}

func isOverAgg(e sql.Expr) (*sql.FuncCall, bool) {
	f, ok := e.(*sql.FuncCall)
	if !ok || f.Over == nil || !aggFuncs[f.Name] {
		return nil, false
	}
	return f, true
}

func hasOverAgg(s *sql.Select) bool {
	found := false
	for _, it := range s.Items {
		rewriteExpr(it.Expr, func(e sql.Expr) (sql.Expr, bool) {
			if _, ok := isOverAgg(e); ok {
				found = true
				return e, true
			}
			return nil, false
		})
	}
	return found
}

func windowSpecText(w *sql.WindowSpec) string {
	var b strings.Builder
	for _, e := range w.PartitionBy {
		b.WriteString(sql.FormatExpr(e) + ",")
	}
	b.WriteString("|")
	for _, o := range w.OrderBy {
		fmt.Fprintf(&b, "%s %v,", sql.FormatExpr(o.Expr), o.Desc)
	}
	return b.String() + "|" + w.Frame
}

// overAggregate plans aggregates with an OVER window (all with the same window) as an OverAggregate node over
// in; the calls become references to its result columns.
func (p *Planner) overAggregate(in Node, sc *scope, s *sql.Select) (Node, *scope, *sql.Select, error) {
	if len(s.GroupBy) > 0 {
		return nil, nil, nil, sql.Errorf(s.P, ErrUnsupported, "OVER aggregates in an aggregating query are not supported yet; aggregate in a subquery first")
	}
	var calls []*sql.FuncCall
	for _, it := range s.Items {
		rewriteExpr(it.Expr, func(e sql.Expr) (sql.Expr, bool) {
			if f, ok := isOverAgg(e); ok {
				calls = append(calls, f)
				return e, true
			}
			return nil, false
		})
	}
	// OVER w refers to WINDOW w AS (...).
	for _, c := range calls {
		if c.Over.Ref == "" {
			continue
		}
		found := false
		for _, nw := range s.Windows {
			if strings.EqualFold(nw.Name, c.Over.Ref) {
				c.Over, found = nw.Spec, true
			}
		}
		if !found {
			return nil, nil, nil, sql.Errorf(c.Over.P, ErrValidation, "Window '%s' not found; define it with WINDOW %s AS (...)", c.Over.Ref, c.Over.Ref)
		}
	}
	// This pass plans the calls over the first call's window; calls over other windows are planned by
	// further passes, each an OverAggregate over the previous one.
	w := calls[0].Over
	var same []*sql.FuncCall
	for _, c := range calls {
		if windowSpecText(c.Over) == windowSpecText(w) {
			same = append(same, c)
		}
	}
	calls = same
	index := map[*sql.FuncCall]int{}
	for i, c := range calls {
		index[c] = i
	}
	if w.Ref != "" {
		return nil, nil, nil, sql.Errorf(w.P, ErrUnsupported, "named windows (OVER %s) are not supported yet", w.Ref)
	}
	if len(w.OrderBy) != 1 || w.OrderBy[0].Desc {
		return nil, nil, nil, sql.Errorf(w.P, ErrUnsupported, "OVER windows must be ordered by one time attribute, ascending (e.g. ORDER BY ts)")
	}
	oref, ok := unparen(w.OrderBy[0].Expr).(*sql.ColumnRef)
	if !ok {
		return nil, nil, nil, sql.Errorf(w.OrderBy[0].Expr.Position(), ErrUnsupported, "OVER windows must be ordered by a time attribute column")
	}
	orderCol, err := sc.resolve(oref)
	if err != nil {
		return nil, nil, nil, err
	}
	if ot := sc.cols[orderCol].typ; !ot.IsTimestamp() || !p.Batch && !hasRowtime(in, sc.cols[orderCol].name) {
		return nil, nil, nil, sql.Errorf(oref.P, ErrValidation, "OVER windows' ordering in stream mode must be defined on a time attribute; %s is %s (declare WATERMARK FOR %s AS ...)", sc.cols[orderCol].name, ot, sc.cols[orderCol].name)
	}
	if !in.Mode().IsInsertOnly() {
		return nil, nil, nil, sql.Errorf(w.P, ErrUnsupported, "OVER aggregates over updating input are not supported yet")
	}
	var frame exec.OverFrame
	ftext := strings.ToUpper(w.Frame)
	switch {
	case ftext == "":
		frame.Unbounded = true
	case !strings.HasSuffix(ftext, "CURRENT ROW"):
		return nil, nil, nil, sql.Errorf(w.P, ErrUnsupported, "OVER window frames must end at CURRENT ROW (got %s)", w.Frame)
	default:
		frame.Rows = strings.HasPrefix(ftext, "ROWS")
		if strings.Contains(ftext, "UNBOUNDED PRECEDING") {
			frame.Unbounded = true
		} else if w.FrameStart == nil {
			frame.Preceding = 0
		} else {
			x, err := p.b.expr(w.FrameStart, &scope{})
			if err != nil {
				return nil, nil, nil, err
			}
			v, err := x.Eval(nil)
			if err != nil || v.IsNull() || !expr.IsConstant(x) {
				return nil, nil, nil, sql.Errorf(w.FrameStart.Position(), ErrValidation, "the OVER frame's PRECEDING bound must be a constant")
			}
			switch {
			case frame.Rows && x.Type().IsIntegral():
				frame.Preceding = v.I
			case !frame.Rows && x.Type().Kind == types.IntervalDayTime:
				frame.Preceding = v.I
			default:
				return nil, nil, nil, sql.Errorf(w.FrameStart.Position(), ErrValidation, "ROWS frames take a row count and RANGE frames an INTERVAL, got %s", x.Type())
			}
		}
	}
	var partition []int
	for _, e := range w.PartitionBy {
		ref, ok := unparen(e).(*sql.ColumnRef)
		if !ok {
			return nil, nil, nil, sql.Errorf(e.Position(), ErrUnsupported, "PARTITION BY takes columns; compute %s in a subquery first", sql.FormatExpr(e))
		}
		c, err := sc.resolve(ref)
		if err != nil {
			return nil, nil, nil, err
		}
		partition = append(partition, c)
	}
	// Pre-projection: the input columns, then the calls' arguments.
	fields := in.Fields()
	pre := identity(fields)
	preOut := append([]Field{}, fields...)
	var aggs []exec.AggCall
	for i, f := range calls {
		if f.Filter != nil || f.Distinct {
			return nil, nil, nil, sql.Errorf(f.P, ErrUnsupported, "FILTER and DISTINCT are not supported in OVER aggregates yet")
		}
		call := exec.AggCall{Func: f.Name, Filter: -1}
		if !(f.Name == "COUNT" && (f.Star || len(f.Args) == 0)) {
			for _, a := range f.Args {
				x, err := p.b.expr(a, sc)
				if err != nil {
					return nil, nil, nil, err
				}
				call.Args = append(call.Args, len(pre))
				call.ArgTypes = append(call.ArgTypes, x.Type())
				pre = append(pre, x)
				preOut = append(preOut, Field{Name: fmt.Sprintf("$over_arg%d", len(pre)), Type: x.Type()})
			}
		}
		t, err := exec.AggResultType(f.Name, false, call.ArgTypes)
		if err != nil {
			return nil, nil, nil, sql.Errorf(f.P, ErrValidation, "%s", err.Error())
		}
		call.Type = t
		aggs = append(aggs, call)
		_ = i
	}
	preNode := project(in, pre, preOut)
	out := append([]Field{}, preOut...)
	nsc := &scope{cols: append([]scopeCol{}, sc.cols...)}
	for i := len(sc.cols); i < len(preOut); i++ {
		nsc.cols = append(nsc.cols, scopeCol{name: preOut[i].Name, typ: preOut[i].Type})
	}
	base := len(nsc.cols)
	for i, a := range aggs {
		name := fmt.Sprintf("$over%d", base+i)
		out = append(out, Field{Name: name, Type: a.Type})
		nsc.cols = append(nsc.cols, scopeCol{name: name, typ: a.Type})
	}
	node := &OverAggregate{Input: preNode, Partition: partition, OrderCol: orderCol, Frame: frame, Aggs: aggs, Out: out}
	ns := *s
	ns.Items = nil
	for i, it := range s.Items {
		c := *it
		if it.Expr != nil {
			c.Expr = rewriteExpr(it.Expr, func(e sql.Expr) (sql.Expr, bool) {
				if f, ok := e.(*sql.FuncCall); ok {
					if i, mine := index[f]; mine {
						return &sql.ColumnRef{P: f.P, Parts: []string{fmt.Sprintf("$over%d", base+i)}}, true
					}
				}
				return nil, false
			})
			if c.Alias == "" && c.Expr != it.Expr {
				c.Alias = fmt.Sprintf("EXPR$%d", i)
			}
		}
		ns.Items = append(ns.Items, &c)
	}
	return node, nsc, &ns, nil
}

// temporalJoin plans `left JOIN versioned FOR SYSTEM_TIME AS OF left.rowtime [AS r] ON left.k = r.pk`: an
// event-time temporal join against a versioned table (a primary key and a watermark).
func (p *Planner) temporalJoin(t *sql.Join, tr *sql.TableRef) (Node, *scope, error) {
	if p.Batch {
		return nil, nil, sql.Errorf(tr.P, ErrUnsupported, "temporal joins (FOR SYSTEM_TIME AS OF) are not supported in batch mode yet")
	}
	if t.Kind != "INNER" && t.Kind != "LEFT" {
		return nil, nil, sql.Errorf(t.P, ErrUnsupported, "temporal joins support INNER and LEFT JOIN, not %s", t.Kind)
	}
	ln, lsc, err := p.from(t.Left)
	if err != nil {
		return nil, nil, err
	}
	plain := *tr
	plain.SystemTimeAt = nil
	rn, rsc, err := p.tableRef(&plain)
	if err != nil {
		return nil, nil, err
	}
	tbl, ok := p.Catalog.Table(tr.Name)
	if !ok {
		return nil, nil, sql.Errorf(tr.P, ErrUnsupported, "FOR SYSTEM_TIME AS OF needs a table (a versioned table with a primary key and a watermark), not a view")
	}
	if len(tbl.PrimaryKey) == 0 {
		return nil, nil, sql.Errorf(tr.P, ErrValidation, "Temporal Table Join requires primary key in versioned table, but no primary key can be found on table %s. Declare PRIMARY KEY (...) NOT ENFORCED.", tbl.Name)
	}
	if tbl.Watermark == nil {
		return nil, nil, sql.Errorf(tr.P, ErrValidation, "Event-Time Temporal Table Join requires both primary key and row time attribute in versioned table, but no row time attribute can be found on table %s. Declare WATERMARK FOR ... AS ....", tbl.Name)
	}
	ref, ok := unparen(tr.SystemTimeAt).(*sql.ColumnRef)
	if !ok {
		return nil, nil, sql.Errorf(tr.SystemTimeAt.Position(), ErrUnsupported, "FOR SYSTEM_TIME AS OF takes the left table's time attribute column")
	}
	ltime, err := lsc.resolve(ref)
	if err != nil {
		return nil, nil, err
	}
	if !lsc.cols[ltime].typ.IsTimestamp() || !hasRowtime(ln, lsc.cols[ltime].name) {
		return nil, nil, sql.Errorf(ref.P, ErrValidation, "FOR SYSTEM_TIME AS OF %s: the left side's time must be a rowtime attribute (declare WATERMARK FOR %s AS ...); processing-time temporal joins are not supported yet", sql.FormatExpr(ref), lsc.cols[ltime].name)
	}
	rtime, err := rsc.resolve(&sql.ColumnRef{P: tr.P, Parts: []string{tbl.Watermark.Column}})
	if err != nil {
		return nil, nil, err
	}
	nl := len(lsc.cols)
	sc := &scope{cols: append(append([]scopeCol{}, lsc.cols...), rsc.cols...)}
	var conds []sql.Expr
	if t.On != nil {
		splitAnd(t.On, &conds)
	}
	var lkeys, rkeys []int
	for _, c := range conds {
		b, ok := unparen(c).(*sql.Binary)
		if !ok || b.Op != "=" {
			return nil, nil, sql.Errorf(c.Position(), ErrUnsupported, "temporal joins support equality conditions on the versioned table's primary key only, not %s", sql.FormatExpr(c))
		}
		lr, lok := unparen(b.L).(*sql.ColumnRef)
		rr, rok := unparen(b.R).(*sql.ColumnRef)
		if !lok || !rok {
			return nil, nil, sql.Errorf(c.Position(), ErrUnsupported, "temporal join conditions must compare columns: %s", sql.FormatExpr(c))
		}
		i, err := sc.resolve(lr)
		if err != nil {
			return nil, nil, err
		}
		j, err := sc.resolve(rr)
		if err != nil {
			return nil, nil, err
		}
		if i >= nl && j < nl {
			i, j = j, i
		}
		if !(i < nl && j >= nl) || !joinKeyCompatible(sc.cols[i].typ, sc.cols[j].typ) {
			return nil, nil, sql.Errorf(c.Position(), ErrUnsupported, "temporal join conditions must equate a left column with a column of the versioned table of a compatible type: %s", sql.FormatExpr(c))
		}
		lkeys, rkeys = append(lkeys, i), append(rkeys, j-nl)
	}
	for _, pk := range tbl.PrimaryKey {
		found := false
		for _, rk := range rkeys {
			if rsc.cols[rk].name == pk {
				found = true
			}
		}
		if !found {
			return nil, nil, sql.Errorf(t.P, ErrValidation, "Temporal Table Join requires an equality condition on every primary key column of the versioned table %s; %s is missing", tbl.Name, pk)
		}
	}
	out := joinOutput(sc, nl, false, t.Kind == "LEFT")
	n := &TemporalJoin{Left: ln, Right: rn, LeftKeys: lkeys, RightKeys: rkeys, LeftTime: ltime, RightTime: rtime, Outer: t.Kind == "LEFT", Out: out}
	return n, sc, nil
}

// joinOutput returns a join's output fields: the left columns (the first nl of sc) then the right ones; the
// columns of a NULL-padded side become nullable (in sc too); duplicate names get a numeric suffix as in
// Flink (id, id0).
func joinOutput(sc *scope, nl int, leftPadded, rightPadded bool) []Field {
	var out []Field
	seen := map[string]bool{}
	for i, c := range sc.cols {
		typ := c.typ
		if i < nl && leftPadded || i >= nl && rightPadded {
			typ = typ.WithNullable(true)
			sc.cols[i].typ = typ
		}
		name := c.name
		for k := 0; seen[name]; k++ {
			name = fmt.Sprintf("%s%d", c.name, k)
		}
		seen[name] = true
		out = append(out, Field{Name: name, Type: typ})
	}
	return out
}

// sessionWindow builds the session window node of GROUP BY SESSION(ts, gap), partitioned by the other
// GROUP BY columns.
func (p *Planner) sessionWindow(gw *sql.FuncCall, in Node, sc *scope, col int, ref *sql.ColumnRef, groupBy []sql.Expr) (*WindowTVF, error) {
	if len(gw.Args) != 2 {
		return nil, sql.Errorf(gw.P, ErrValidation, "SESSION takes a time attribute and a gap: SESSION(ts, INTERVAL '10' MINUTE)")
	}
	// Validate the time column and read the gap as TUMBLE's size.
	w, err := p.buildWindow("TUMBLE", gw.P, in, sc, col, ref, gw.Args[1:], "the FROM clause")
	if err != nil {
		return nil, err
	}
	w.Spec = exec.WindowSpec{Kind: exec.Session, Size: w.Spec.Size}
	for _, g := range groupBy {
		if unparen(g) == sql.Expr(gw) {
			continue
		}
		r, ok := unparen(g).(*sql.ColumnRef)
		if !ok {
			return nil, sql.Errorf(g.Position(), ErrUnsupported, "with SESSION windows, GROUP BY takes columns; compute %s in a subquery first", sql.FormatExpr(g))
		}
		c, err := sc.resolve(r)
		if err != nil {
			return nil, err
		}
		w.Partition = append(w.Partition, c)
	}
	return w, nil
}

// intervalBounds recognizes time bounds between the rowtimes of the two sides of a join in its conditions
// (l.ts BETWEEN r.ts - INTERVAL '1' HOUR AND r.ts, l.ts >= r.ts - ..., ...) and returns them when both a
// lower and an upper bound on the same pair of time attributes are found.
func (p *Planner) intervalBounds(conds []sql.Expr, sc *scope, nl int, ln, rn Node) *exec.IntervalBounds {
	// timeOffset reads `col` or `col ± INTERVAL`.
	timeOffset := func(e sql.Expr) (int, int64, bool) {
		e = unparen(e)
		var off int64
		if b, ok := e.(*sql.Binary); ok && (b.Op == "+" || b.Op == "-") {
			x, err := p.b.expr(b.R, &scope{})
			if err != nil || x.Type().Kind != types.IntervalDayTime || !expr.IsConstant(x) {
				return 0, 0, false
			}
			v, err := x.Eval(nil)
			if err != nil || v.IsNull() {
				return 0, 0, false
			}
			off = v.I
			if b.Op == "-" {
				off = -off
			}
			e = unparen(b.L)
		}
		ref, ok := e.(*sql.ColumnRef)
		if !ok {
			return 0, 0, false
		}
		c, err := sc.resolve(ref)
		if err != nil || !sc.cols[c].typ.IsTimestamp() {
			return 0, 0, false
		}
		return c, off, true
	}
	iv := &exec.IntervalBounds{LeftTime: -1, RightTime: -1}
	hasLo, hasHi := false, false
	// bound records x op y, with x and y time offsets.
	bound := func(x, y sql.Expr, op string) {
		cx, ox, ok1 := timeOffset(x)
		cy, oy, ok2 := timeOffset(y)
		if !ok1 || !ok2 {
			return
		}
		// cx + ox op cy + oy  <=>  cx - cy op oy - ox
		d := oy - ox
		if cx >= nl && cy < nl { // right op left: flip to left - right
			cx, cy, d = cy, cx, -d
			op = map[string]string{">=": "<=", ">": "<", "<=": ">=", "<": ">"}[op]
		}
		if !(cx < nl && cy >= nl) {
			return
		}
		l, r := cx, cy-nl
		if iv.LeftTime >= 0 && (iv.LeftTime != l || iv.RightTime != r) {
			return
		}
		iv.LeftTime, iv.RightTime = l, r
		switch op {
		case ">=", ">":
			if !hasLo || d > iv.Lower {
				iv.Lower, hasLo = d, true
			}
		case "<=", "<":
			if !hasHi || d < iv.Upper {
				iv.Upper, hasHi = d, true
			}
		}
	}
	for _, c := range conds {
		switch e := unparen(c).(type) {
		case *sql.Between:
			if !e.Not && !e.Symmetric {
				bound(e.X, e.Lo, ">=")
				bound(e.X, e.Hi, "<=")
			}
		case *sql.Binary:
			switch e.Op {
			case ">=", ">", "<=", "<":
				bound(e.L, e.R, e.Op)
			}
		}
	}
	if !hasLo || !hasHi || iv.Lower > iv.Upper {
		return nil
	}
	if !hasRowtime(ln, sc.cols[iv.LeftTime].name) || !hasRowtime(rn, sc.cols[nl+iv.RightTime].name) {
		return nil
	}
	return iv
}

// semiJoins plans the `x IN (SELECT y ...)` conjuncts of where as joins of in with the distinct values of
// the subquery (a semi-join; the distinct aggregate retracts, so updating subqueries stay correct), and
// returns the remaining condition (nil when none).
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
		fields := in.Fields()
		out := append(append([]Field{}, fields...), Field{Name: "$in", Type: sf[0].Type})
		j := &Join{Left: in, Right: p.distinct(sub), Type: exec.InnerJoin, LeftKeys: []int{col}, RightKeys: []int{0}, Batch: p.Batch, Out: out}
		in = &Calc{Input: j, Projects: identity(fields), Out: fields}
	}
	return in, rest, nil
}
