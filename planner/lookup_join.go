package planner

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/sql"
)

// LookupJoin is a processing-time temporal join (`JOIN dim FOR SYSTEM_TIME AS OF o.proc_time ON o.k =
// dim.k`) against a table whose connector serves lookups (connectors.LookupFactory): every input row is
// joined with the rows the lookup returns when it arrives. The dim table is not an input of the plan.
type LookupJoin struct {
	Input Node
	Table *catalog.Table
	// LeftKeys are input columns; DimKeys the dim table's physical columns they equal, in the same order.
	LeftKeys, DimKeys []int
	Outer             bool
	Out               []Field
	Lookup            connectors.LookupSource // physical: created by the physical pass
	// Pushed (physical) is the projection of the dim table's physical columns handed to Lookup by projection
	// pushdown (projection.go), nil when none was: the dim columns it does not need are NULL.
	Pushed *formats.Projection
	Pos    sql.Pos
}

func (n *LookupJoin) Fields() []Field { return n.Out }
func (n *LookupJoin) Inputs() []Node  { return []Node{n.Input} }

// Mode is the input's kinds: each change of the input is joined with the current dim rows.
func (n *LookupJoin) Mode() changelog.Mode { return changelog.Mode{Kinds: n.Input.Mode().Kinds} }

func (n *LookupJoin) Describe() string {
	in := n.Input.Fields()
	phys := n.Table.PhysicalColumns()
	var keys []string
	for i := range n.LeftKeys {
		keys = append(keys, phys[n.DimKeys[i]].Name+"="+in[n.LeftKeys[i]].Name)
	}
	kind := "InnerJoin"
	if n.Outer {
		kind = "LeftOuterJoin"
	}
	return fmt.Sprintf("LookupJoin(table=[%s], joinType=[%s], lookup=[%s], select=[%s])",
		qualified(n.Table.Name), kind, strings.Join(keys, ", "), names(n.Out))
}

// hasProctime reports whether a scan in n declares the column name AS PROCTIME().
func hasProctime(n Node, name string) bool {
	if s, ok := n.(*Scan); ok {
		for _, c := range s.Table.Columns {
			if c.Name == name && c.Kind == sql.ComputedColumn && strings.EqualFold(strings.ReplaceAll(c.ExprText, " ", ""), "PROCTIME()") {
				return true
			}
		}
	}
	for _, in := range n.Inputs() {
		if hasProctime(in, name) {
			return true
		}
	}
	return false
}

