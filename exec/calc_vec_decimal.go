package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Wide DECIMAL kernels (issue 14): arithmetic, comparisons and casts where an operand or the result is a
// DECIMAL of precision 19..38. Operands are read as 128-bit unscaled values (vec.Dec128 columns, or int64
// columns of integers and narrow DECIMALs); a result is computed exactly in 256 bits, rounded HALF_UP to the
// result scale and checked against the result precision, as the row path does with big integers
// (types.DecimalAdd/Sub/Mul/Div and expr's fitDecimal): a result with more digits than the precision is
// NULL. The row path decides (the kernel bails) for a division by zero (its error), for a CAST that
// overflows (NULL or an error) and for the rare intermediate beyond 256 bits (a numerator scaled by more
// than 10^38).

// isWideDec reports a DECIMAL type held as a Dec128 column.
func isWideDec(t types.Type) bool { return t.Kind == types.Decimal && t.Precision > 18 }

// exactNum reads an exact numeric column (integers, DECIMAL as int64 or Dec128).
func exactNum(k vexpr, b *vec.Batch) (*vec.Col, error) {
	c, err := k.eval(b)
	if err != nil {
		return nil, err
	}
	if c.Kind != vec.Int64 && c.Kind != vec.Dec128 || c.Tag != types.TagInt && c.Tag != types.TagDecimal {
		return nil, errBail
	}
	return c, nil
}

// vwide is a wide DECIMAL + - * / (op), or the CAST of an exact numeric to DECIMAL (op 'c').
type vwide struct {
	op     byte
	a, b   vexpr
	sa, sb int // operand scales
	prec   int // result precision and scale
	scale  int
	out    vec.Col
	nb, tb vec.Bitmap
	div    bigDiv
	fastOp byte  // the op when int64 operands compute in int64 without rounding (0: never)
	fastUp int64 // 'c': the factor 10^(scale - sa)
}

// setFast records whether the op on int64 operands needs no rounding (scales line up), so that fast64
// applies.
func (k *vwide) setFast() *vwide {
	switch {
	case k.op == '*' && k.sa+k.sb == k.scale, (k.op == '+' || k.op == '-') && k.sa == k.scale && k.sb == k.scale:
		k.fastOp = k.op
	case k.op == 'c' && k.scale >= k.sa && k.scale-k.sa <= 18:
		k.fastOp, k.fastUp = 'c', decPow10[k.scale-k.sa]
	}
	return k
}

// narrowLoop computes a wide result of int64 operands in int64 over all rows (a NULL or unselected row's
// slot holds garbage); it reports false when some row overflowed int64, for the general loop to redo.
func (k *vwide) narrowLoop(xs, ys []int64) bool {
	out := k.out.D128[:len(xs)]
	ovf := false
	switch k.fastOp {
	case '*':
		for i, v := range xs {
			r, o := mul64(v, ys[i])
			ovf = ovf || o
			out[i] = vec.Int128{Hi: r >> 63, Lo: uint64(r)}
		}
	case '+':
		for i, v := range xs {
			r := v + ys[i]
			ovf = ovf || (r > v) != (ys[i] > 0)
			out[i] = vec.Int128{Hi: r >> 63, Lo: uint64(r)}
		}
	case '-':
		for i, v := range xs {
			r := v - ys[i]
			ovf = ovf || (r < v) != (ys[i] > 0)
			out[i] = vec.Int128{Hi: r >> 63, Lo: uint64(r)}
		}
	default:
		for i, v := range xs {
			r, o := mul64(v, k.fastUp)
			ovf = ovf || o
			out[i] = vec.Int128{Hi: r >> 63, Lo: uint64(r)}
		}
	}
	return !ovf
}

// fast64 computes a row of int64 operands in int64; ok is false on an int64 overflow (the 256-bit path
// then computes it).
func (k *vwide) fast64(x, y int64) (int64, bool) {
	switch k.fastOp {
	case '*':
		r, o := mul64(x, y)
		return r, !o
	case '+':
		r := x + y
		return r, (r > x) == (y > 0)
	case '-':
		r := x - y
		return r, (r < x) == (y > 0)
	}
	r, o := mul64(x, k.fastUp)
	return r, !o
}

