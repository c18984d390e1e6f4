package exec

import (
	"math"
	"math/big"
	"math/bits"
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Wide DECIMAL kernels that round or divide: CAST of a string to DECIMAL (plain decimal text parsed into
// 256-bit magnitudes, any precision; other text goes through types.Cast in vstrCast), CAST(FLOAT/DOUBLE AS
// DECIMAL(19..38)) and MOD with a DECIMAL operand or result of more than 18 digits. Results are the row
// path's exactly: HALF_UP rounding to the target scale, NULL past the precision where the row path makes it
// NULL, and a bail where it reports an error (or computes beyond 256 bits).

// parseDecText parses s (spaces trimmed, as types.ParseDecimal) when it is plain decimal text: an optional
// sign, digits with an optional point, no exponent, at most 60 digits. It returns the magnitude of the
// unscaled value at scale `scale` (HALF_UP) and the sign; ok is false for other text (the caller then asks
// types.Cast) and when scaling passes 256 bits.
func parseDecText(s string, scale int) (m u256, neg, ok bool) {
	s = strings.TrimSpace(s)
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	digits, frac, dot := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' && !dot {
			dot = true
			continue
		}
		d := c - '0'
		if d > 9 || digits == 60 {
			return u256{}, false, false
		}
		if m, ok = m.mulSmall(10); !ok {
			return u256{}, false, false
		}
		m, _ = m.add(u256{uint64(d)})
		digits++
		if dot {
			frac++
		}
	}
	if digits == 0 {
		return u256{}, false, false
	}
	m, ok = rescale(m, frac, scale)
	return m, neg, ok
}

// setDec appends the decimal ±m to a DECIMAL column (Int64 unscaled values or Dec128), m below 10^38.
func setDec(out *vec.Col, m u256, neg bool) {
	if out.Kind == vec.Dec128 {
		v := vec.Int128{Hi: int64(m[1]), Lo: m[0]}
		if neg {
			v = v.Neg()
		}
		out.D128 = append(out.D128, v)
		return
	}
	if neg {
		out.I64 = append(out.I64, -int64(m[0]))
	} else {
		out.I64 = append(out.I64, int64(m[0]))
	}
}

// vwideFromFloat is CAST(FLOAT/DOUBLE AS DECIMAL(p, s)) for p > 18, as types.Cast: the value's shortest
// round-trip digits (types.DecimalFromFloat; a FLOAT's float32 digits) rounded HALF_UP to s; past p digits
// NULL where the row path makes it NULL and a bail otherwise; NaN and infinities are NULL for TRY_CAST and
// bail otherwise (the row path's error).
type vwideFromFloat struct {
	x              vexpr
	single         bool
	scale          int
	limit          u256 // 10^p
	nullOnOverflow bool // past p digits: NULL (TRY_CAST or a nullable target)
	try            bool // NaN, infinities: NULL
	out            vec.Col
	ob, tb         vec.Bitmap
	buf            [32]byte
}

func (k *vwideFromFloat) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	if x.Kind != vec.Float64 {
		return nil, errBail
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Dec128, Tag: types.TagDecimal, Scale: int32(k.scale), D128: k.out.D128}
	if cap(k.out.D128) < n {
		k.out.D128 = make([]vec.Int128, n)
	}
	out := k.out.D128[:n]
	var tooBig vec.Bitmap
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		out[i] = vec.Int128{}
		if cur.skip(i) || x.Nulls.Get(i) {
			continue
		}
		f := x.F64[i]
		bad := math.IsNaN(f) || math.IsInf(f, 0)
		if bad && !k.try {
			return nil, errBail // the row path's error
		}
		var mag u256
		neg, ok := false, false
		if !bad {
			m, e := shortestDigits(&k.buf, f, k.single)
			neg = m < 0
			mag, ok = rescaleExp(u256{absU64(m)}, e+k.scale)
		}
		if ok && mag.cmp(k.limit) < 0 {
			v := vec.Int128{Hi: int64(mag[1]), Lo: mag[0]}
			if neg {
				v = v.Neg()
			}
			out[i] = v
			continue
		}
		if !k.nullOnOverflow && !bad {
			return nil, errBail
		}
		if tooBig == nil {
			k.tb = vec.ResetBitmap(k.tb, n)
			tooBig = k.tb
		}
		tooBig.Set(i)
	}
	k.out.Nulls = x.Nulls
	if tooBig != nil {
		k.out.Nulls = orNulls(&k.ob, n, x.Nulls, tooBig)
	}
	return &k.out, nil
}

