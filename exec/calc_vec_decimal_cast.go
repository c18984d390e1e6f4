package exec

import (
	"strconv"
	"unsafe"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// vwideTo is CAST(DECIMAL AS integer | FLOAT | DOUBLE), as types.Cast: an integer takes the value
// truncated toward zero (one out of the target's range is NULL for TRY_CAST and otherwise bails: the row
// path's error); a float is types.DecimalToFloat (the correctly rounded nearest double, then float32 for
// FLOAT). int64 columns (DECIMAL of up to 18 digits) take a fast path without 128-bit arithmetic.
type vwideTo struct {
	x      vexpr
	scale  int
	to     types.Kind
	lo, hi int64 // integer range of to
	try    bool  // TRY_CAST: a value out of range is NULL
	out    vec.Col
	tb, ob vec.Bitmap
	buf    [64]byte
}

func (c *vcompiler) compileWideTo(x expr.Expr, to types.Type, try bool) vexpr {
	k := c.compile(x)
	if k == nil {
		return nil
	}
	w := &vwideTo{x: k, scale: x.Type().Scale, to: to.Kind, try: try}
	if to.IsIntegral() {
		bitsN := intWidth(to.Kind)
		w.hi = int64(uint64(1)<<(bitsN-1) - 1)
		w.lo = -w.hi - 1
	}
	return w
}

var pow10f = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
	1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

func (k *vwideTo) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := exactNum(k.x, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	toFloat := k.to == types.Float || k.to == types.Double
	if toFloat {
		k.out = vec.Col{Kind: vec.Float64, Tag: types.TagFloat, F64: growF64(k.out.F64, n), Nulls: x.Nulls}
	} else {
		k.out = vec.Col{Kind: vec.Int64, Tag: types.TagInt, I64: growI64(k.out.I64, n), Nulls: x.Nulls}
	}
	var outside vec.Bitmap // TRY_CAST: values out of the target's range (NULL)
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || x.Nulls.Get(i) {
			if toFloat {
				k.out.F64[i] = 0
			} else {
				k.out.I64[i] = 0
			}
			continue
		}
		if x.Kind == vec.Int64 { // a DECIMAL of up to 18 digits (or an integer): no 128-bit arithmetic
			u := x.I64[i]
			if toFloat && absU64(u) <= 1<<53 && k.scale >= 0 && k.scale < len(pow10f) {
				f := float64(u) / pow10f[k.scale] // both exact: correctly rounded, as the row path
				if k.to == types.Float {
					f = float64(float32(f))
				}
				k.out.F64[i] = f
				continue
			}
			if !toFloat && k.scale >= 0 && k.scale < len(decPow10) {
				v := u / decPow10[k.scale] // truncation toward zero
				if v < k.lo || v > k.hi {
					if !k.try {
						return nil, errBail // out of range: the row path's error
					}
					outside = k.setOutside(outside, n, i)
					continue
				}
				k.out.I64[i] = v
				continue
			}
		}
		if toFloat {
			f := k.float(x, i)
			if k.to == types.Float {
				f = float64(float32(f))
			}
			k.out.F64[i] = f
			continue
		}
		m, neg := mag(x, i)
		q := m
		for e := k.scale; e > 0; { // truncation toward zero: the magnitude's floor
			s := min(e, 19)
			q, _ = q.divSmall(pow10x[s][0])
			e -= s
		}
		v := int64(q[0])
		if neg {
			v = -v
		}
		if !q.fits64() || q[0] > uint64(k.hi)+1 || q[0] == uint64(k.hi)+1 && !neg || v < k.lo || v > k.hi {
			if !k.try {
				return nil, errBail // out of range: the row path's error
			}
			outside = k.setOutside(outside, n, i)
			continue
		}
		k.out.I64[i] = v
	}
	if outside != nil {
		k.out.Nulls = orNulls(&k.ob, n, x.Nulls, outside)
	}
	return &k.out, nil
}

// setOutside marks row i NULL as out of range (TRY_CAST), readying the bitmap on first use.
func (k *vwideTo) setOutside(outside vec.Bitmap, n, i int) vec.Bitmap {
	if outside == nil {
		k.tb = vec.ResetBitmap(k.tb, n)
		outside = k.tb
	}
	outside.Set(i)
	k.out.I64[i] = 0
	return outside
}

// float is types.DecimalToFloat of value i.
func (k *vwideTo) float(x *vec.Col, i int) float64 {
	v := x.Dec128At(i)
	if v.IsInt64() {
		u := int64(v.Lo)
		if absU64(u) <= 1<<53 && k.scale >= 0 && k.scale < len(pow10f) {
			return float64(u) / pow10f[k.scale]
		}
	}
	// <unscaled>e<-scale>, parsed correctly rounded, as the row path does (without a big.Int).
	m, neg := mag(x, i)
	d := k.buf[:0]
	if neg {
		d = append(d, '-')
	}
	d = appendU256(d, m)
	d = append(d, 'e')
	d = strconv.AppendInt(d, -int64(k.scale), 10)
	f, _ := strconv.ParseFloat(unsafe.String(unsafe.SliceData(d), len(d)), 64)
	return f
}

// appendU256 appends the decimal digits of m (below 10^38) to dst.
func appendU256(dst []byte, m u256) []byte {
	var parts [3]uint64
	np := 0
	for {
		q, r := m.divSmall(pow19)
		parts[np], np = r, np+1
		if q.isZero() || np == len(parts) {
			break
		}
		m = q
	}
	dst = strconv.AppendUint(dst, parts[np-1], 10)
	for j := np - 2; j >= 0; j-- {
		var tmp [20]byte
		s := strconv.AppendUint(tmp[:0], parts[j], 10)
		for pad := 19 - len(s); pad > 0; pad-- {
			dst = append(dst, '0')
		}
		dst = append(dst, s...)
	}
	return dst
}
