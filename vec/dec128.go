package vec

import (
	"math/big"
	"math/bits"

	"github.com/sluicesql/sluice/types"
)

// Wide DECIMAL columns (issue 14): a DECIMAL of precision 19..38 is held as 128-bit two's complement
// unscaled values, two machine words per value, without a big.Int per value. The column's Scale is the
// DECIMAL's scale; converting to and from types.Value is exact (a value beyond int64 becomes a big.Int
// only when a row value is made).

// Int128 is a 128-bit two's complement integer: Hi holds the sign and the upper 64 bits.
type Int128 struct {
	Hi int64
	Lo uint64
}

// Int128Of widens an int64.
func Int128Of(v int64) Int128 { return Int128{Hi: v >> 63, Lo: uint64(v)} }

// IsInt64 reports whether x fits int64.
func (x Int128) IsInt64() bool { return x.Hi == int64(x.Lo)>>63 }

// Sign is -1, 0 or 1.
func (x Int128) Sign() int {
	switch {
	case x.Hi < 0:
		return -1
	case x.Hi == 0 && x.Lo == 0:
		return 0
	}
	return 1
}

// Neg is -x (wrapping for the minimum value).
func (x Int128) Neg() Int128 {
	lo, borrow := bits.Sub64(0, x.Lo, 0)
	hi := -x.Hi - int64(borrow)
	return Int128{Hi: hi, Lo: lo}
}

// Abs returns the magnitude of x as two unsigned words, and whether x is negative.
func (x Int128) Abs() (hi, lo uint64, neg bool) {
	if x.Hi < 0 {
		n := x.Neg()
		return uint64(n.Hi), n.Lo, true
	}
	return uint64(x.Hi), x.Lo, false
}

// Cmp compares x and y.
func (x Int128) Cmp(y Int128) int {
	switch {
	case x.Hi < y.Hi:
		return -1
	case x.Hi > y.Hi:
		return 1
	case x.Lo < y.Lo:
		return -1
	case x.Lo > y.Lo:
		return 1
	}
	return 0
}

// Big returns x as a new big.Int.
func (x Int128) Big() *big.Int {
	hi, lo, neg := x.Abs()
	b := new(big.Int).SetUint64(hi)
	b.Lsh(b, 64)
	b.Or(b, new(big.Int).SetUint64(lo))
	if neg {
		b.Neg(b)
	}
	return b
}

// Int128FromBig converts b; ok is false when it needs more than 128 bits.
func Int128FromBig(b *big.Int) (Int128, bool) {
	if b.IsInt64() {
		return Int128Of(b.Int64()), true
	}
	if b.BitLen() > 127 {
		return Int128{}, false
	}
	var x Int128
	if ws := b.Bits(); bits.UintSize == 64 { // the magnitude's words, least significant first: no allocation
		x.Lo = uint64(ws[0])
		if len(ws) > 1 {
			x.Hi = int64(ws[1])
		}
	} else {
		var buf [16]byte
		m := new(big.Int).Abs(b).FillBytes(buf[:])
		x = Int128{Hi: int64(beU64(m[:8])), Lo: beU64(m[8:])}
	}
	if b.Sign() < 0 {
		x = x.Neg()
	}
	return x, true
}

func beU64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// DecimalValue returns x with the given scale as a row value (int64 form when it fits).
func DecimalValue(x Int128, scale int32) types.Value {
	if x.IsInt64() {
		return types.Value{T: types.TagDecimal, I: int64(x.Lo), N: scale}
	}
	return types.BigDecimalValue(x.Big(), int(scale))
}

// DecimalOf returns the unscaled value of a DECIMAL row value; ok is false beyond 128 bits.
func DecimalOf(v types.Value) (Int128, bool) {
	if b, isBig := v.X.(*big.Int); isBig {
		return Int128FromBig(b)
	}
	return Int128Of(v.I), true
}

// Dec128At returns value i of an exact numeric column (Dec128, or Int64 holding integers or DECIMAL
// unscaled values) as an Int128.
func (c *Col) Dec128At(i int) Int128 {
	if c.Kind == Dec128 {
		return c.D128[i]
	}
	return Int128Of(c.I64[i])
}
