package exec

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Numeric FLOOR, CEIL, ROUND(x[, n]) and TRUNCATE(x[, n]) (n a constant), as the row path (expr/math.go):
// integers round to 10^-n for n < 0 (a result beyond BIGINT is 0, then it wraps to the type's width),
// DECIMALs round their unscaled value exactly (HALF_UP for ROUND, toward zero for TRUNCATE) into the type
// the row path gives the call, and FLOAT/DOUBLE round the shortest decimal digits of the value (as
// BigDecimal.valueOf) and convert back. One kernel, vround, does every exact type; vfloatRound the others.

// roundMode says which way dropped digits go.
type roundMode uint8

const (
	rmHalfUp roundMode = iota // ROUND: a tie away from zero
	rmDown                    // TRUNCATE: toward zero
	rmFloor
	rmCeil
)

var roundModes = map[string]roundMode{"ROUND": rmHalfUp, "TRUNCATE": rmDown, "FLOOR": rmFloor, "CEIL": rmCeil, "CEILING": rmCeil}

// compileRound compiles a numeric FLOOR/CEIL/ROUND/TRUNCATE call x (a non-constant n: vroundPlaces).
func (c *vcompiler) compileRound(x expr.Expr, mode roundMode, args []expr.Expr) vexpr {
	n := 0
	switch {
	case len(args) == 2 && (mode == rmHalfUp || mode == rmDown):
		if !args[1].Type().IsIntegral() {
			return nil
		}
		if !expr.IsConstant(args[1]) {
			return c.compileRoundPlaces(mode, args)
		}
		v, err := args[1].Eval(nil)
		if err != nil || v.IsNull() {
			return nil
		}
		n = int(max(min(v.I, 1<<20), -(1 << 20))) // beyond ±2^20 places every value keeps or loses all digits
	case len(args) != 1:
		return nil
	}
	in, rt := args[0].Type(), x.Type()
	switch {
	case isFloat(in):
		k := &vfloatRound{mode: mode, n: n, single: in.Kind == types.Float}
		if k.x = c.compile(args[0]); k.x == nil {
			return nil
		}
		return k
	case in.IsIntegral():
		if n >= 0 || mode == rmFloor || mode == rmCeil {
			return c.compile(args[0])
		}
		return c.roundKernel(args[0], &vround{mode: mode, drop: -n, up: -n, intOut: true, sh: 64 - intWidth(in.Kind)})
	case in.Kind == types.Decimal && rt.Kind == types.Decimal:
		if in.Scale <= n {
			return c.compile(args[0])
		}
		return c.roundKernel(args[0], &vround{mode: mode, drop: in.Scale - n, up: max(-n, 0), scale: int32(rt.Scale), wideOut: isWideDec(rt)})
	}
	return nil
}

func (c *vcompiler) roundKernel(x expr.Expr, k *vround) vexpr {
	if k.x = c.compile(x); k.x == nil {
		return nil
	}
	return k
}

// vround rounds an integer or DECIMAL column to a multiple of 10^drop (in units of its last digit), then
// appends up zeros: the result at the result scale.
type vround struct {
	x        vexpr
	mode     roundMode
	drop, up int
	intOut   bool // an integer result of 64-sh bits
	sh       uint
	scale    int32 // DECIMAL result scale
	wideOut  bool  // a Dec128 result
	out      vec.Col
}

func (k *vround) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := exactNum(k.x, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	tag := types.TagDecimal
	if k.intOut {
		tag = types.TagInt
	}
	k.out = vec.Col{Kind: vec.Int64, Tag: tag, Scale: k.scale, I64: k.out.I64, D128: k.out.D128, Nulls: x.Nulls}
	if k.wideOut {
		k.out.Kind = vec.Dec128
		if cap(k.out.D128) < n {
			k.out.D128 = make([]vec.Int128, n)
		}
		k.out.D128 = k.out.D128[:n]
	} else {
		k.out.I64 = growI64(k.out.I64, n)
	}
	var pUp int64 // 10^up when it fits int64
	if k.up < len(decPow10) {
		pUp = decPow10[k.up]
	}
	for i := 0; i < n; i++ {
		if x.Kind == vec.Int64 {
			q := roundInt64(x.I64[i], k.drop, k.mode)
			if r, ok := mulFits(q, pUp); ok {
				switch {
				case k.intOut:
					k.out.I64[i] = r << k.sh >> k.sh
				case k.wideOut:
					k.out.D128[i] = vec.Int128Of(r)
				default:
					k.out.I64[i] = r
				}
				continue
			}
			if k.intOut { // beyond BIGINT: the row path's DecimalToInt fails and gives 0
				k.out.I64[i] = 0
				continue
			}
		}
		m, neg := mag(x, i)
		q, ok := scaleUp(roundMag(m, neg, k.drop, k.mode), k.up)
		switch {
		case !ok:
			return nil, errBail
		case k.intOut:
			k.out.I64[i] = 0 // the int64 path took every BIGINT result
		case k.wideOut && q.fits128() && q[1] < 1<<63:
			v := vec.Int128{Hi: int64(q[1]), Lo: q[0]}
			if neg {
				v = v.Neg()
			}
			k.out.D128[i] = v
		case !k.wideOut && q.fits64() && q[0] < 1<<63:
			if neg {
				k.out.I64[i] = -int64(q[0])
			} else {
				k.out.I64[i] = int64(q[0])
			}
		default:
			if !x.Nulls.Get(i) && selectedRow(b, i) {
				return nil, errBail
			}
		}
	}
	return &k.out, nil
}

