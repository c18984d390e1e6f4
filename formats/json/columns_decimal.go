package json

import (
	"math/bits"

	"github.com/sluicesql/sluice/vec"
)

// A DECIMAL of precision 19..38 decodes straight into its 128-bit column (vec.Dec128): a plain JSON number
// (no exponent) with at most as many fraction digits as the column's scale is read digit by digit into
// 128 bits, without a big.Int. Any other token (an exponent, more fraction digits than the scale, which
// rounds, a value beyond the precision, which is NULL, a number in a string) takes the value path, so
// results and errors are Decode's.

// pow10w holds 10^0 .. 10^38 as 128-bit unsigned values (hi, lo).
var pow10w = func() (p [39][2]uint64) {
	p[0] = [2]uint64{0, 1}
	for i := 1; i < len(p); i++ {
		h, l := bits.Mul64(p[i-1][1], 10)
		p[i] = [2]uint64{p[i-1][0]*10 + h, l}
	}
	return
}()

// appendDec128 appends the number text (as scanner.number returns it) to a Dec128 column of the given
// precision; it reports false, appending nothing, when the value path must decide.
func appendDec128(col *vec.Col, text []byte, precision int) bool {
	i, neg := 0, false
	if i < len(text) && text[i] == '-' {
		neg, i = true, 1
	}
	var hi, lo uint64
	nd, frac, dot := 0, 0, false
	for ; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '.':
			dot = true
			continue
		case c < '0' || c > '9':
			return false // an exponent
		}
		if dot {
			frac++
		}
		if nd == 0 && c == '0' {
			continue
		}
		if nd++; nd > 38 {
			return false
		}
		hi, lo = mul10(hi, lo)
		var carry uint64
		lo, carry = bits.Add64(lo, uint64(c-'0'), 0)
		hi += carry
	}
	scale := int(col.Scale)
	if frac > scale || nd+scale-frac > 38 {
		return false
	}
	for k := frac; k < scale; k++ {
		hi, lo = mul10(hi, lo)
	}
	if p := pow10w[precision]; hi > p[0] || hi == p[0] && lo >= p[1] {
		return false // beyond the precision: the value path's NULL
	}
	v := vec.Int128{Hi: int64(hi), Lo: lo}
	if neg {
		v = v.Neg()
	}
	col.D128 = append(col.D128, v)
	return true
}

// mul10 is (hi, lo) * 10 for values below 10^38.
func mul10(hi, lo uint64) (uint64, uint64) {
	h, l := bits.Mul64(lo, 10)
	return hi*10 + h, l
}
