package types

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
)

// MaxDecimalPrecision is the largest DECIMAL precision (as in Flink).
const MaxDecimalPrecision = 38

// ErrDivideByZero is returned by DecimalDiv (and by integer division elsewhere) when the divisor is zero.
var ErrDivideByZero = errors.New("division by zero")

// pow10 holds 10^0 .. 10^18, the powers of ten that fit in int64.
var pow10 = [...]int64{
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
	10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000,
	1000000000000000, 10000000000000000, 100000000000000000, 1000000000000000000,
}

var bigTen = big.NewInt(10)

// bigPow10 returns 10^n as a new big.Int.
func bigPow10(n int) *big.Int {
	if n < len(pow10) {
		return big.NewInt(pow10[n])
	}
	return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil)
}

// decUnscaled returns the unscaled value of a decimal as a big.Int. It may share storage with v: do not mutate.
func decUnscaled(v Value) *big.Int {
	if b, ok := v.X.(*big.Int); ok {
		return b
	}
	return big.NewInt(v.I)
}

// ParseDecimal parses a decimal literal: optional sign, digits with an optional point, an optional exponent
// (1.5E3). Surrounding spaces are trimmed. The scale is the number of digits after the point minus the
// exponent, never below zero (1.5E3 is 1500 with scale 0; 1.5E-3 is 0.0015 with scale 4).
func ParseDecimal(s string) (Value, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return NullValue, fmt.Errorf("invalid decimal %q", s)
	}
	i := 0
	neg := false
	if t[0] == '+' || t[0] == '-' {
		neg = t[0] == '-'
		i++
	}
	var (
		u        uint64 // accumulated unscaled while it fits
		ndig     int    // significant digits accumulated (leading zeros skipped)
		anyDigit bool
		frac     int // digits after the point
		seenDot  bool
		long     bool // more than 18 significant digits: re-parse with big.Int
	)
	start := i
	for ; i < len(t); i++ {
		c := t[i]
		if c >= '0' && c <= '9' {
			anyDigit = true
			if seenDot {
				frac++
			}
			if ndig > 0 || c != '0' {
				ndig++
				if ndig > 18 {
					long = true
				} else {
					u = u*10 + uint64(c-'0')
				}
			}
			continue
		}
		if c == '.' && !seenDot {
			seenDot = true
			continue
		}
		break
	}
	mantEnd := i
	if !anyDigit {
		return NullValue, fmt.Errorf("invalid decimal %q", s)
	}
	exp := 0
	if i < len(t) {
		if t[i] != 'e' && t[i] != 'E' {
			return NullValue, fmt.Errorf("invalid decimal %q", s)
		}
		e, err := strconv.ParseInt(t[i+1:], 10, 32)
		if err != nil {
			return NullValue, fmt.Errorf("invalid decimal %q", s)
		}
		if e > 10000 || e < -10000 {
			return NullValue, fmt.Errorf("decimal %q: exponent out of range", s)
		}
		exp = int(e)
	}
	scale := frac - exp
	if !long {
		v := int64(u)
		if neg {
			v = -v
		}
		if scale < 0 {
			return DecimalValue(v, 0).mulPow10(-scale), nil
		}
		return DecimalValue(v, scale), nil
	}
	digits := strings.Replace(t[start:mantEnd], ".", "", 1)
	b, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return NullValue, fmt.Errorf("invalid decimal %q", s)
	}
	if neg {
		b.Neg(b)
	}
	if scale < 0 {
		b.Mul(b, bigPow10(-scale))
		scale = 0
	}
	return BigDecimalValue(b, scale), nil
}

// mulPow10 multiplies the unscaled value by 10^n keeping the scale (used to apply positive exponents).
func (v Value) mulPow10(n int) Value {
	if n == 0 {
		return v
	}
	if v.X == nil && n < len(pow10) {
		if r, ok := mul64(v.I, pow10[n]); ok {
			return DecimalValue(r, int(v.N))
		}
	}
	b := new(big.Int).Mul(decUnscaled(v), bigPow10(n))
	return BigDecimalValue(b, int(v.N))
}

// DecimalFromInt returns i as a DECIMAL with scale 0.
func DecimalFromInt(i int64) Value { return DecimalValue(i, 0) }

