package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// vdecMod is MOD (%) of exact numerics with a DECIMAL result of at most 18 digits, over int64 unscaled
// values, as the row path's types.DecimalMod: both operands are scaled up to the result scale (the larger
// of theirs) and the remainder takes the dividend's sign (BigDecimal.remainder). A zero divisor (the row
// path's error) or an int64 overflow while scaling up (the row path's big integers) on a selected row
// bails; a remainder past the precision is NULL, as the row path's fitDecimal.
type vdecMod struct {
	a, b     vexpr
	upA, upB int64
	limit    int64 // |result| must be below it
	scale    int32
	out      vec.Col
	nb, ob   vec.Bitmap
	tb       vec.Bitmap
}

// compileDecMod compiles a % b of DECIMAL type rt; nil when an operand or the result needs more than 18
// digits (no wide kernel) or the result scale is not the operands' larger scale.
func (c *vcompiler) compileDecMod(rt types.Type, a, b expr.Expr) vexpr {
	sa, oka := decScale(a.Type())
	sb, okb := decScale(b.Type())
	if !oka || !okb || isWideDec(rt) || isWideDec(a.Type()) || isWideDec(b.Type()) || rt.Scale != max(sa, sb) {
		return nil
	}
	ka, kb := c.compile(a), c.compile(b)
	if ka == nil || kb == nil {
		return nil
	}
	return &vdecMod{a: ka, b: kb, upA: pow10(rt.Scale - sa), upB: pow10(rt.Scale - sb),
		limit: decPow10[rt.Precision], scale: int32(rt.Scale)}
}

func (k *vdecMod) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	x, err := exactNum(k.a, b)
	if err != nil {
		return nil, err
	}
	var y *vec.Col
	yc, yconst := int64(0), false
	if l, ok := k.b.(*vlit); ok && !l.v.IsNull() && l.v.X == nil {
		yc, yconst = l.v.I, true
	} else if y, err = exactNum(k.b, b); err != nil {
		return nil, err
	}
	if x.Kind != vec.Int64 || y != nil && y.Kind != vec.Int64 {
		return nil, errBail
	}
	nulls := x.Nulls
	if y != nil {
		nulls = orNulls(&k.nb, n, x.Nulls, y.Nulls)
	}
	if yconst {
		var o bool
		if yc, o = mul64(yc, k.upB); o || yc == 0 {
			yconst = false // every selected non-NULL row bails below
		}
	}
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagDecimal, Scale: k.scale, I64: growI64(k.out.I64, n)}
	out, xs := k.out.I64[:n], x.I64[:n]
	var tooBig vec.Bitmap
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || nulls.Get(i) {
			out[i] = 0
			continue
		}
		v, yv := xs[i], yc
		var o1, o2 bool
		if !yconst {
			if y == nil {
				return nil, errBail // a literal divisor that is zero or overflows
			}
			if yv, o2 = mul64(y.I64[i], k.upB); yv == 0 {
				return nil, errBail // division by zero: the row path's error
			}
		}
		if k.upA != 1 {
			v, o1 = mul64(v, k.upA)
		}
		if o1 || o2 {
			return nil, errBail
		}
		var r int64
		if yv != -1 { // MinInt64 % -1 is 0 in the row path; keep clear of the trap
			r = v % yv
		}
		out[i] = r
		if r >= k.limit || r <= -k.limit {
			if tooBig == nil {
				k.tb = vec.ResetBitmap(k.tb, n)
				tooBig = k.tb
			}
			tooBig.Set(i)
		}
	}
	if tooBig != nil {
		nulls = orNulls(&k.ob, n, nulls, tooBig)
	}
	k.out.Nulls = nulls
	return &k.out, nil
}
