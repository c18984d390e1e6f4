package exec

import (
	"math"
	"strconv"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Casts between numeric types that compileCast leaves out because they round or can overflow: DECIMAL to
// DECIMAL of another scale and FLOAT/DOUBLE to DECIMAL (both up to 18 digits), DOUBLE to FLOAT, and DECIMAL (up to 18 digits) to
// the integer types, FLOAT and DOUBLE (vwideTo, with a fast path for int64 columns). A value that does not
// fit the target is NULL where the row path makes it NULL (TRY_CAST; a nullable DECIMAL target); otherwise
// the kernel bails and the row path reports the error.

// compileNumCast compiles the casts above; nil for the others.
func (c *vcompiler) compileNumCast(x expr.Expr, to types.Type, try, overflowNull bool) vexpr {
	from := x.Type()
	switch {
	case from.Kind == types.Decimal && !isWideDec(from) && (to.IsIntegral() || isFloat(to)):
		return c.compileWideTo(x, to, try)
	case isFloat(from) && to.IsIntegral():
		k := c.compile(x)
		if k == nil {
			return nil
		}
		lo := int64(-1) << (intWidth(to.Kind) - 1)
		return &vfloatToInt{x: k, lo: float64(lo), try: try}
	case from.Kind == types.Timestamp && (to.Kind == types.Date || to.Kind == types.Time),
		from.Kind == types.Date && to.Kind == types.Timestamp:
		if k := c.compile(x); k != nil {
			tag := types.TagTimestamp
			switch to.Kind {
			case types.Date:
				tag = types.TagDate
			case types.Time:
				tag = types.TagTime
			}
			return &vdateTimeCast{x: k, to: to.Kind, tag: tag, trunc: decPow10[9-min(max(to.Precision, 0), 9)]}
		}
	case isFloat(from) && isWideDec(to):
		if k := c.compile(x); k != nil {
			return &vwideFromFloat{x: k, single: from.Kind == types.Float, scale: to.Scale, limit: pow10x[to.Precision],
				nullOnOverflow: try || overflowNull, try: try}
		}
	case from.Kind == types.Double && to.Kind == types.Float:
		if k := c.compile(x); k != nil {
			return &vtoSingle{x: k}
		}
	case from.Kind == types.Decimal && to.Kind == types.Decimal && !isWideDec(from) && !isWideDec(to),
		isFloat(from) && to.Kind == types.Decimal && !isWideDec(to):
		k := c.compile(x)
		if k == nil {
			return nil
		}
		return &vtoDec{x: k, double: isFloat(from), single: from.Kind == types.Float, from: int32(from.Scale),
			to: int32(to.Scale), limit: decPow10[to.Precision], nullOnOverflow: try || overflowNull}
	}
	return nil
}

// vtoDec is CAST(x AS DECIMAL(p, s)) of a DECIMAL of another scale or of a FLOAT/DOUBLE, as types.Cast:
// the value rounded HALF_UP to s (a float first taken as its shortest decimal that round-trips, as
// BigDecimal.valueOf); one with more than p digits is NULL where the row path makes it NULL and bails
// otherwise. NaN and infinities bail.
type vtoDec struct {
	x              vexpr
	double         bool  // the input is FLOAT or DOUBLE
	single         bool  // FLOAT: its shortest float32 digits, as Float.toString
	from, to       int32 // scales (from: DECIMAL input only)
	limit          int64
	nullOnOverflow bool
	out            vec.Col
	ob, tb         vec.Bitmap
	buf            [32]byte
}

func (k *vtoDec) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	x, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	if k.double && x.Kind != vec.Float64 || !k.double && x.Kind != vec.Int64 {
		return nil, errBail
	}
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagDecimal, Scale: k.to, I64: growI64(k.out.I64, n)}
	out := k.out.I64[:n]
	var tooBig vec.Bitmap
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || x.Nulls.Get(i) {
			out[i] = 0
			continue
		}
		var r int64
		var ok bool
		if k.double {
			f := x.F64[i]
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, errBail // the row path's error (NULL for TRY_CAST)
			}
			r, ok = k.fromDouble(f) // !ok: beyond int64, so beyond p digits too
		} else {
			r, ok = rescale64(x.I64[i], int(k.to-k.from))
		}
		if ok && r < k.limit && r > -k.limit {
			out[i] = r
			continue
		}
		if !k.nullOnOverflow {
			return nil, errBail // the row path's error
		}
		if tooBig == nil {
			k.tb = vec.ResetBitmap(k.tb, n)
			tooBig = k.tb
		}
		tooBig.Set(i)
		out[i] = 0
	}
	k.out.Nulls = x.Nulls
	if tooBig != nil {
		k.out.Nulls = orNulls(&k.ob, n, x.Nulls, tooBig)
	}
	return &k.out, nil
}

