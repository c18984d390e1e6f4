package planner

import (
	"strconv"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

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
	case "CROSS":
		// A cross join (FROM a, b without a WHERE, CROSS JOIN) is a join without keys: one group.
		jt = exec.InnerJoin
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
	var special []specialKey // keys that need computed key columns (join_keys.go)
	for _, c := range conds {
		if b, ok := unparen(c).(*sql.Binary); ok && (b.Op == "=" || b.Op == "IS NOT DISTINCT FROM") {
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
					if b.Op == "=" && joinKeyCompatible(lt, rt) {
						lkeys, rkeys = append(lkeys, i), append(rkeys, j-nl)
						continue
					}
					k, err := p.specialKey(b, i, j-nl, lt, rt)
					if err != nil {
						return nil, nil, err
					}
					special = append(special, k)
					continue
				}
			}
		}
		residual = append(residual, c)
	}
	if len(special) > 0 || len(lkeys) == 0 {
		return p.keyedJoin(jt, ln, rn, lsc, rsc, lkeys, rkeys, special, residual)
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
	// (The physical pass makes it one in streaming mode when both inputs are insert-only.)
	iv := p.intervalBounds(residual, sc, nl, ln, rn)
	out := joinOutput(sc, nl, jt == exec.RightJoin || jt == exec.FullJoin, jt == exec.LeftJoin || jt == exec.FullJoin)
	return &Join{Left: ln, Right: rn, Type: jt, LeftKeys: lkeys, RightKeys: rkeys, Residual: res, Bounds: iv, Out: out}, sc, nil
}

// joinKeyCompatible reports whether equal values of the two types have equal key encodings.
func joinKeyCompatible(a, b types.Type) bool {
	return a.EqualIgnoringNull(b) || a.IsIntegral() && b.IsIntegral() || a.IsString() && b.IsString() ||
		a.IsBinary() && b.IsBinary() || a.Kind == types.Decimal && b.Kind == types.Decimal
}

// joinOutput returns a join's output fields: the left columns (the first nl of sc) then the right ones; the
// columns of a NULL-padded side become nullable (in sc too); duplicate names get a numeric suffix as in
// Flink (id, id0).
func joinOutput(sc *scope, nl int, leftPadded, rightPadded bool) []Field {
	out := make([]Field, 0, len(sc.cols))
	seen := make(map[string]bool, len(sc.cols))
	next := map[string]int{} // the first suffix not yet tried for a name (earlier ones are all taken)
	for i, c := range sc.cols {
		typ := c.typ
		if i < nl && leftPadded || i >= nl && rightPadded {
			typ = typ.WithNullable(true)
			sc.cols[i].typ = typ
		}
		name := c.name
		if seen[name] {
			k := next[c.name]
			for ; seen[name]; k++ {
				name = c.name + strconv.Itoa(k)
			}
			next[c.name] = k
		}
		seen[name] = true
		out = append(out, Field{Name: name, Type: typ})
	}
	return out
}