// mulFits returns q*p when p > 0 and the product fits int64 (q == 0 always fits).
func mulFits(q, p int64) (int64, bool) {
	if q == 0 {
		return 0, true
	}
	if p <= 0 {
		return 0, false
	}
	r := q * p
	if r/p != q {
		return 0, false
	}
	return r, true
}

// roundInt64 returns v / 10^drop (drop >= 1) rounded as mode says.
func roundInt64(v int64, drop int, mode roundMode) int64 {
	var q, r int64
	if drop < len(decPow10) {
		p := decPow10[drop]
		q, r = v/p, v%p
		if r == 0 {
			return q
		}
		if mode == rmHalfUp && absU64(r) >= uint64(p-p/2) {
			if v < 0 {
				return q - 1
			}
			return q + 1
		}
	} else {
		// |v| < 10^19 <= 10^drop: the quotient is 0; a tie needs |v| >= 5·10^18 when drop is 19.
		r = v
		if r == 0 {
			return 0
		}
		if mode == rmHalfUp && drop == 19 && absU64(v) >= 5_000_000_000_000_000_000 {
			if v < 0 {
				return -1
			}
			return 1
		}
	}
	switch {
	case mode == rmFloor && r < 0:
		return q - 1
	case mode == rmCeil && r > 0:
		return q + 1
	}
	return q
}

// roundMag returns the magnitude of m/10^drop rounded as mode says for a value of sign neg.
func roundMag(m u256, neg bool, drop int, mode roundMode) u256 {
	var q u256
	inexact, half := !m.isZero(), false
	if drop < len(pow10x) {
		q = m
		k := min(drop, 19)
		var rest uint64
		for e := drop - k; e > 0; {
			s := min(e, 19)
			var r uint64
			q, r = q.divSmall(pow10x[s][0])
			rest |= r
			e -= s
		}
		var r uint64
		q, r = q.divSmall(pow10x[k][0])
		inexact = r|rest != 0
		half = r >= 5*pow10x[k-1][0]
	}
	switch {
	case mode == rmHalfUp && half, mode == rmFloor && neg && inexact, mode == rmCeil && !neg && inexact:
		q = q.inc()
	}
	return q
}

// vfloatRound is FLOOR, CEIL, ROUND(x, n) or TRUNCATE(x, n) of a FLOAT or DOUBLE.
type vfloatRound struct {
	x      vexpr
	mode   roundMode
	n      int
	single bool
	out    vec.Col
}

func (k *vfloatRound) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	if x.Kind != vec.Float64 {
		return nil, errBail
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Float64, Tag: types.TagFloat, F64: growF64(k.out.F64, n), Nulls: x.Nulls}
	out := k.out.F64[:n]
	switch k.mode {
	case rmFloor:
		for i, v := range x.F64[:n] {
			out[i] = math.Floor(v)
		}
	case rmCeil:
		for i, v := range x.F64[:n] {
			out[i] = math.Ceil(v)
		}
	default:
		for i, v := range x.F64[:n] {
			r := roundFloat(v, k.n, k.mode == rmHalfUp)
			if k.single {
				r = float64(float32(r))
			}
			out[i] = r
		}
	}
	return &k.out, nil
}

// roundFloat is the row path's floatRound without its allocations: the shortest decimal digits of f
// (m·10^e), rounded to n places, converted back to the nearest float64. Most values take roundFloatFast.
func roundFloat(f float64, n int, halfUp bool) float64 {
	if r, ok := roundFloatFast(f, n, halfUp); ok {
		return r
	}
	return roundFloatSlow(f, n, halfUp)
}

// roundFloatSlow is roundFloat through the shortest digits, formatted.
func roundFloatSlow(f float64, n int, halfUp bool) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	if f == 0 {
		return 0 // the decimal zero has no sign
	}
	var buf [40]byte
	s := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // [-]d[.ddd]e±xx
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	var m int64
	frac, i := 0, 0
	for ; s[i] != 'e'; i++ {
		if s[i] == '.' {
			frac = -1
			continue
		}
		m = m*10 + int64(s[i]-'0')
		if frac < 0 {
			frac--
		}
	}
	if frac < 0 {
		frac = -frac - 1
	}
	exp := 0
	for _, ch := range s[i+2:] {
		exp = exp*10 + int(ch-'0')
	}
	if s[i+1] == '-' {
		exp = -exp
	}
	drop := frac - exp - n // digits of m below 10^-n
	if drop <= 0 {
		return f
	}
	mode := rmDown
	if halfUp {
		mode = rmHalfUp
	}
	var q int64
	if drop < 20 {
		q = roundInt64(m, drop, mode)
	}
	if q == 0 {
		return 0
	}
	if neg {
		q = -q
	}
	if n >= 0 && n < 23 && absU64(q) <= 1<<53 {
		return float64(q) / pow10f[n]
	}
	t := strconv.AppendInt(buf[:0], q, 10)
	t = append(t, 'e')
	t = strconv.AppendInt(t, int64(-n), 10)
	r, _ := strconv.ParseFloat(unsafe.String(&t[0], len(t)), 64)
	return r
}