// rescale64 is types.DecimalRescale of an int64 unscaled value by d digits (d < 0: rounded HALF_UP); ok
// is false when the result does not fit int64.
func rescale64(v int64, d int) (int64, bool) {
	switch {
	case d == 0:
		return v, true
	case d > 0:
		if d >= len(decPow10) {
			return 0, v == 0
		}
		r, o := mul64(v, decPow10[d])
		return r, !o
	}
	d = -d
	if d >= len(decPow10) {
		// |v| < 9.3e18 < 10^19 <= 10^d: 0, or ±1 from half of 10^19 up (only for d = 19).
		if d == 19 && absU64(v) >= 5_000_000_000_000_000_000 {
			if v < 0 {
				return -1, true
			}
			return 1, true
		}
		return 0, true
	}
	p := decPow10[d]
	q, r := v/p, v%p
	if absU64(r)*2 >= uint64(p) {
		if v < 0 {
			q--
		} else {
			q++
		}
	}
	return q, true
}

// fromDouble is the unscaled value at scale k.to of types.DecimalFromFloat(f, k.to) (decimalFromFloat32 for a
// FLOAT) for a finite f; ok is false when it does not fit int64.
func (k *vtoDec) fromDouble(f float64) (int64, bool) {
	s := int(k.to)
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 && !k.single {
		r, o := mul64(int64(f), decPow10[s])
		return r, !o
	}
	m, e := shortestDigits(&k.buf, f, k.single)
	return rescale64(m, e+s)
}

// shortestDigits returns f (finite) as m × 10^e with m its shortest decimal digits that round-trip (at most
// 17; 9 for a FLOAT, as Float.toString), as types.DecimalFromFloat reads strconv's 'e' format.
func shortestDigits(buf *[32]byte, f float64, single bool) (m int64, e int) {
	bitSize := 64
	if single {
		bitSize = 32
	}
	t := strconv.AppendFloat(buf[:0], f, 'e', -1, bitSize)
	neg := false
	if t[0] == '-' {
		neg, t = true, t[1:]
	}
	digits, j := 0, 0
	for ; j < len(t) && t[j] != 'e'; j++ {
		if t[j] == '.' {
			continue
		}
		m = m*10 + int64(t[j]-'0')
		digits++
	}
	eneg := false
	for j++; j < len(t); j++ {
		switch c := t[j]; c {
		case '-':
			eneg = true
		case '+':
		default:
			e = e*10 + int(c-'0')
		}
	}
	if eneg {
		e = -e
	}
	if neg {
		m = -m
	}
	// d.dddd e±x: the digits' last is at 10^(x-digits+1).
	return m, e - digits + 1
}

// vfloatToInt is CAST(FLOAT/DOUBLE AS integer), as types.Cast: truncated toward zero; NaN and values outside
// the target's range are NULL for TRY_CAST and otherwise bail (the row path's error).
type vfloatToInt struct {
	x      vexpr
	lo     float64 // the target's smallest value; -lo is past its largest
	try    bool
	out    vec.Col
	ob, tb vec.Bitmap
}

func (k *vfloatToInt) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	x, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	if x.Kind != vec.Float64 {
		return nil, errBail
	}
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagInt, I64: growI64(k.out.I64, n)}
	out := k.out.I64[:n]
	var outside vec.Bitmap
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || x.Nulls.Get(i) {
			out[i] = 0
			continue
		}
		f := math.Trunc(x.F64[i])
		if f != f || f < k.lo || f >= -k.lo {
			if !k.try {
				return nil, errBail
			}
			if outside == nil {
				k.tb = vec.ResetBitmap(k.tb, n)
				outside = k.tb
			}
			outside.Set(i)
			out[i] = 0
			continue
		}
		out[i] = int64(f)
	}
	k.out.Nulls = x.Nulls
	if outside != nil {
		k.out.Nulls = orNulls(&k.ob, n, x.Nulls, outside)
	}
	return &k.out, nil
}

// vtoSingle is CAST(DOUBLE AS FLOAT): the value rounded to float32 (types.Cast).
type vtoSingle struct {
	x   vexpr
	out vec.Col
}

func (k *vtoSingle) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	if x.Kind != vec.Float64 {
		return nil, errBail
	}
	k.out = vec.Col{Kind: vec.Float64, Tag: types.TagFloat, F64: growF64(k.out.F64, b.N), Nulls: x.Nulls}
	for i, v := range x.F64[:b.N] {
		k.out.F64[i] = float64(float32(v))
	}
	return &k.out, nil
}

// vdateTimeCast is CAST(TIMESTAMP AS DATE) (the day, floored), CAST(TIMESTAMP AS TIME(p)) (the time of day
// truncated to p) and CAST(DATE AS TIMESTAMP) (midnight), as types.Cast.
type vdateTimeCast struct {
	x     vexpr
	to    types.Kind
	tag   types.Tag
	trunc int64 // TIME: 10^(9-p)
	out   vec.Col
}

const msPerDay = 86_400_000

func (k *vdateTimeCast) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := intCol(k.x, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Int64, Tag: k.tag, I64: growI64(k.out.I64, n), Nulls: x.Nulls}
	out, xs := k.out.I64[:n], x.I64[:n]
	switch k.to {
	case types.Date:
		for i, v := range xs {
			d := v / msPerDay
			if v%msPerDay < 0 {
				d--
			}
			out[i] = d
		}
	case types.Time:
		for i, v := range xs {
			m := v % msPerDay
			if m < 0 {
				m += msPerDay
			}
			t := m*1_000_000 + int64(nanoAt(x, i))
			out[i] = t - t%k.trunc
		}
	default:
		for i, v := range xs {
			out[i] = v * msPerDay
		}
	}
	return &k.out, nil
}
