package textconv

import (
	"math/big"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/types"
)

// bigDecimal handles what the int64 fast path cannot: many digits or large exponents.
func bigDecimal(s string, precision, scale int) (types.Value, Result) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return types.NullValue, OutOfRange // absurd exponent
		}
		mant, exp = s[:i], e
	}
	frac := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		frac = len(mant) - i - 1
		mant = mant[:i] + mant[i+1:]
	}
	u, ok := new(big.Int).SetString(mant, 10)
	if !ok {
		return types.NullValue, Invalid
	}
	shift := scale - frac + exp
	ten := big.NewInt(10)
	limit := new(big.Int).Exp(ten, big.NewInt(int64(precision)), nil)
	if shift >= 0 {
		if u.Sign() == 0 {
			return types.DecimalValue(0, scale), OK
		}
		if shift > precision+1 {
			return types.NullValue, OutOfRange
		}
		u.Mul(u, new(big.Int).Exp(ten, big.NewInt(int64(shift)), nil))
	} else {
		if -shift > len(mant)+1 {
			u.SetInt64(0)
		} else {
			p := new(big.Int).Exp(ten, big.NewInt(int64(-shift)), nil)
			q, r := new(big.Int).QuoRem(u, p, new(big.Int))
			if r.Lsh(r, 1).Cmp(p) >= 0 {
				q.Add(q, big.NewInt(1))
			}
			u = q
		}
	}
	if u.Cmp(limit) >= 0 {
		return types.NullValue, OutOfRange
	}
	if neg {
		u.Neg(u)
	}
	return types.BigDecimalValue(u, scale), OK
}
