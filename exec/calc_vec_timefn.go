package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// FLOOR/CEIL(x TO unit) of a DATE, TIMESTAMP or TIMESTAMP_LTZ (rounded on the wall clock in the call's
// session zone, then back to the instant) through the row path's own rounding (expr.RoundTemporal), and
// TO_TIMESTAMP_LTZ of an integer (epoch seconds or milliseconds, as the row path: the product wraps).

// compileFloorCeil compiles FLOOR/CEIL(x TO unit).
func (c *vcompiler) compileFloorCeil(call expr.Expr, unit string, ceil bool, x expr.Expr) vexpr {
	k := &vfloorCeil{unit: unit, ceil: ceil, kind: x.Type().Kind}
	switch k.kind {
	case types.Date, types.Timestamp:
	case types.TimestampLTZ:
		loc, ok := expr.SessionZone(call)
		if !ok {
			return nil
		}
		k.zone = newZoneOffsets(loc)
	default:
		return nil
	}
	if k.x = c.compile(x); k.x == nil {
		return nil
	}
	return k
}

// vfloorCeil is FLOOR/CEIL(x TO unit); the result has x's type (timestamps without nanos).
type vfloorCeil struct {
	x    vexpr
	unit string
	ceil bool
	kind types.Kind
	zone *zoneOffsets
	out  vec.Col
}

func (k *vfloorCeil) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := intCol(k.x, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	tag := types.TagTimestamp
	if k.kind == types.Date {
		tag = types.TagDate
	}
	k.out = vec.Col{Kind: vec.Int64, Tag: tag, I64: growI64(k.out.I64, n), Nulls: x.Nulls}
	out := k.out.I64[:n]
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || x.Nulls.Get(i) {
			out[i] = 0
			continue
		}
		v := x.I64[i]
		switch k.kind {
		case types.Date:
			out[i] = floorDiv(expr.RoundTemporal(v*msPerDay, 0, k.unit, k.ceil), msPerDay)
		case types.Timestamp:
			out[i] = expr.RoundTemporal(v, nanoAt(x, i), k.unit, k.ceil)
		default:
			out[i] = k.zone.fromLocal(expr.RoundTemporal(k.zone.toLocal(v), nanoAt(x, i), k.unit, k.ceil))
		}
	}
	return &k.out, nil
}

// compileToTimestampLTZ compiles TO_TIMESTAMP_LTZ(number[, 0 | 3]) (a DECIMAL or float: calc_vec_epoch.go).
func (c *vcompiler) compileToTimestampLTZ(args []expr.Expr) vexpr {
	if len(args) == 0 || len(args) > 2 || !args[0].Type().IsNumeric() {
		return nil
	}
	mul := int64(1)
	if len(args) == 2 {
		p, ok := expr.LiteralOf(args[1])
		if !ok || p.T != types.TagInt || p.I != 0 && p.I != 3 {
			return nil
		}
		if p.I == 0 {
			mul = 1000
		}
	}
	if !args[0].Type().IsIntegral() {
		return c.compileToTimestampLTZFloat(args[0], mul)
	}
	k := c.compile(args[0])
	if k == nil {
		return nil
	}
	return &vepochTs{x: k, mul: mul}
}

// vepochTs is TO_TIMESTAMP_LTZ(v, p) of an integer: the instant v×mul milliseconds after the epoch.
type vepochTs struct {
	x   vexpr
	mul int64
	out vec.Col
}

func (k *vepochTs) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := intCol(k.x, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagTimestamp, I64: growI64(k.out.I64, n), Nulls: x.Nulls}
	for i, v := range x.I64[:n] {
		k.out.I64[i] = v * k.mul
	}
	return &k.out, nil
}