// rescaleExp returns m × 10^e, HALF_UP when e < 0; ok is false past 256 bits.
func rescaleExp(m u256, e int) (u256, bool) {
	if e >= 0 {
		return scaleUp(m, e)
	}
	return scaleDownHalfUp(m, -e), true
}

// compileWideMod compiles a % b where an operand or the result rt is a DECIMAL of more than 18 digits
// (the result scale the operands' larger scale, as the row path's alignment).
func (c *vcompiler) compileWideMod(rt types.Type, a, b expr.Expr) vexpr {
	sa, oka := decScale(a.Type())
	sb, okb := decScale(b.Type())
	if !oka || !okb || rt.Kind != types.Decimal || rt.Scale != max(sa, sb) {
		return nil
	}
	ka, kb := c.compile(a), c.compile(b)
	if ka == nil || kb == nil {
		return nil
	}
	return &vwideMod{a: ka, b: kb, upA: rt.Scale - sa, upB: rt.Scale - sb, scale: rt.Scale, wide: isWideDec(rt),
		limit: pow10x[rt.Precision]}
}

// vwideMod is MOD of exact numerics as types.DecimalMod over 256-bit magnitudes: both operands scaled up
// to the result scale, the remainder with the dividend's sign (BigDecimal.remainder); a zero divisor bails
// (the row path's error); a remainder past the precision is NULL (the row path's fitDecimal).
type vwideMod struct {
	a, b     vexpr
	upA, upB int
	scale    int
	wide     bool
	limit    u256
	div      bigDiv
	out      vec.Col
	nb, tb   vec.Bitmap
}

func (k *vwideMod) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := exactNum(k.a, b)
	if err != nil {
		return nil, err
	}
	y, err := exactNum(k.b, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	nulls := orNulls(&k.nb, n, x.Nulls, y.Nulls)
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagDecimal, Scale: int32(k.scale), I64: k.out.I64[:0], D128: k.out.D128[:0]}
	if k.wide {
		k.out.Kind = vec.Dec128
	}
	var tooBig vec.Bitmap
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || nulls.Get(i) {
			setDec(&k.out, u256{}, false)
			continue
		}
		am, neg := mag(x, i)
		bm, _ := mag(y, i)
		if bm.isZero() {
			return nil, errBail // division by zero: the row path's error
		}
		var oka, okb bool
		am, oka = scaleUp(am, k.upA)
		bm, okb = scaleUp(bm, k.upB)
		if !oka || !okb {
			return nil, errBail
		}
		r := am
		if am.cmp(bm) >= 0 {
			var ok bool
			if r, ok = k.div.rem(am, bm); !ok {
				return nil, errBail
			}
		}
		if r.cmp(k.limit) >= 0 {
			if tooBig == nil {
				k.tb = vec.ResetBitmap(k.tb, n)
				tooBig = k.tb
			}
			tooBig.Set(i)
			r = u256{}
		}
		setDec(&k.out, r, neg)
	}
	if tooBig != nil {
		nulls = unionNulls(&k.nb, n, nulls, tooBig)
	}
	k.out.Nulls = nulls
	return &k.out, nil
}

// rem returns num mod den (den non-zero): by words when den fits 64 bits, else with math/big on reused
// buffers; ok is false when the platform's words are not 64 bits.
func (b *bigDiv) rem(num, den u256) (u256, bool) {
	if den.fits64() {
		_, r := num.divSmall(den[0])
		return u256{r}, true
	}
	if bits.UintSize != 64 {
		return u256{}, false
	}
	b.nw, b.dw = b.nw[:0], b.dw[:0]
	for i := 0; i < 4; i++ {
		b.nw = append(b.nw, big.Word(num[i]))
		b.dw = append(b.dw, big.Word(den[i]))
	}
	b.n.SetBits(trimWords(b.nw))
	b.d.SetBits(trimWords(b.dw))
	b.q.QuoRem(&b.n, &b.d, &b.r)
	var r u256
	for i, w := range b.r.Bits() {
		r[i] = uint64(w)
	}
	return r, true
}