func add64(a, b int64) (int64, bool) {
	c := a + b
	return c, (c > a) == (b > 0)
}

func sub64(a, b int64) (int64, bool) {
	c := a - b
	return c, (c < a) == (b > 0)
}

func mul64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	neg := (a < 0) != (b < 0)
	ua, ub := absU(a), absU(b)
	hi, lo := bits.Mul64(ua, ub)
	if hi != 0 {
		return 0, false
	}
	if neg {
		if lo > 1<<63 {
			return 0, false
		}
		return int64(-lo), true
	}
	if lo >= 1<<63 {
		return 0, false
	}
	return int64(lo), true
}

func absU(a int64) uint64 {
	if a < 0 {
		return uint64(-a)
	}
	return uint64(a)
}

// DecimalRescale returns v with the given scale, rounding HALF_UP (away from zero on a tie) like Java's
// BigDecimal.setScale(scale, RoundingMode.HALF_UP), which Flink uses.
func DecimalRescale(v Value, scale int) Value {
	cur := int(v.N)
	if scale == cur {
		return v
	}
	if scale > cur {
		d := scale - cur
		if v.X == nil && d < len(pow10) {
			if r, ok := mul64(v.I, pow10[d]); ok {
				return DecimalValue(r, scale)
			}
		}
		return BigDecimalValue(new(big.Int).Mul(decUnscaled(v), bigPow10(d)), scale)
	}
	d := cur - scale
	if v.X == nil {
		if d >= len(pow10) {
			// |v.I| < 9.3e18 < 10^19 <= 10^d: the quotient is 0, rounding to ±1 on at least half.
			if d == 19 && absU(v.I) >= 5_000_000_000_000_000_000 {
				if v.I < 0 {
					return DecimalValue(-1, scale)
				}
				return DecimalValue(1, scale)
			}
			return DecimalValue(0, scale)
		}
		p := pow10[d]
		q, r := v.I/p, v.I%p
		if absU(r)*2 >= uint64(p) {
			if v.I < 0 {
				q--
			} else {
				q++
			}
		}
		return DecimalValue(q, scale)
	}
	return BigDecimalValue(divHalfUp(decUnscaled(v), bigPow10(d)), scale)
}

