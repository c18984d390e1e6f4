package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Arithmetic of a DECIMAL with a FLOAT/DOUBLE and comparisons of a DECIMAL with another exact numeric of another scale (price > 10.5 with price
// DECIMAL(10, 2), a DECIMAL against an integer column) and of a DECIMAL with FLOAT/DOUBLE, which used to
// send the whole Calc to the row path. The row path compares exact numerics by value (types.DecimalCmp);
// with a float, it takes the DECIMAL as its nearest double (types.DecimalToFloat), as vwideTo does.

// compileDecFloatArith compiles a + - * / of a DECIMAL and a FLOAT/DOUBLE (result rt: DOUBLE).
func (c *vcompiler) compileDecFloatArith(op byte, rt types.Type, a, b expr.Expr) vexpr {
	ka, kb := c.toDouble(a), c.toDouble(b)
	if ka == nil || kb == nil {
		return nil
	}
	return &vfloatArith{op: op, a: ka, b: kb, single: rt.Kind == types.Float}
}

// toDouble compiles x, a DECIMAL converted to its nearest double.
func (c *vcompiler) toDouble(x expr.Expr) vexpr {
	if x.Type().Kind == types.Decimal {
		return c.compileWideTo(x, types.DoubleType(), false)
	}
	return c.compile(x)
}

// compileDecCompare compiles such a comparison; ok is false when a and b are not such a pair (the caller
// goes on), k is nil when they are but an operand has no kernel.
func (c *vcompiler) compileDecCompare(op string, a, b expr.Expr) (k vexpr, ok bool) {
	ta, tb := a.Type(), b.Type()
	if ta.Kind != types.Decimal && tb.Kind != types.Decimal {
		return nil, false
	}
	sa, exactA := decScale(ta)
	sb, exactB := decScale(tb)
	switch {
	case exactA && exactB:
		if ta.Kind == types.Decimal && tb.Kind == types.Decimal && sa == sb {
			return nil, false // one scale: the int64 order (or vwideCmp for wide operands)
		}
		// A literal of a smaller scale scales up exactly to the other side's: the int64 order then.
		if l, isLit := expr.LiteralOf(b); isLit && !l.IsNull() && ta.Kind == types.Decimal && !isWideDec(ta) && sb < sa {
			if v, fits := scaledLiteral(l, tb, sa); fits {
				ka := c.compile(a)
				if ka == nil {
					return nil, true
				}
				return &vcompare{op: op, kind: cmpInt, a: ka, b: v}, true
			}
		}
		ka, kb := c.compile(a), c.compile(b)
		if ka == nil || kb == nil {
			return nil, true
		}
		return &vwideCmp{op: op, a: ka, b: kb, sa: sa, sb: sb}, true
	case exactA && isFloat(tb), isFloat(ta) && exactB:
		ka, kb := c.toDouble(a), c.toDouble(b)
		if ka == nil || kb == nil {
			return nil, true
		}
		return &vcompare{op: op, kind: cmpFloat, a: ka, b: kb}, true
	}
	return nil, false
}

// scaledLiteral is the literal l (an integer or a DECIMAL of type t) as a DECIMAL of scale s (at least
// its own), when it fits 18 digits.
func scaledLiteral(l types.Value, t types.Type, s int) (*vlit, bool) {
	d := l
	if t.IsIntegral() {
		d = types.DecimalFromInt(l.I)
	}
	d = types.DecimalRescale(d, s)
	typ := types.DecimalType(18, s)
	if d.X != nil || !types.DecimalFits(d, 18, s) {
		return nil, false
	}
	col := vec.ColFor(typ)
	if !col.Append(0, d) {
		return nil, false
	}
	return &vlit{v: d, typ: typ, one: col}, true
}
