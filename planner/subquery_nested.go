package planner

import (
	"errors"
	"reflect"
	"strings"

	"github.com/sluicesql/sluice/sql"
)

// A subquery nested inside a subquery may refer to the outermost query's columns (`... EXISTS (SELECT ...
// WHERE u.a = t.a AND EXISTS (SELECT ... WHERE v.b = t.b))`). Sluice decorrelates one level only, so such a
// reference is refused, positioned at it, with what to write instead, rather than reported as a column that
// does not exist.

// nestedQueries returns the subqueries directly inside e (not those inside them).
func nestedQueries(e sql.Expr) []*sql.Query {
	_, qs := exprParts(e)
	return qs
}

// selectExprs are the expressions of sel that may hold column references and subqueries.
func selectExprs(sel *sql.Select) []sql.Expr {
	out := []sql.Expr{sel.Where, sel.Having}
	for _, it := range sel.Items {
		out = append(out, it.Expr)
	}
	return append(out, sel.GroupBy...)
}

// deepOuterRef finds, in the subqueries nested inside sel (whose FROM scope is inner), a column reference
// that only outer resolves: a reference from two or more levels down to the enclosing query.
func (p *Planner) deepOuterRef(sel *sql.Select, inner, outer *scope) *sql.ColumnRef {
	var visit func(q *sql.Query, chain []*scope) *sql.ColumnRef
	visit = func(q *sql.Query, chain []*scope) *sql.ColumnRef {
		s, ok := q.Body.(*sql.Select)
		if !ok || s.From == nil {
			return nil
		}
		_, own, err := p.from(s.From)
		if err != nil {
			return nil // binding the subquery reports it
		}
		chain = append(chain[:len(chain):len(chain)], own)
		for _, e := range selectExprs(s) {
			for _, ref := range columnRefs(e) {
				resolved := false
				for _, sc := range chain {
					if _, _, err := sc.resolvePath(ref); err == nil {
						resolved = true
						break
					}
				}
				if !resolved {
					if _, _, err := outer.resolvePath(ref); err == nil {
						return ref
					}
				}
			}
			for _, nq := range nestedQueries(e) {
				if r := visit(nq, chain); r != nil {
					return r
				}
			}
		}
		return nil
	}
	for _, e := range selectExprs(sel) {
		for _, nq := range nestedQueries(e) {
			if r := visit(nq, []*scope{inner}); r != nil {
				return r
			}
		}
	}
	return nil
}

// outerRefError turns err, an error binding subquery q of an enclosing query with scope outer, into a
// positioned "not supported yet" when it reports a column that is not found but that the enclosing query
// has: a correlated reference where Sluice does not decorrelate (in a derived table, a WITH query or a
// UNION, INTERSECT or EXCEPT branch of the subquery). A correlated reference never reports "Column not
// found". Other errors are returned unchanged.
func (p *Planner) outerRefError(err error, q *sql.Query, outer *scope) error {
	var se *sql.Error
	if err == nil || q == nil || outer == nil || !errors.As(err, &se) || !errors.Is(err, ErrValidation) || !strings.Contains(se.Msg, "not found") {
		return err
	}
	var found *sql.ColumnRef
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		if found != nil {
			return
		}
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if v.IsNil() {
				return
			}
			if r, ok := v.Interface().(*sql.ColumnRef); ok {
				if r.P.Line == se.Pos.Line && r.P.Col == se.Pos.Col {
					if _, _, err := outer.resolvePath(r); err == nil {
						found = r
					}
				}
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
	walk(reflect.ValueOf(q))
	if found == nil {
		return err
	}
	return sql.Errorf(found.P, ErrUnsupported, "a reference to the outer column %s inside a derived table, a WITH query or a UNION, INTERSECT or EXCEPT branch of a subquery is not supported yet: Sluice decorrelates references in the subquery's own WHERE clause; move the condition there",
		sql.JoinIdents(found.Parts))
}