// divHalfUp returns a/b rounded HALF_UP. b must be non-zero.
func divHalfUp(a, b *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(a, b, new(big.Int))
	if r.Sign() == 0 {
		return q
	}
	r.Abs(r)
	r.Lsh(r, 1)
	if r.CmpAbs(b) >= 0 {
		if (a.Sign() < 0) != (b.Sign() < 0) {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// align brings a and b to the same (larger) scale.
func align(a, b Value) (Value, Value, int) {
	sa, sb := int(a.N), int(b.N)
	switch {
	case sa < sb:
		return DecimalRescale(a, sb), b, sb
	case sb < sa:
		return a, DecimalRescale(b, sa), sa
	}
	return a, b, sa
}

// DecimalAdd returns a+b exactly, with scale max(sa, sb).
func DecimalAdd(a, b Value) Value {
	a, b, s := align(a, b)
	if a.X == nil && b.X == nil {
		if r, ok := add64(a.I, b.I); ok {
			return DecimalValue(r, s)
		}
	}
	return BigDecimalValue(new(big.Int).Add(decUnscaled(a), decUnscaled(b)), s)
}

// DecimalSub returns a-b exactly, with scale max(sa, sb).
func DecimalSub(a, b Value) Value {
	a, b, s := align(a, b)
	if a.X == nil && b.X == nil {
		if r, ok := sub64(a.I, b.I); ok {
			return DecimalValue(r, s)
		}
	}
	return BigDecimalValue(new(big.Int).Sub(decUnscaled(a), decUnscaled(b)), s)
}

// DecimalMul returns a*b exactly, with scale sa+sb.
func DecimalMul(a, b Value) Value {
	s := int(a.N) + int(b.N)
	if a.X == nil && b.X == nil {
		if r, ok := mul64(a.I, b.I); ok {
			return DecimalValue(r, s)
		}
	}
	return BigDecimalValue(new(big.Int).Mul(decUnscaled(a), decUnscaled(b)), s)
}

// DecimalDiv returns a/b rounded HALF_UP to the given scale. It fails with ErrDivideByZero when b is zero.
func DecimalDiv(a, b Value, scale int) (Value, error) {
	if decSign(b) == 0 {
		return NullValue, ErrDivideByZero
	}
	// a/b = (ua / ub) * 10^(sb-sa); the result unscaled is ua*10^(scale+sb-sa) / ub.
	e := scale + int(b.N) - int(a.N)
	if a.X == nil && b.X == nil {
		num, den := a.I, b.I
		ok := true
		if e >= 0 {
			if e < len(pow10) {
				num, ok = mul64(num, pow10[e])
			} else {
				ok = num == 0
			}
		} else {
			if -e < len(pow10) {
				den, ok = mul64(den, pow10[-e])
			} else {
				ok = false
			}
		}
		if ok && !(num == math.MinInt64 && den == -1) {
			q, r := num/den, num%den
			if r != 0 && absU(r) >= absU(den)-absU(r) {
				if (num < 0) != (den < 0) {
					q--
				} else {
					q++
				}
			}
			return DecimalValue(q, scale), nil
		}
	}
	num := new(big.Int).Set(decUnscaled(a))
	den := new(big.Int).Set(decUnscaled(b))
	if e >= 0 {
		num.Mul(num, bigPow10(e))
	} else {
		den.Mul(den, bigPow10(-e))
	}
	return BigDecimalValue(divHalfUp(num, den), scale), nil
}

// DecimalMod returns the remainder of a/b truncated toward zero (the sign follows a, as in Java's
// BigDecimal.remainder), with scale max(sa, sb). It fails with ErrDivideByZero when b is zero.
func DecimalMod(a, b Value) (Value, error) {
	if decSign(b) == 0 {
		return NullValue, ErrDivideByZero
	}
	a, b, s := align(a, b)
	if a.X == nil && b.X == nil {
		if b.I == -1 {
			return DecimalValue(0, s), nil
		}
		return DecimalValue(a.I%b.I, s), nil
	}
	return BigDecimalValue(new(big.Int).Rem(decUnscaled(a), decUnscaled(b)), s), nil
}

// DecimalNeg returns -v.
func DecimalNeg(v Value) Value {
	if v.X == nil && v.I != math.MinInt64 {
		return DecimalValue(-v.I, int(v.N))
	}
	return BigDecimalValue(new(big.Int).Neg(decUnscaled(v)), int(v.N))
}

// DecimalAbs returns |v|.
func DecimalAbs(v Value) Value {
	if decSign(v) < 0 {
		return DecimalNeg(v)
	}
	return v
}

func decSign(v Value) int {
	if b, ok := v.X.(*big.Int); ok {
		return b.Sign()
	}
	switch {
	case v.I < 0:
		return -1
	case v.I > 0:
		return 1
	}
	return 0
}

// DecimalSign returns -1, 0 or 1.
func DecimalSign(v Value) int { return decSign(v) }

// DecimalCmp compares two decimals numerically, regardless of scale (1.0 == 1.00).
func DecimalCmp(a, b Value) int {
	if a.N == b.N && a.X == nil && b.X == nil {
		return cmpInt(a.I, b.I)
	}
	sa, sb := decSign(a), decSign(b)
	if sa != sb {
		return cmpInt(int64(sa), int64(sb))
	}
	a, b, _ = align(a, b)
	if a.X == nil && b.X == nil {
		return cmpInt(a.I, b.I)
	}
	return decUnscaled(a).Cmp(decUnscaled(b))
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// DecimalPrecision returns the number of digits of the unscaled value (1 for zero).
func DecimalPrecision(v Value) int {
	if b, ok := v.X.(*big.Int); ok {
		return len(new(big.Int).Abs(b).String())
	}
	return digits64(absU(v.I))
}

func digits64(u uint64) int {
	n := 1
	for u >= 10 {
		u /= 10
		n++
	}
	return n
}

// DecimalFits reports whether v, rounded HALF_UP to scale, has at most precision digits, i.e. whether it
// is representable as DECIMAL(precision, scale).
func DecimalFits(v Value, precision, scale int) bool {
	r := DecimalRescale(v, scale)
	if r.X == nil {
		if precision >= 19 {
			return true
		}
		return absU(r.I) < uint64(pow10[precision])
	}
	return DecimalPrecision(r) <= precision
}

// DecimalString formats v in plain notation with exactly its scale digits after the point: 12.30, -0.05, 7.
func DecimalString(v Value) string { return string(AppendDecimal(nil, v)) }

// AppendDecimal appends the plain text of v (as DecimalString) to dst.
func AppendDecimal(dst []byte, v Value) []byte {
	var digits []byte
	var tmp [24]byte
	neg := false
	if b, ok := v.X.(*big.Int); ok {
		neg = b.Sign() < 0
		digits = new(big.Int).Abs(b).Append(nil, 10)
	} else {
		neg = v.I < 0
		digits = strconv.AppendUint(tmp[:0], absU(v.I), 10)
	}
	if neg {
		dst = append(dst, '-')
	}
	scale := int(v.N)
	if scale <= 0 {
		dst = append(dst, digits...)
		for i := 0; i < -scale; i++ {
			dst = append(dst, '0')
		}
		return dst
	}
	if len(digits) <= scale {
		dst = append(dst, '0', '.')
		for i := len(digits); i < scale; i++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	dst = append(dst, digits[:len(digits)-scale]...)
	dst = append(dst, '.')
	return append(dst, digits[len(digits)-scale:]...)
}

var pow10f = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
	1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// DecimalToFloat returns the float64 nearest to v.
func DecimalToFloat(v Value) float64 {
	s := int(v.N)
	if v.X == nil && absU(v.I) <= 1<<53 && s >= 0 && s < len(pow10f) {
		return float64(v.I) / pow10f[s] // both operands exact: correctly rounded
	}
	f, _ := strconv.ParseFloat(string(appendDecimalSci(nil, v)), 64)
	return f
}

// appendDecimalSci writes v as <unscaled>e<-scale>, which strconv.ParseFloat accepts.
func appendDecimalSci(dst []byte, v Value) []byte {
	dst = decUnscaled(v).Append(dst, 10)
	dst = append(dst, 'e')
	return strconv.AppendInt(dst, -int64(v.N), 10)
}

// DecimalFromFloat converts f to a decimal with the given scale as Flink does (BigDecimal.valueOf(f): the
// shortest decimal that round-trips, then rounded HALF_UP to scale). NaN and infinities are an error.
func DecimalFromFloat(f float64, scale int) (Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return NullValue, fmt.Errorf("cannot convert %v to DECIMAL", f)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 && scale >= 0 && scale < len(pow10) {
		if r, ok := mul64(int64(f), pow10[scale]); ok {
			return DecimalValue(r, scale), nil
		}
	}
	var buf [32]byte
	d, err := ParseDecimal(string(strconv.AppendFloat(buf[:0], f, 'e', -1, 64)))
	if err != nil {
		return NullValue, err
	}
	return DecimalRescale(d, scale), nil
}

// decimalFromFloat32 is DecimalFromFloat for a FLOAT (shortest float32 digits, as Float.toString).
func decimalFromFloat32(f float32, scale int) (Value, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return NullValue, fmt.Errorf("cannot convert %v to DECIMAL", f)
	}
	var buf [32]byte
	d, err := ParseDecimal(string(strconv.AppendFloat(buf[:0], float64(f), 'e', -1, 32)))
	if err != nil {
		return NullValue, err
	}
	return DecimalRescale(d, scale), nil
}

// DecimalToInt returns the integer part of v (truncated toward zero); ok is false when it does not fit int64.
func DecimalToInt(v Value) (int64, bool) {
	s := int(v.N)
	if v.X == nil {
		if s <= 0 {
			if s == 0 {
				return v.I, true
			}
			return mul64(v.I, pow10OrMax(-s))
		}
		if s >= len(pow10) {
			return 0, true
		}
		return v.I / pow10[s], true
	}
	b := decUnscaled(v)
	var q *big.Int
	if s >= 0 {
		q = new(big.Int).Quo(b, bigPow10(s))
	} else {
		q = new(big.Int).Mul(b, bigPow10(-s))
	}
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

func pow10OrMax(n int) int64 {
	if n < len(pow10) {
		return pow10[n]
	}
	return math.MaxInt64
}
