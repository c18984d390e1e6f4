package planner

import (
	"fmt"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// specialKey is a join key that needs computed key columns: keys of different numeric types (compared in
// their common type, as Flink casts them implicitly) and `l IS NOT DISTINCT FROM r` (NULL matches NULL:
// the key is the pair (x IS NULL, COALESCE(x, zero)), whose parts are never NULL).
type specialKey struct {
	l, r        int // columns of the left and right input
	common      types.Type
	notDistinct bool
}

func (p *Planner) specialKey(b *sql.Binary, l, r int, lt, rt types.Type) (specialKey, error) {
	common, ok := types.CommonType(lt, rt)
	if !ok || !joinKeyCompatible(common, common) {
		return specialKey{}, sql.Errorf(b.P, ErrValidation, "join keys of types %s and %s cannot be compared; CAST one side to the other's type", lt, rt)
	}
	if !joinKeyCompatible(lt, rt) && !(isNumeric(lt) && isNumeric(rt)) {
		return specialKey{}, sql.Errorf(b.P, ErrUnsupported, "join keys of types %s and %s cannot be compared directly yet; CAST one side to the other's type", lt, rt)
	}
	k := specialKey{l: l, r: r, common: common.WithNullable(true), notDistinct: b.Op == "IS NOT DISTINCT FROM"}
	if k.notDistinct {
		if _, ok := zeroOf(k.common); !ok {
			return specialKey{}, sql.Errorf(b.P, ErrUnsupported, "IS NOT DISTINCT FROM join keys of type %s are not supported yet; numeric, string and boolean keys are", common)
		}
	}
	return k, nil
}

func isNumeric(t types.Type) bool {
	switch t.Kind {
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Decimal, types.Float, types.Double:
		return true
	}
	return false
}

// zeroOf is a non-NULL value of t for COALESCE in an IS NOT DISTINCT FROM key.
func zeroOf(t types.Type) (expr.Expr, bool) {
	switch {
	case isNumeric(t):
		x, err := expr.Cast(nil, expr.Literal(types.IntValue(0), types.IntType().WithNullable(false)), t.WithNullable(false), false)
		return x, err == nil
	case t.IsString():
		return expr.Literal(types.StringValue(""), types.StringType().WithNullable(false)), true
	case t.Kind == types.Boolean:
		return expr.Literal(types.BoolValue(false), types.BooleanType().WithNullable(false)), true
	}
	return nil, false
}

// keyedJoin plans a join whose keys need computed columns, or that has no equality at all (Flink runs it on
// a single key: every row in one group). Each input gets its key columns appended by a Calc; the join's
// residual condition is bound over the inputs with those columns; a Calc on top drops them.
func (p *Planner) keyedJoin(jt exec.JoinType, ln, rn Node, lsc, rsc *scope, lkeys, rkeys []int, special []specialKey, residual []sql.Expr) (Node, *scope, error) {
	lf, rf := ln.Fields(), rn.Fields()
	lproj, rproj := identity(lf), identity(rf)
	lout, rout := append([]Field{}, lf...), append([]Field{}, rf...)
	add := func(proj *[]expr.Expr, out *[]Field, x expr.Expr) int {
		*proj = append(*proj, x)
		*out = append(*out, Field{Name: fmt.Sprintf("$key%d", len(*out)), Type: x.Type()})
		return len(*out) - 1
	}
	castTo := func(x expr.Expr, t types.Type) (expr.Expr, error) {
		if x.Type().EqualIgnoringNull(t) {
			return x, nil
		}
		return expr.Cast(p.Env, x, t.WithNullable(x.Type().Nullable()), false)
	}
	for _, k := range special {
		lx, err := castTo(lproj[k.l], k.common)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: join key cast: %v", ErrInternal, err)
		}
		rx, err := castTo(rproj[k.r], k.common)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: join key cast: %v", ErrInternal, err)
		}
		if k.notDistinct {
			zero, _ := zeroOf(k.common)
			for _, side := range []struct {
				x    expr.Expr
				proj *[]expr.Expr
				out  *[]Field
				keys *[]int
			}{{lx, &lproj, &lout, &lkeys}, {rx, &rproj, &rout, &rkeys}} {
				isNull := call("IS NULL", side.x)
				co, err := expr.Call(p.Env, "COALESCE", side.x, zero)
				if err != nil {
					return nil, nil, fmt.Errorf("%w: join key: %v", ErrInternal, err)
				}
				*side.keys = append(*side.keys, add(side.proj, side.out, isNull), add(side.proj, side.out, co))
			}
			continue
		}
		lkeys = append(lkeys, add(&lproj, &lout, lx))
		rkeys = append(rkeys, add(&rproj, &rout, rx))
	}
	if len(lkeys) == 0 {
		t := expr.Literal(types.BoolValue(true), types.BooleanType().WithNullable(false))
		lkeys = append(lkeys, add(&lproj, &lout, t))
		rkeys = append(rkeys, add(&rproj, &rout, t))
	}
	lc := &Calc{Input: ln, Projects: lproj, Out: lout}
	rc := &Calc{Input: rn, Projects: rproj, Out: rout}
	// The scope of the joined row: each side's columns followed by its key columns (unreachable by name).
	nl := len(lout)
	sc2 := &scope{}
	sc2.cols = append(sc2.cols, lsc.cols...)
	for _, f := range lout[len(lf):] {
		sc2.cols = append(sc2.cols, scopeCol{qual: "$", name: f.Name, typ: f.Type})
	}
	sc2.cols = append(sc2.cols, rsc.cols...)
	for _, f := range rout[len(rf):] {
		sc2.cols = append(sc2.cols, scopeCol{qual: "$", name: f.Name, typ: f.Type})
	}
	var res expr.Expr
	for _, c := range residual {
		x, err := p.b.expr(c, sc2)
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
	leftPadded, rightPadded := jt == exec.RightJoin || jt == exec.FullJoin, jt == exec.LeftJoin || jt == exec.FullJoin
	jout := joinOutput(sc2, nl, leftPadded, rightPadded)
	j := &Join{Left: lc, Right: rc, Type: jt, LeftKeys: lkeys, RightKeys: rkeys, Residual: res, Out: jout}
	// Drop the key columns; the scope is the two sides' columns.
	sc := &scope{cols: append(append([]scopeCol{}, lsc.cols...), rsc.cols...)}
	out := joinOutput(sc, len(lsc.cols), leftPadded, rightPadded)
	var projects []expr.Expr
	for i := range lf {
		projects = append(projects, expr.Column(i, jout[i].Name, jout[i].Type))
	}
	for i := range rf {
		projects = append(projects, expr.Column(nl+i, jout[nl+i].Name, jout[nl+i].Type))
	}
	return &Calc{Input: j, Projects: projects, Out: out}, sc, nil
}
