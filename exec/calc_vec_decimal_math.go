package exec

import (
	"math/big"
	"math/bits"
)

// 256-bit unsigned arithmetic for the wide DECIMAL kernels (calc_vec_decimal.go): magnitudes of products
// of two 38-digit values and of scaled numerators fit 256 bits; signs are kept apart.

// u256 is a 256-bit unsigned integer, least significant word first.
type u256 [4]uint64

// pow10x holds 10^0 .. 10^77 (the powers of ten below 2^256).
var pow10x = func() (p [78]u256) {
	p[0] = u256{1}
	for i := 1; i < len(p); i++ {
		p[i], _ = p[i-1].mulSmall(10)
	}
	return
}()

const pow19 = uint64(10_000_000_000_000_000_000)

func (x u256) isZero() bool { return x[0]|x[1]|x[2]|x[3] == 0 }

// fits64 reports whether x is below 2^64.
func (x u256) fits64() bool { return x[1]|x[2]|x[3] == 0 }

// fits128 reports whether x is below 2^128.
func (x u256) fits128() bool { return x[2]|x[3] == 0 }

func (x u256) cmp(y u256) int {
	for i := 3; i >= 0; i-- {
		switch {
		case x[i] < y[i]:
			return -1
		case x[i] > y[i]:
			return 1
		}
	}
	return 0
}

func (x u256) add(y u256) (z u256, carry uint64) {
	z[0], carry = bits.Add64(x[0], y[0], 0)
	z[1], carry = bits.Add64(x[1], y[1], carry)
	z[2], carry = bits.Add64(x[2], y[2], carry)
	z[3], carry = bits.Add64(x[3], y[3], carry)
	return z, carry
}

// sub is x-y for x >= y.
func (x u256) sub(y u256) (z u256) {
	var b uint64
	z[0], b = bits.Sub64(x[0], y[0], 0)
	z[1], b = bits.Sub64(x[1], y[1], b)
	z[2], b = bits.Sub64(x[2], y[2], b)
	z[3], _ = bits.Sub64(x[3], y[3], b)
	return z
}

func (x u256) inc() u256 {
	var c uint64
	x[0], c = bits.Add64(x[0], 1, 0)
	x[1], c = bits.Add64(x[1], 0, c)
	x[2], c = bits.Add64(x[2], 0, c)
	x[3] += c
	return x
}

// mulSmall returns x*m; ok is false when the product needs more than 256 bits.
func (x u256) mulSmall(m uint64) (z u256, ok bool) {
	var carry uint64
	for i := 0; i < 4; i++ {
		hi, lo := bits.Mul64(x[i], m)
		var c uint64
		z[i], c = bits.Add64(lo, carry, 0)
		carry = hi + c
	}
	return z, carry == 0
}

// divSmall returns x/d and the remainder (d > 0).
func (x u256) divSmall(d uint64) (q u256, r uint64) {
	top := 3
	for top > 0 && x[top] == 0 {
		top--
	}
	for i := top; i >= 0; i-- {
		q[i], r = bits.Div64(r, x[i], d)
	}
	return q, r
}

// mul128 returns the 256-bit product of two 128-bit magnitudes.
func mul128(ah, al, bh, bl uint64) u256 {
	h0, l0 := bits.Mul64(al, bl)
	h1, l1 := bits.Mul64(al, bh)
	h2, l2 := bits.Mul64(ah, bl)
	h3, l3 := bits.Mul64(ah, bh)
	z1, c1 := bits.Add64(h0, l1, 0)
	z1, c2 := bits.Add64(z1, l2, 0)
	z2, c3 := bits.Add64(h1, h2, c1)
	z2, c4 := bits.Add64(z2, l3, c2)
	return u256{l0, z1, z2, h3 + c3 + c4}
}

// scaleUp returns x*10^e; ok is false beyond 256 bits.
func scaleUp(x u256, e int) (u256, bool) {
	ok := true
	for ; e >= 19 && ok; e -= 19 {
		x, ok = x.mulSmall(pow19)
	}
	if ok && e > 0 {
		x, ok = x.mulSmall(pow10x[e][0])
	}
	return x, ok
}

// scaleDownHalfUp returns x/10^d rounded HALF_UP (a tie rounds away from zero, as BigDecimal's
// RoundingMode.HALF_UP on the magnitude).
func scaleDownHalfUp(x u256, d int) u256 {
	if d <= 0 {
		return x
	}
	if d >= len(pow10x) { // x < 2^256 < 0.5 * 10^78
		return u256{}
	}
	// Floors compose: divide by the lower powers first, then by the top 10^k, whose remainder r decides
	// the rounding: the full remainder is at least half of 10^d exactly when r >= 5·10^(k-1).
	k := min(d, 19)
	for e := d - k; e > 0; {
		s := min(e, 19)
		x, _ = x.divSmall(pow10x[s][0])
		e -= s
	}
	q, r := x.divSmall(pow10x[k][0])
	if r >= 5*pow10x[k-1][0] {
		q = q.inc()
	}
	return q
}

// rescale brings x from scale from to scale to (HALF_UP when it drops digits); ok is false when scaling
// up passes 256 bits (the value is then beyond any DECIMAL).
func rescale(x u256, from, to int) (u256, bool) {
	if to >= from {
		return scaleUp(x, to-from)
	}
	return scaleDownHalfUp(x, from-to), true
}

// bigDiv divides with math/big for divisors beyond 64 bits, reusing its integers and word buffers.
type bigDiv struct {
	n, d, q, r big.Int
	nw, dw     []big.Word
}

// divHalfUp returns num/den rounded HALF_UP; ok is false when the platform's words are not 64 bits.
func (b *bigDiv) divHalfUp(num, den u256) (u256, bool) {
	if bits.UintSize != 64 {
		return u256{}, false
	}
	b.nw, b.dw = b.nw[:0], b.dw[:0]
	for i := 0; i < 4; i++ {
		b.nw = append(b.nw, big.Word(num[i]))
		b.dw = append(b.dw, big.Word(den[i]))
	}
	b.n.SetBits(trimWords(b.nw))
	b.d.SetBits(trimWords(b.dw))
	b.q.QuoRem(&b.n, &b.d, &b.r)
	b.r.Lsh(&b.r, 1)
	var q u256
	for i, w := range b.q.Bits() {
		q[i] = uint64(w)
	}
	if b.r.Cmp(&b.d) >= 0 {
		q = q.inc()
	}
	return q, true
}

func trimWords(w []big.Word) []big.Word {
	for len(w) > 0 && w[len(w)-1] == 0 {
		w = w[:len(w)-1]
	}
	return w
}