// lookupJoin plans a processing-time temporal join when the AS OF column is a processing-time attribute
// of the left side (a PROCTIME() computed column, or PROCTIME() selected in a view or subquery as Nexmark
// q13 does) and tbl's connector serves lookups; ok is false otherwise (the caller plans an
// event-time temporal join).
func (p *Planner) lookupJoin(t *sql.Join, tr *sql.TableRef, ln Node, lsc *scope, tbl *catalog.Table) (n Node, sc *scope, ok bool, err error) {
	ref, isRef := unparen(tr.SystemTimeAt).(*sql.ColumnRef)
	if !isRef {
		return nil, nil, false, nil
	}
	ltime, err := lsc.resolve(ref)
	if err != nil || !hasProctime(ln, lsc.cols[ltime].name) && !isProctimeCol(ln, ltime) || hasRowtime(ln, lsc.cols[ltime].name) {
		return nil, nil, false, nil
	}
	f, ferr := p.Connectors.Lookup(tbl.Options["connector"])
	if _, lf := f.(connectors.LookupFactory); ferr != nil || !lf {
		return nil, nil, true, sql.Errorf(tr.P, ErrUnsupported, "processing-time temporal join: table '%s' (connector '%s') does not support lookups; use a connector with a lookup source (e.g. 'jdbc') or an event-time temporal join on a versioned table", tbl.Name, tbl.Options["connector"])
	}
	for _, c := range tbl.Columns {
		if c.Kind != sql.PhysicalColumn {
			return nil, nil, true, sql.Errorf(tr.P, ErrUnsupported, "processing-time temporal join: lookup table '%s' declares the non-physical column '%s', which lookups cannot fill; declare physical columns only", tbl.Name, c.Name)
		}
	}
	plain := *tr
	plain.SystemTimeAt = nil
	_, rsc, err := p.tableRef(&plain)
	if err != nil {
		return nil, nil, true, err
	}
	nl := len(lsc.cols)
	sc = &scope{cols: append(append([]scopeCol{}, lsc.cols...), rsc.cols...)}
	var conds []sql.Expr
	if t.On != nil {
		splitAnd(t.On, &conds)
	}
	var lkeys, dkeys []int
	var computed []expr.Expr // left-side key expressions (ON MOD(b.auction, 10000) = s.key), computed below the join
	for _, c := range conds {
		b, isBin := unparen(c).(*sql.Binary)
		var lr, rr *sql.ColumnRef
		if isBin && b.Op == "=" {
			lr, _ = unparen(b.L).(*sql.ColumnRef)
			rr, _ = unparen(b.R).(*sql.ColumnRef)
		}
		if isBin && b.Op == "=" && (lr == nil || rr == nil) {
			if x, j, ok := p.lookupKeyExpr(b, lsc, sc, nl); ok {
				computed = append(computed, x)
				lkeys, dkeys = append(lkeys, nl+len(computed)-1), append(dkeys, j-nl)
				continue
			}
		}
		if lr == nil || rr == nil {
			return nil, nil, true, sql.Errorf(c.Position(), ErrUnsupported, "lookup joins support equality conditions between the left side (a column or an expression over its columns) and a column of the lookup table only, not %s", sql.FormatExpr(c))
		}
		i, err := sc.resolve(lr)
		if err != nil {
			return nil, nil, true, err
		}
		j, err := sc.resolve(rr)
		if err != nil {
			return nil, nil, true, err
		}
		if i >= nl && j < nl {
			i, j = j, i
		}
		if !(i < nl && j >= nl) || !joinKeyCompatible(sc.cols[i].typ, sc.cols[j].typ) {
			return nil, nil, true, sql.Errorf(c.Position(), ErrUnsupported, "lookup join conditions must equate a left column with a column of the lookup table of a compatible type: %s", sql.FormatExpr(c))
		}
		lkeys, dkeys = append(lkeys, i), append(dkeys, j-nl)
	}
	if len(lkeys) == 0 {
		return nil, nil, true, sql.Errorf(t.P, ErrValidation, "processing-time temporal join requires an equality condition on fields of table '%s'. Add ON left.k = %s.k", tbl.Name, tbl.Name)
	}
	out := joinOutput(sc, nl, false, t.Kind == "LEFT")
	if len(computed) == 0 {
		return &LookupJoin{Input: ln, Table: tbl, LeftKeys: lkeys, DimKeys: dkeys, Outer: t.Kind == "LEFT", Out: out, Pos: tr.P}, sc, true, nil
	}
	// The computed keys are extra columns of a projection below the join, dropped by one above it.
	in := ln.Fields()
	below := make([]expr.Expr, 0, nl+len(computed))
	belowOut := make([]Field, 0, nl+len(computed))
	for i := 0; i < nl; i++ {
		below = append(below, expr.Column(i, in[i].Name, in[i].Type))
		belowOut = append(belowOut, in[i])
	}
	for i, x := range computed {
		below = append(below, x)
		belowOut = append(belowOut, Field{Name: fmt.Sprintf("$lookup_key%d", i), Type: x.Type()})
	}
	ljOut := append(append([]Field{}, belowOut...), out[nl:]...)
	lj := &LookupJoin{Input: project(ln, below, belowOut), Table: tbl, LeftKeys: lkeys, DimKeys: dkeys, Outer: t.Kind == "LEFT", Out: ljOut, Pos: tr.P}
	above := make([]expr.Expr, 0, len(out))
	for i, f := range out {
		j := i
		if i >= nl {
			j = i + len(computed)
		}
		above = append(above, expr.Column(j, ljOut[j].Name, f.Type))
	}
	return project(lj, above, out), sc, true, nil
}

// lookupKeyExpr recognizes `left expression = dim.column` (either way round) in a lookup join's ON: it
// returns the expression bound over the left side (lsc) and the dim column's index in sc.
func (p *Planner) lookupKeyExpr(b *sql.Binary, lsc, sc *scope, nl int) (expr.Expr, int, bool) {
	for _, side := range [][2]sql.Expr{{b.L, b.R}, {b.R, b.L}} {
		ref, ok := unparen(side[1]).(*sql.ColumnRef)
		if !ok {
			continue
		}
		j, err := sc.resolve(ref)
		if err != nil || j < nl {
			continue
		}
		x, err := p.b.expr(side[0], lsc)
		if err != nil || !joinKeyCompatible(x.Type(), sc.cols[j].typ) {
			continue
		}
		return x, j, true
	}
	return nil, 0, false
}

// physicalLookupJoin creates the lookup source. Both runtime modes: in batch, as in Flink, each row of the
// (bounded) input is joined with what the lookup returns when the row arrives.
func (p *Planner) physicalLookupJoin(x *LookupJoin) (Node, error) {
	f, err := p.Connectors.Lookup(x.Table.Options["connector"])
	if err != nil {
		return nil, tableErr(x.Table, x.Pos, err)
	}
	lf, _ := f.(connectors.LookupFactory)
	if lf == nil {
		return nil, sql.Errorf(x.Pos, ErrUnsupported, "table '%s' does not support lookups", x.Table.Name)
	}
	src, err := lf.CreateLookup(p.connectorContext(x.Table), x.DimKeys)
	if err != nil {
		return nil, tableErr(x.Table, x.Pos, err)
	}
	c := *x
	c.Lookup = src
	return &c, nil
}