// compileWideArith compiles + - * / where an operand or the result is a wide DECIMAL; nil for %.
func (c *vcompiler) compileWideArith(op byte, rt types.Type, a, b expr.Expr) vexpr {
	sa, oka := decScale(a.Type())
	sb, okb := decScale(b.Type())
	if !oka || !okb || rt.Kind != types.Decimal || op == '%' {
		return nil
	}
	ka, kb := c.compile(a), c.compile(b)
	if ka == nil || kb == nil {
		return nil
	}
	return (&vwide{op: op, a: ka, b: kb, sa: sa, sb: sb, prec: rt.Precision, scale: rt.Scale}).setFast()
}

// compileWideCast compiles CAST(exact numeric AS DECIMAL) where either side is a wide DECIMAL.
func (c *vcompiler) compileWideCast(x expr.Expr, to types.Type) vexpr {
	sa, ok := decScale(x.Type())
	if !ok || to.Kind != types.Decimal {
		return nil
	}
	k := c.compile(x)
	if k == nil {
		return nil
	}
	return (&vwide{op: 'c', a: k, sa: sa, prec: to.Precision, scale: to.Scale}).setFast()
}

// mag returns the magnitude and sign of value i of an exact numeric column.
func mag(c *vec.Col, i int) (u256, bool) {
	if c.Kind == vec.Dec128 {
		hi, lo, neg := c.D128[i].Abs()
		return u256{lo, hi}, neg
	}
	v := c.I64[i]
	if v < 0 {
		return u256{uint64(-v)}, true
	}
	return u256{uint64(v)}, false
}

func (k *vwide) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := exactNum(k.a, b)
	if err != nil {
		return nil, err
	}
	y := x
	if k.op != 'c' {
		if y, err = exactNum(k.b, b); err != nil {
			return nil, err
		}
	}
	n := b.N
	wide := k.prec > 18
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagDecimal, Scale: int32(k.scale), I64: k.out.I64, D128: k.out.D128}
	if wide {
		k.out.Kind = vec.Dec128
		if cap(k.out.D128) < n {
			k.out.D128 = make([]vec.Int128, n)
		}
		k.out.D128 = k.out.D128[:n]
	} else {
		k.out.I64 = growI64(k.out.I64, n)
	}
	nulls := x.Nulls
	if k.op != 'c' {
		nulls = orNulls(&k.nb, n, x.Nulls, y.Nulls)
	}
	limit := pow10x[k.prec]
	narrow := k.fastOp != 0 && x.Kind == vec.Int64 && y.Kind == vec.Int64 // int64 operands: try int64 arithmetic first
	if narrow && wide && k.narrowLoop(x.I64[:n], y.I64[:n]) {
		k.out.Nulls = nulls
		return &k.out, nil
	}
	var tooBig vec.Bitmap
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		var r u256
		var neg bool
		if !cur.skip(i) && !nulls.Get(i) {
			if narrow {
				if v, ok := k.fast64(x.I64[i], y.I64[i]); ok && (wide || absU64(v) < uint64(decPow10[k.prec])) {
					if wide {
						k.out.D128[i] = vec.Int128Of(v)
					} else {
						k.out.I64[i] = v
					}
					continue
				}
			}
			var ok bool
			r, neg, ok = k.row(x, y, i)
			if !ok {
				return nil, errBail
			}
			if r.cmp(limit) >= 0 {
				if k.op == 'c' { // a CAST decides between NULL and an error: the row path's
					return nil, errBail
				}
				if tooBig == nil {
					k.tb = vec.ResetBitmap(k.tb, n)
					tooBig = k.tb
				}
				tooBig.Set(i)
				r = u256{}
			}
		}
		if wide {
			v := vec.Int128{Hi: int64(r[1]), Lo: r[0]}
			if neg {
				v = v.Neg()
			}
			k.out.D128[i] = v
		} else if neg {
			k.out.I64[i] = -int64(r[0])
		} else {
			k.out.I64[i] = int64(r[0])
		}
	}
	if tooBig != nil {
		nulls = unionNulls(&k.nb, n, nulls, tooBig)
	}
	k.out.Nulls = nulls
	return &k.out, nil
}

