package exec

import (
	"strconv"
	"unsafe"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// vwideTo is CAST(wide DECIMAL AS integer | FLOAT | DOUBLE), as types.Cast: an integer takes the value
// truncated toward zero (one out of the target's range bails: the row path's error); a float is
// types.DecimalToFloat (the correctly rounded nearest double, then float32 for FLOAT).
type vwideTo struct {
	x      vexpr
	scale  int
	to     types.Kind
	lo, hi int64 // integer range of to
	out    vec.Col
	buf    [64]byte
}

func (c *vcompiler) compileWideTo(x expr.Expr, to types.Type) vexpr {
	k := c.compile(x)
	if k == nil {
		return nil
	}
	w := &vwideTo{x: k, scale: x.Type().Scale, to: to.Kind}
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
		if !q.fits64() || q[0] > uint64(k.hi)+1 || q[0] == uint64(k.hi)+1 && !neg {
			return nil, errBail // out of range: the row path's error
		}
		v := int64(q[0])
		if neg {
			v = -v
		}
		if v < k.lo || v > k.hi {
			return nil, errBail
		}
		k.out.I64[i] = v
	}
	return &k.out, nil
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
