package planner

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// PlanInsert plans INSERT INTO ... and checks that the sink accepts the query's changelog.
func (p *Planner) PlanInsert(ins *sql.Insert) (*Sink, error) {
	p.init()
	n, err := p.bindInsert(ins)
	if err != nil {
		return nil, err
	}
	out, err := p.optimize(n)
	if err != nil {
		return nil, err
	}
	return out.(*Sink), nil
}

// bindInsert binds INSERT INTO ... to a logical plan rooted at a Sink.
func (p *Planner) bindInsert(ins *sql.Insert) (*Sink, error) {
	t, ok := p.Catalog.Table(ins.Table)
	if !ok {
		if _, isView := p.Catalog.View(ins.Table); isView {
			return nil, sql.Errorf(ins.Table.P, ErrValidation, "cannot INSERT INTO view %s; views are read-only", ins.Table)
		}
		return nil, p.Catalog.NotFound(ins.Table)
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
			if !lengthOnly(x.Type(), c.Type) || p.sinkOption("table.exec.sink.type-length-enforcer", "IGNORE") == "TRIM_PAD" {
				cx, err := expr.Cast(p.Env, x, c.Type.WithNullable(x.Type().Nullable()), false)
				if err != nil {
					return nil, sql.Errorf(ins.Query.P, ErrValidation, "column %s: %v", c.Name, err)
				}
				x, needCalc = cx, true
			}
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
	// The physical pass creates the sink (for the runtime mode).
	if _, err := p.Connectors.SinkFactory(t.Options["connector"]); err != nil {
		return nil, tableErr(t, ins.Table.P, err)
	}
	// The physical pass checks that the sink can consume the query's changelog.
	return &Sink{Input: q, Table: t, Pos: ins.P, TablePos: ins.Table.P, Overwrite: ins.Overwrite}, nil
}

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

// lengthOnly reports whether a query column of type from reaches a sink column of type to without a cast
// under Flink's default 'table.exec.sink.type-length-enforcer' = IGNORE: a character string into a VARCHAR or
// a byte string into a VARBINARY of another length keeps its value (no trimming); TRIM_PAD casts, trimming
// to the column's length (and padding CHAR columns).
func lengthOnly(from, to types.Type) bool {
	switch to.Kind {
	case types.VarChar:
		return from.Kind == types.VarChar || from.Kind == types.Char
	case types.VarBinary:
		return from.Kind == types.VarBinary || from.Kind == types.Binary
	}
	return false
}
