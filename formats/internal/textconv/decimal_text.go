package textconv

import (
	"strconv"

	"github.com/sluicesql/sluice/types"
)

// AppendDecimal writes a DECIMAL value as Java's BigDecimal does: toString (scientific notation when the
// adjusted exponent is below -6, e.g. 2.7E-8) when sci is set, else toPlainString (0.000000027).
func AppendDecimal(dst []byte, v types.Value, sci bool) []byte {
	var digits []byte
	var buf [24]byte
	neg := false
	if u, ok := v.DecimalSmall(); ok {
		if u < 0 {
			neg = true
			digits = strconv.AppendUint(buf[:0], uint64(-u), 10) // -MinInt64 wraps to itself as uint64: correct
		} else {
			digits = strconv.AppendUint(buf[:0], uint64(u), 10)
		}
	} else {
		b := v.DecimalBig()
		neg = b.Sign() < 0
		digits = b.Abs(b).Append(nil, 10)
	}
	scale := v.DecimalScale()
	if neg {
		dst = append(dst, '-')
	}
	adjusted := len(digits) - 1 - scale
	if sci && (scale < 0 || adjusted < -6) {
		dst = append(dst, digits[0])
		if len(digits) > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'E')
		if adjusted >= 0 {
			dst = append(dst, '+')
		}
		return strconv.AppendInt(dst, int64(adjusted), 10)
	}
	switch {
	case scale <= 0:
		dst = append(dst, digits...)
		if digits[0] != '0' {
			for i := 0; i < -scale; i++ {
				dst = append(dst, '0')
			}
		}
	case len(digits) > scale:
		dst = append(dst, digits[:len(digits)-scale]...)
		dst = append(dst, '.')
		dst = append(dst, digits[len(digits)-scale:]...)
	default:
		dst = append(dst, '0', '.')
		for i := len(digits); i < scale; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	}
	return dst
}
