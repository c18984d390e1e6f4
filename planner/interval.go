package planner

import (
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// intervalBounds recognizes time bounds between the timestamps of the two sides of a join in its conditions
// (l.ts BETWEEN r.ts - INTERVAL '1' HOUR AND r.ts, l.ts >= r.ts - ..., ...) and returns them when both a
// lower and an upper bound on the same pair of columns are found. Whether both columns are rowtime
// attributes (a watermark's column, or one that window operators keep as one, such as window_time of a
// window aggregate) is decided by the physical pass (intervalTimes), on the rewritten plan.
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
	return iv
}

// intervalTimes reports whether the bounds of join x are between rowtime attributes of its two sides: a
// watermark's column, by name as bound, or a column that keeps the time attribute of one through window
// operators (isRowtimeCol: window_time of a window aggregate, of a window join's or window Top-N's input).
func intervalTimes(x *Join) bool {
	b := x.Bounds
	lf, rf := x.Left.Fields(), x.Right.Fields()
	if b.LeftTime >= len(lf) || b.RightTime >= len(rf) {
		return false
	}
	return (isRowtimeCol(x.Left, b.LeftTime) || hasRowtime(x.Left, lf[b.LeftTime].Name)) &&
		(isRowtimeCol(x.Right, b.RightTime) || hasRowtime(x.Right, rf[b.RightTime].Name))
}
