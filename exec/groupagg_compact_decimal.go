package exec

import (
	"math"

	"github.com/sluicesql/sluice/types"
)

// DECIMAL in compact slots. SUM, SUM0 and AVG of a DECIMAL(p, s) with p <= 18 keep the count of values and
// the sum as an unscaled int64 at the scale of the object path's running sum (sumAcc: max(result scale, s));
// MIN and MAX of such a column (insert-only) keep the unscaled value at scale s. A value the slots cannot keep
// exactly (not an int64-backed decimal of scale s) or a sum that would overflow int64 moves the operator to
// its objects for good (decompact) before the row is applied, so results never depend on the form: the
// object path then adds the same values exactly (big decimals past int64, NULL past DECIMAL(38, s), as
// Flink).

// compactDec is the decimal layout of one aggregate call's slots.
type compactDec struct {
	on       bool
	argScale int32 // scale of the values (MIN/MAX keep them at it)
	sumScale int32 // SUM/SUM0/AVG: scale of the sum in its slot
	mul      int64 // 10^(sumScale - argScale): a value's unscaled form times mul is its addend
}

// decimalSpecFits reports whether a SUM/SUM0/AVG (sum) or a MIN/MAX of s's argument fits decimal slots.
func decimalSpecFits(s *aggSpec, sum bool) bool {
	t := s.argType
	if t.Kind != types.Decimal || t.Precision > 18 || t.Scale < 0 {
		return false
	}
	if !sum {
		return true
	}
	return s.class == numDecimal && max(s.scale, t.Scale)-t.Scale <= 18
}

// newCompactDec is the decimal layout of a call that decimalSpecFits.
func newCompactDec(s *aggSpec, sum bool) compactDec {
	d := compactDec{on: true, argScale: int32(s.argType.Scale), sumScale: int32(s.argType.Scale), mul: 1}
	if sum {
		d.sumScale = int32(max(s.scale, s.argType.Scale))
		for range d.sumScale - d.argScale {
			d.mul *= 10
		}
	}
	return d
}

// plainDec reports whether v is an int64-backed decimal of the given scale with nothing else set.
func plainDec(v types.Value, scale int32) bool {
	return v.T == types.TagDecimal && v.N == scale && v.X == nil && v.S == ""
}

// decAddend returns v's unscaled value times mul, and whether it fits int64.
func decAddend(v, mul int64) (int64, bool) {
	if mul == 1 {
		return v, true
	}
	if v > math.MaxInt64/mul || v < math.MinInt64/mul {
		return 0, false
	}
	return v * mul, true
}

// addFits reports whether a + b does not overflow int64.
func addFits(a, b int64) bool {
	c := a + b
	return (c > a) == (b > 0)
}

// compactDecFits reports whether applying row with sign to group slots s (nil: a new group) keeps every
// decimal sum within int64.
func (g *groupAgg) compactDecFits(s []int64, row []types.Value, sign int64) bool {
	c := g.compact
	for i, sp := range g.specs {
		if c.kinds[i] != ckSumDec {
			continue
		}
		if f := sp.filter; f >= 0 && !isTrue(row[f]) {
			continue
		}
		v := row[sp.args[0]]
		if v.T == types.TagNull {
			continue
		}
		x, ok := decAddend(v.I, c.dec[i].mul)
		if !ok || x == math.MinInt64 {
			return false
		}
		var cur int64
		if s != nil {
			cur = s[c.off[i]+1]
		}
		if !addFits(cur, sign*x) {
			return false
		}
	}
	return true
}

// decSumResult is sumAcc.result of a decimal sum of cnt values whose unscaled sum at scale d.sumScale is sum.
func decSumResult(sp *aggSpec, d compactDec, cnt, sum int64) types.Value {
	if cnt == 0 {
		if sp.fn == "SUM0" {
			return types.DecimalValue(0, sp.scale)
		}
		return types.NullValue
	}
	sv := types.DecimalValue(sum, int(d.sumScale))
	var r types.Value
	if sp.fn == "AVG" {
		var err error
		if r, err = types.DecimalDiv(sv, types.DecimalFromInt(cnt), sp.scale); err != nil {
			return types.NullValue
		}
	} else {
		r = types.DecimalRescale(sv, sp.scale)
	}
	if !types.DecimalFits(r, types.MaxDecimalPrecision, sp.scale) {
		return types.NullValue
	}
	return r
}

// decSumFromAcc returns the slot form of a decimal sumAcc's running sum, and whether it has one.
func decSumFromAcc(a *sumAcc, d compactDec) (int64, bool) {
	switch {
	case a.d.T == 0 || a.d.T == types.TagNull:
		return 0, a.cnt == 0
	case a.class != numDecimal || !plainDec(a.d, d.sumScale):
		return 0, false
	}
	return a.d.I, true
}

// mergeDecFits reports whether adding the decimal sums of src into dst stays within int64.
func (c *compactGroups) mergeDecFits(dst, src []int64) bool {
	for i, k := range c.kinds {
		if k == ckSumDec && !addFits(dst[c.off[i]+1], src[c.off[i]+1]) {
			return false
		}
	}
	return true
}
