package textconv

import (
	"fmt"
	"math/big"
	"math/rand"
	"strings"
	"testing"
)

// TestParseDecimal128: the edges of the 128-bit parser — 38 digits, half-up rounding to the scale (ties
// away from zero, a carry into one more digit), every exponent form of JSON and of Java's BigDecimal, huge
// exponents, and the text it refuses.
func TestParseDecimal128(t *testing.T) {
	max38 := strings.Repeat("9", 38)
	for _, c := range []struct {
		in   string
		p, s int
		want string // unscaled value; "" with a Result other than OK
		res  Result
	}{
		{max38, 38, 0, max38, OK},
		{"-" + max38, 38, 0, "-" + max38, OK},
		{"1" + strings.Repeat("0", 38), 38, 0, "", OutOfRange},
		{"0." + max38, 38, 38, max38, OK},
		{"0." + max38 + "9", 38, 38, "", OutOfRange}, // rounds to 1.000..., 39 digits
		{"0." + max38 + "4", 38, 38, max38, OK},
		{"000000000000000000000000000000000000000000012.5", 20, 0, "13", OK}, // leading zeros are not digits
		{"12.5", 20, 0, "13", OK},
		{"-12.5", 20, 0, "-13", OK}, // half-up: away from zero
		{"12.49999999999999999999999999999999999999999", 20, 0, "12", OK},
		{"-0.5", 20, 0, "-1", OK},
		{"0.4", 20, 0, "0", OK},
		{"0.05", 20, 1, "1", OK},
		{"99999999999999999999.5", 20, 0, "", OutOfRange}, // the rounding carry needs a 21st digit
		{"99999999999999999999.4", 20, 0, "99999999999999999999", OK},
		{"1e5", 20, 2, "10000000", OK},
		{"1E+5", 20, 2, "10000000", OK},
		{"1.5e-3", 20, 4, "15", OK},
		{"1.55E-3", 20, 4, "16", OK},
		{"-0.0e10", 20, 2, "0", OK},
		{"0e999999999999", 20, 2, "0", OK},
		{"1e-999999999999", 20, 2, "0", OK},
		{"1e999999999999", 38, 2, "", OutOfRange},
		{"123456789012345678901234567890123456789012345e-20", 38, 5, "123456789012345678901234567890", OK},
		{"5e-3", 20, 2, "1", OK},
		{"123456789012345678901234567890123456789012345e-11", 38, 3, "1234567890123456789012345678901234568", OK},
		{"4.9e-3", 20, 2, "0", OK},
		{"+7", 20, 0, "7", OK},
		{".5", 20, 0, "1", OK},
		{"5.", 20, 0, "5", OK},
		{" 42 ", 20, 0, "42", OK},
		{"", 20, 0, "", Invalid},
		{"-", 20, 0, "", Invalid},
		{".", 20, 0, "", Invalid},
		{"e5", 20, 0, "", Invalid},
		{"1e", 20, 0, "", Invalid},
		{"1e+", 20, 0, "", Invalid},
		{"1.2.3", 20, 0, "", Invalid},
		{"--1", 20, 0, "", Invalid},
		{"1x", 20, 0, "", Invalid},
		{"NaN", 20, 0, "", Invalid},
	} {
		x, res := ParseDecimal128([]byte(c.in), c.p, c.s, true)
		if res != c.res {
			t.Errorf("%q DECIMAL(%d, %d): result %v, want %v", c.in, c.p, c.s, res, c.res)
			continue
		}
		if res == OK && x.Big().String() != c.want {
			t.Errorf("%q DECIMAL(%d, %d): got %s, want %s", c.in, c.p, c.s, x.Big(), c.want)
		}
	}
}

// TestParseDecimal128Random: random numbers (up to 45 digits, signs, fractions, exponents) give what exact
// rational arithmetic gives: the value rounded half-up to the scale, or OutOfRange past the precision; and
// ParseDecimal (the value path) gives the same value.
func TestParseDecimal128Random(t *testing.T) {
	rng := rand.New(rand.NewSource(14))
	digits := func(n int) string {
		var sb strings.Builder
		for range n {
			sb.WriteByte(byte('0' + rng.Intn(10)))
		}
		return sb.String()
	}
	for range 20000 {
		var sb strings.Builder
		if rng.Intn(3) == 0 {
			sb.WriteByte('-')
		}
		sb.WriteString(digits(1 + rng.Intn(30)))
		if rng.Intn(2) == 0 {
			sb.WriteString("." + digits(1+rng.Intn(15)))
		}
		if rng.Intn(3) == 0 {
			fmt.Fprintf(&sb, "e%d", rng.Intn(50)-25)
		}
		in := sb.String()
		p := 19 + rng.Intn(20)
		s := rng.Intn(p + 1)
		want, wantOK := reference(in, p, s)
		x, res := ParseDecimal128([]byte(in), p, s, false)
		switch {
		case !wantOK && res != OutOfRange:
			t.Fatalf("%s DECIMAL(%d, %d): got %v %s, want OutOfRange", in, p, s, res, x.Big())
		case wantOK && (res != OK || x.Big().Cmp(want) != 0):
			t.Fatalf("%s DECIMAL(%d, %d): got %v %s, want %s", in, p, s, res, x.Big(), want)
		}
		v, vres := ParseDecimal([]byte(in), p, s, false)
		if vres != res || res == OK && (v.DecimalBig().Cmp(want) != 0 || v.DecimalScale() != s) {
			t.Fatalf("%s DECIMAL(%d, %d): ParseDecimal %v %v, ParseDecimal128 %v %s", in, p, s, vres, v, res, x.Big())
		}
	}
}

// reference is the unscaled value of in at scale s rounded half-up, by big.Rat; false past precision p.
func reference(in string, p, s int) (*big.Int, bool) {
	r, ok := new(big.Rat).SetString(in)
	if !ok {
		panic(in)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil)))
	neg := r.Sign() < 0
	r.Abs(r)
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Lsh(m, 1).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if q.Cmp(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil)) >= 0 {
		return nil, false
	}
	if neg {
		q.Neg(q)
	}
	return q, true
}
