package json

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestFastFloat checks fastFloat against strconv.ParseFloat bit for bit, on chosen numbers and on random
// decimals of 1 to 17 digits; numbers it does not take must be the ones with an exponent or past 15 digits.
func TestFastFloat(t *testing.T) {
	cases := []string{"0", "-0", "0.0", "-0.0", "1", "12.5", "0.1", "0.3", "-2.675", "123456789012345",
		"1234567890.12345", "0.000000000000001", "999999999999999", "9007199254740993", "1e5", "1.5E-3",
		"1234567890123456", "00.5"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		n := r.IntN(17) + 1
		b := make([]byte, 0, 20)
		if r.IntN(2) == 0 {
			b = append(b, '-')
		}
		dot := r.IntN(n + 1)
		for i := range n {
			if i == dot && i > 0 {
				b = append(b, '.')
			}
			b = append(b, byte('0'+r.IntN(10)))
		}
		cases = append(cases, string(b))
	}
	taken := 0
	for _, c := range cases {
		want, err := strconv.ParseFloat(c, 64)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		got, ok := fastFloat([]byte(c))
		if !ok {
			digits := 0
			for _, ch := range c {
				if ch >= '0' && ch <= '9' {
					digits++
				}
			}
			if digits <= 15 && !containsExp(c) {
				t.Errorf("%s: fastFloat refused a number of %d digits without exponent", c, digits)
			}
			continue
		}
		taken++
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("%s: fastFloat %v (%#x), strconv %v (%#x)", c, got, math.Float64bits(got), want, math.Float64bits(want))
		}
	}
	if taken < len(cases)/2 {
		t.Errorf("fastFloat took %d of %d numbers", taken, len(cases))
	}
}

func containsExp(s string) bool {
	for _, ch := range s {
		if ch == 'e' || ch == 'E' {
			return true
		}
	}
	return false
}
