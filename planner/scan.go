package planner

import (
	"fmt"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

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
	case *sql.MatchRecognize:
		return p.matchRecognize(t)
	case *sql.TableFunc:
		switch t.Call.Name {
		case "TUMBLE", "HOP", "CUMULATE", "SESSION":
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
	// The physical pass creates the source (for the runtime mode) and checks that batch mode can read it.
	if _, err := p.Connectors.SourceFactory(tbl.Options["connector"]); err != nil {
		return nil, nil, tableErr(tbl, t.P, err)
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
	var n Node = &Scan{Table: tbl, Out: scanOut, Pos: t.P}
	// (An upsert source gets its ChangelogNormalize in the physical pass.)
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
		n = project(n, projects, out)
	}
	if tbl.Watermark != nil { // (batch mode drops it: rule watermarkAssignerRemove)
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

// metaCols returns the positions of tbl's metadata columns among its scan's columns (the physical columns,
// then the metadata columns, each in declaration order).
func metaCols(tbl *catalog.Table) []int {
	var out []int
	phys := 0
	for _, c := range tbl.Columns {
		if c.Kind == sql.PhysicalColumn {
			phys++
		}
	}
	for _, c := range tbl.Columns {
		if c.Kind == sql.MetadataColumn {
			out = append(out, phys+len(out))
		}
	}
	return out
}
