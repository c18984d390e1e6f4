// Package textconv converts number text found in text formats (json, csv) into values, on bytes and without
// allocating in the common cases.
package textconv

import (
	"math"
	"strconv"

	"github.com/sluicesql/sluice/types"
)

// Result says how a conversion went.
type Result uint8

const (
	OK         Result = iota
	Invalid           // not a number
	OutOfRange        // a number that does not fit the type
)

func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// IntRange returns the range of an integral kind (intervals: INTERVAL YEAR TO MONTH is months in 32 bits,
// INTERVAL DAY TO SECOND is milliseconds in 64 bits).
func IntRange(k types.Kind) (lo, hi int64) {
	switch k {
	case types.TinyInt:
		return math.MinInt8, math.MaxInt8
	case types.SmallInt:
		return math.MinInt16, math.MaxInt16
	case types.Int, types.IntervalYearMonth:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// ParseInt parses an integer of kind k. Text from a string (lenient=false... see below) is trimmed. A number
// with a fraction or exponent is truncated toward zero when fractional is true (JSON numbers, as Jackson's
// asInt does); otherwise only an optional sign and digits are accepted (Java's Integer.parseInt).
func ParseInt(text []byte, k types.Kind, fromString bool) (int64, Result) {
	if fromString {
		text = trim(text)
	}
	lo, hi := IntRange(k)
	i := 0
	neg := false
	if i < len(text) && (text[i] == '-' || text[i] == '+') {
		neg = text[i] == '-'
		i++
	}
	if i == len(text) {
		return 0, Invalid
	}
	var n uint64
	overflow := false
	for ; i < len(text); i++ {
		c := text[i]
		if c < '0' || c > '9' {
			break
		}
		if n > (math.MaxUint64-9)/10 {
			overflow = true
		}
		n = n*10 + uint64(c-'0')
	}
	if i < len(text) {
		if fromString {
			return 0, Invalid
		}
		// A JSON number with a fraction or exponent: truncate.
		f, err := strconv.ParseFloat(string(text), 64)
		if err != nil && !isRange(err) {
			return 0, Invalid
		}
		f = math.Trunc(f)
		if f < float64(lo) || f > float64(hi) || math.IsInf(f, 0) {
			return 0, OutOfRange
		}
		return int64(f), OK
	}
	if overflow || n > uint64(math.MaxInt64)+1 {
		return 0, OutOfRange
	}
	var v int64
	if neg {
		v = int64(-n) // n ≤ 2^63 here; -2^63 wraps correctly
		if n > uint64(math.MaxInt64)+1 {
			return 0, OutOfRange
		}
	} else {
		if n > math.MaxInt64 {
			return 0, OutOfRange
		}
		v = int64(n)
	}
	if v < lo || v > hi {
		return 0, OutOfRange
	}
	return v, OK
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// ParseDecimal parses a decimal number (digits, optional fraction and exponent) exactly and rounds it
// half-up to scale. OutOfRange means it does not fit DECIMAL(precision, scale).
func ParseDecimal(text []byte, precision, scale int, fromString bool) (types.Value, Result) {
	if fromString {
		text = trim(text)
	}
	d, ok := scanDecimal(text)
	if !ok {
		return types.NullValue, Invalid
	}
	// Fast path: at most 18 significant digits and a small exponent, all in int64.
	if d.nd > 18 || d.exp > 1000 || d.exp < -1000 {
		return decimalValue128(text, d, precision, scale)
	}
	digits, exp, fracDigits, neg, nd := d.digits, d.exp, d.frac, d.neg, d.nd
	// value = digits × 10^(exp - fracDigits); want unscaled at scale.
	shift := scale - fracDigits + exp
	switch {
	case shift >= 0:
		if shift > 18 || digits != 0 && nd+shift > 18 {
			if digits == 0 {
				break
			}
			return decimalValue128(text, d, precision, scale)
		}
		digits *= pow10[shift]
	default:
		if -shift > 18 {
			digits = 0
			break
		}
		p := pow10[-shift]
		q, r := digits/p, digits%p
		if r*2 >= p {
			q++
		}
		digits = q
	}
	if precision < 19 && digits >= pow10[precision] {
		return types.NullValue, OutOfRange
	}
	if neg {
		digits = -digits
	}
	return types.DecimalValue(digits, scale), OK
}
