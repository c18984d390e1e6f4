package textconv

import (
	"math/bits"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The one parser of DECIMAL text beyond int64 (json and csv, the value path and the columns alike): the
// unscaled value at the column's scale in 128 bits (vec.Int128), without a big.Int. Text is Java's
// BigDecimal syntax, a superset of JSON numbers: an optional sign, digits with an optional '.', an optional
// exponent (e/E, optional sign, digits). The value is rounded half-up (away from zero on a tie) to the scale,
// as Flink's DecimalData.fromBigDecimal; OutOfRange when the rounded value needs more than precision digits
// (Flink's NULL).

// pow10w holds 10^0 .. 10^38 as 128-bit unsigned values (hi, lo).
var pow10w = func() (p [39][2]uint64) {
	p[0] = [2]uint64{0, 1}
	for i := 1; i < len(p); i++ {
		h, l := bits.Mul64(p[i-1][1], 10)
		p[i] = [2]uint64{p[i-1][0]*10 + h, l}
	}
	return
}()

// maxExp bounds the exponent kept while parsing: any larger one makes the value 0 or out of range at every
// precision and scale a DECIMAL can have.
const maxExp = 1 << 20

// decimalText is one scan of DECIMAL text: the sign, the mantissa's extent text[start:end] (digits and at
// most one '.'), its count of significant digits nd (leading zeros not counted) and of fraction digits, the
// exponent (bounded by maxExp), and the first 18 significant digits as an int64 (ParseDecimal's fast path).
type decimalText struct {
	neg           bool
	start, end    int
	nd, frac, exp int
	digits        int64
}

// scanDecimal scans text as Java's BigDecimal syntax; false when it is not a number.
func scanDecimal(text []byte) (d decimalText, ok bool) {
	i := 0
	if i < len(text) && (text[i] == '-' || text[i] == '+') {
		d.neg = text[i] == '-'
		i++
	}
	d.start = i
	sawDigit, sawDot := false, false
	for ; i < len(text); i++ {
		c := text[i]
		if c == '.' && !sawDot {
			sawDot = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		sawDigit = true
		if sawDot {
			d.frac++
		}
		if d.nd > 0 || c != '0' {
			d.nd++
		}
		if d.nd <= 18 {
			d.digits = d.digits*10 + int64(c-'0')
		}
	}
	if !sawDigit {
		return d, false
	}
	d.end = i
	if i < len(text) && (text[i] == 'e' || text[i] == 'E') {
		i++
		eneg := false
		if i < len(text) && (text[i] == '-' || text[i] == '+') {
			eneg = text[i] == '-'
			i++
		}
		es := i
		for ; i < len(text) && text[i] >= '0' && text[i] <= '9'; i++ {
			if d.exp < maxExp {
				d.exp = d.exp*10 + int(text[i]-'0')
			}
		}
		if i == es {
			return d, false
		}
		if eneg {
			d.exp = -d.exp
		}
	}
	return d, i == len(text)
}

// ParseDecimal128 parses DECIMAL(precision, scale) text (precision at most 38) into its unscaled value; with
// fromString, blanks around the text are ignored (CSV fields, JSON strings).
func ParseDecimal128(text []byte, precision, scale int, fromString bool) (vec.Int128, Result) {
	if fromString {
		text = trim(text)
	}
	d, ok := scanDecimal(text)
	if !ok {
		return vec.Int128{}, Invalid
	}
	return decimal128(text, d, precision, scale)
}

// decimal128 is ParseDecimal128 of scanned text.
func decimal128(text []byte, d decimalText, precision, scale int) (vec.Int128, Result) {
	if d.nd == 0 {
		return vec.Int128{}, OK
	}
	start, end, nd, frac, exp, neg := d.start, d.end, d.nd, d.frac, d.exp, d.neg
	// value = M × 10^(exp-frac) for the integer M of the nd significant digits; the unscaled value at the
	// scale is M × 10^shift, which has keep digits (before rounding).
	shift := scale - frac + exp
	keep := nd + shift
	if keep > precision {
		return vec.Int128{}, OutOfRange
	}
	// Second pass: the first min(nd, keep) significant digits, and the next one for rounding.
	var hi, lo uint64
	k, round := 0, false
	for j := start; j < end && keep >= 0; j++ {
		c := text[j]
		if c == '.' || k == 0 && c == '0' {
			continue
		}
		if k == keep {
			round = c >= '5'
			break
		}
		hi, lo = mul10(hi, lo)
		var carry uint64
		lo, carry = bits.Add64(lo, uint64(c-'0'), 0)
		hi += carry
		k++
	}
	if round {
		var carry uint64
		lo, carry = bits.Add64(lo, 1, 0)
		hi += carry
	}
	for ; shift > 0; shift-- {
		hi, lo = mul10(hi, lo)
	}
	if p := pow10w[precision]; hi > p[0] || hi == p[0] && lo >= p[1] {
		return vec.Int128{}, OutOfRange // rounding carried into one digit more
	}
	v := vec.Int128{Hi: int64(hi), Lo: lo}
	if neg {
		v = v.Neg()
	}
	return v, OK
}

// mul10 is (hi, lo) * 10 for values below 10^38.
func mul10(hi, lo uint64) (uint64, uint64) {
	h, l := bits.Mul64(lo, 10)
	return hi*10 + h, l
}

// decimalValue128 is the 128-bit result of scanned text as a row value (ParseDecimal's slow path).
func decimalValue128(text []byte, d decimalText, precision, scale int) (types.Value, Result) {
	x, res := decimal128(text, d, min(precision, 38), scale)
	if res != OK {
		return types.NullValue, res
	}
	return vec.DecimalValue(x, int32(scale)), OK
}