// row computes row i: the magnitude and sign of the result at the result scale (before the precision
// check); ok is false when the row path must decide.
func (k *vwide) row(x, y *vec.Col, i int) (r u256, neg, ok bool) {
	xm, xn := mag(x, i)
	if k.op == 'c' {
		r, ok = rescale(xm, k.sa, k.scale)
		return r, xn, ok
	}
	ym, yn := mag(y, i)
	switch k.op {
	case '+', '-':
		es := max(k.sa, k.sb)
		if xm, ok = scaleUp(xm, es-k.sa); !ok {
			return r, false, false
		}
		if ym, ok = scaleUp(ym, es-k.sb); !ok {
			return r, false, false
		}
		if k.op == '-' {
			yn = !yn
		}
		switch {
		case xn == yn:
			var carry uint64
			if r, carry = xm.add(ym); carry != 0 {
				return r, false, false
			}
			neg = xn
		case xm.cmp(ym) >= 0:
			r, neg = xm.sub(ym), xn
		default:
			r, neg = ym.sub(xm), yn
		}
		r, ok = rescale(r, es, k.scale)
		return r, neg, ok
	case '*':
		r = mul128(xm[1], xm[0], ym[1], ym[0])
		r, ok = rescale(r, k.sa+k.sb, k.scale)
		return r, xn != yn, ok
	}
	// Division: the quotient unscaled is ua*10^e / ub (e >= 0) or ua / (ub*10^-e), rounded HALF_UP.
	if ym.isZero() {
		return r, false, false // division by zero: the row path's error
	}
	e := k.scale + k.sb - k.sa
	if e >= 0 {
		xm, ok = scaleUp(xm, e)
	} else {
		ym, ok = scaleUp(ym, -e)
	}
	if !ok {
		return r, false, false
	}
	if ym.fits64() {
		d := ym[0]
		q, rem := xm.divSmall(d)
		if rem >= d-rem { // 2·rem >= d
			q = q.inc()
		}
		return q, xn != yn, true
	}
	q, ok := k.div.divHalfUp(xm, ym)
	return q, xn != yn, ok
}

// vwideCmp compares exact numerics (any scales; integers have scale 0) where an operand is a wide DECIMAL
// or the scales differ, numerically as types.DecimalCmp; int64 operands compare in int64 when scaling them
// to the common scale does not overflow.
type vwideCmp struct {
	op     string
	a, b   vexpr
	sa, sb int
	out    vec.Col
	nb     vec.Bitmap
}

func (k *vwideCmp) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := exactNum(k.a, b)
	if err != nil {
		return nil, err
	}
	y, err := exactNum(k.b, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Bool, Tag: types.TagBool, B: growBool(k.out.B, n), Nulls: orNulls(&k.nb, n, x.Nulls, y.Nulls)}
	es := max(k.sa, k.sb)
	upA, upB := int64(-1), int64(-1) // int64 operands: the factors to the common scale (-1: none fits)
	if x.Kind == vec.Int64 && y.Kind == vec.Int64 && es < len(decPow10) {
		upA, upB = decPow10[es-k.sa], decPow10[es-k.sb]
	}
	for i := 0; i < n; i++ {
		if upA > 0 {
			xv, o1 := mul64(x.I64[i], upA)
			yv, o2 := mul64(y.I64[i], upB)
			if !o1 && !o2 {
				k.out.B[i] = cmpHolds(k.op, cmpInt64(xv, yv))
				continue
			}
		}
		var c int
		if k.sa == k.sb {
			c = x.Dec128At(i).Cmp(y.Dec128At(i))
		} else {
			xm, xn := mag(x, i)
			ym, yn := mag(y, i)
			xm, _ = scaleUp(xm, es-k.sa) // at most 10^38 · 10^38: within 256 bits
			ym, _ = scaleUp(ym, es-k.sb)
			sx, sy := sgn(xm, xn), sgn(ym, yn)
			if sx != sy {
				c = cmpInt64(int64(sx), int64(sy))
			} else if c = xm.cmp(ym); sx < 0 {
				c = -c
			}
		}
		k.out.B[i] = cmpHolds(k.op, c)
	}
	return &k.out, nil
}

func sgn(m u256, neg bool) int {
	switch {
	case m.isZero():
		return 0
	case neg:
		return -1
	}
	return 1
}

func cmpHolds(op string, c int) bool {
	switch op {
	case "=":
		return c == 0
	case "<>":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}
