package planner

import (
	"github.com/sluicesql/sluice/sql"
)

// temporalJoin plans `left JOIN versioned FOR SYSTEM_TIME AS OF left.rowtime [AS r] ON left.k = r.pk`: an
// event-time temporal join against a versioned table (a primary key and a watermark).
func (p *Planner) temporalJoin(t *sql.Join, tr *sql.TableRef) (Node, *scope, error) {
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
	if n, sc, ok, err := p.lookupJoin(t, tr, ln, lsc, tbl); ok {
		return n, sc, err
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
	timeErr := sql.Errorf(ref.P, ErrValidation, "FOR SYSTEM_TIME AS OF %s: the left side's time must be a rowtime attribute (declare WATERMARK FOR %s AS ...); processing-time temporal joins are not supported yet", sql.FormatExpr(ref), lsc.cols[ltime].name)
	if !lsc.cols[ltime].typ.IsTimestamp() {
		return nil, nil, timeErr
	}
	// Whether it is a rowtime attribute (a watermark's column, or window_time kept through window operators)
	// is checked by the physical pass, on the rewritten plan.
	ltAttr := timeAttribute{name: lsc.cols[ltime].name, err: timeErr}
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
	n := &TemporalJoin{Left: ln, Right: rn, LeftKeys: lkeys, RightKeys: rkeys, LeftTime: ltime, RightTime: rtime, Outer: t.Kind == "LEFT", Out: out, Pos: tr.P, LeftTimeAttr: ltAttr}
	return n, sc, nil
}
