package types

import (
	"math"
	"math/big"
	"math/rand"
	"strings"
	"testing"
)

func mustDec(t testing.TB, s string) Value {
	t.Helper()
	v, err := ParseDecimal(s)
	if err != nil {
		t.Fatalf("ParseDecimal(%q): %v", s, err)
	}
	return v
}

func TestParseDecimal(t *testing.T) {
	for _, c := range []struct {
		in, out string
		scale   int
	}{
		{"0", "0", 0},
		{"12.30", "12.30", 2},
		{"  -0.05 ", "-0.05", 2},
		{"+7", "7", 0},
		{".5", "0.5", 1},
		{"5.", "5", 0},
		{"1.5E3", "1500", 0},
		{"1.5e-3", "0.0015", 4},
		{"1.50E+1", "15.0", 1},
		{"-0", "0", 0},
		{"0.000", "0.000", 3},
		{"123456789012345678", "123456789012345678", 0},
		{"1234567890123456789", "1234567890123456789", 0},
		{"-99999999999999999999999999999999999999", "-99999999999999999999999999999999999999", 0},
		{"12345678901234567890.123456789", "12345678901234567890.123456789", 9},
		{"0000000000000000000000000001.5", "1.5", 1},
		{"9223372036854775807", "9223372036854775807", 0},
		{"-9223372036854775808", "-9223372036854775808", 0},
		{"1e20", "100000000000000000000", 0},
	} {
		v, err := ParseDecimal(c.in)
		if err != nil {
			t.Errorf("ParseDecimal(%q): %v", c.in, err)
			continue
		}
		if got := DecimalString(v); got != c.out || v.DecimalScale() != c.scale {
			t.Errorf("ParseDecimal(%q) = %s scale %d, want %s scale %d", c.in, got, v.DecimalScale(), c.out, c.scale)
		}
		if v.X != nil && v.DecimalBig().IsInt64() {
			t.Errorf("ParseDecimal(%q): not normalized to int64 form", c.in)
		}
	}
	for _, bad := range []string{"", " ", "-", "+", ".", "1..2", "1.2.3", "abc", "1e", "1e+", "1 2", "--1", "1x", "e5", "0x10", "1e99999"} {
		if v, err := ParseDecimal(bad); err == nil {
			t.Errorf("ParseDecimal(%q) = %s, want error", bad, DecimalString(v))
		}
	}
}

func TestDecimalRescale(t *testing.T) {
	for _, c := range []struct {
		in    string
		scale int
		out   string
	}{
		{"1.25", 1, "1.3"},
		{"1.24", 1, "1.2"},
		{"-1.25", 1, "-1.3"},
		{"-1.249", 1, "-1.2"},
		{"0.5", 0, "1"},
		{"-0.5", 0, "-1"},
		{"0.49", 0, "0"},
		{"2.5", 0, "3"},
		{"1.2", 4, "1.2000"},
		{"9223372036854775807", 2, "9223372036854775807.00"},
		{"99999999999999999999.995", 2, "100000000000000000000.00"},
		{"123", 0, "123"},
		{"5000000000000000000", 0, "5000000000000000000"},
	} {
		if got := DecimalString(DecimalRescale(mustDec(t, c.in), c.scale)); got != c.out {
			t.Errorf("DecimalRescale(%s, %d) = %s, want %s", c.in, c.scale, got, c.out)
		}
	}
	// Scale reduction by 19 digits of an int64 value.
	if got := DecimalRescale(DecimalValue(5_000_000_000_000_000_000, 19), 0); got.I != 1 {
		t.Errorf("rescale 0.5000000000000000000 to 0 = %v, want 1", DecimalString(got))
	}
	if got := DecimalRescale(DecimalValue(-4_999_999_999_999_999_999, 19), 0); got.I != 0 {
		t.Errorf("rescale -0.4999999999999999999 to 0 = %v, want 0", DecimalString(got))
	}
	if got := DecimalRescale(DecimalValue(math.MaxInt64, 20), 0); got.I != 0 {
		t.Errorf("rescale by 20 = %v, want 0", DecimalString(got))
	}
}

func TestDecimalArithmetic(t *testing.T) {
	for _, c := range []struct{ a, b, add, sub, mul string }{
		{"1.5", "2.25", "3.75", "-0.75", "3.375"},
		{"-0.01", "0.01", "0.00", "-0.02", "-0.0001"},
		{"9223372036854775807", "1", "9223372036854775808", "9223372036854775806", "9223372036854775807"},
		{"-9223372036854775808", "-1", "-9223372036854775809", "-9223372036854775807", "9223372036854775808"},
		{"4611686018427387904", "2", "4611686018427387906", "4611686018427387902", "9223372036854775808"},
		{"99999999999999999999.99", "0.01", "100000000000000000000.00", "99999999999999999999.98", "999999999999999999.9999"},
	} {
		a, b := mustDec(t, c.a), mustDec(t, c.b)
		if got := DecimalString(DecimalAdd(a, b)); got != c.add {
			t.Errorf("%s + %s = %s, want %s", c.a, c.b, got, c.add)
		}
		if got := DecimalString(DecimalSub(a, b)); got != c.sub {
			t.Errorf("%s - %s = %s, want %s", c.a, c.b, got, c.sub)
		}
		if got := DecimalString(DecimalMul(a, b)); got != c.mul {
			t.Errorf("%s * %s = %s, want %s", c.a, c.b, got, c.mul)
		}
	}
	for _, c := range []struct {
		a, b  string
		scale int
		out   string
	}{
		{"1", "3", 6, "0.333333"},
		{"2", "3", 6, "0.666667"},
		{"-2", "3", 6, "-0.666667"},
		{"1", "8", 2, "0.13"},
		{"-1", "8", 2, "-0.13"},
		{"1", "-8", 2, "-0.13"},
		{"10.00", "4", 1, "2.5"},
		{"10", "0.004", 0, "2500"},
		{"1", "3", 30, "0.333333333333333333333333333333"},
		{"-9223372036854775808", "-1", 0, "9223372036854775808"},
		{"12345678901234567890", "10", 0, "1234567890123456789"},
	} {
		got, err := DecimalDiv(mustDec(t, c.a), mustDec(t, c.b), c.scale)
		if err != nil || DecimalString(got) != c.out {
			t.Errorf("%s / %s (scale %d) = %s, %v, want %s", c.a, c.b, c.scale, DecimalString(got), err, c.out)
		}
	}
	if _, err := DecimalDiv(mustDec(t, "1"), mustDec(t, "0.00"), 2); err != ErrDivideByZero {
		t.Errorf("1 / 0: err = %v, want ErrDivideByZero", err)
	}
	if got, _ := DecimalMod(mustDec(t, "-7.5"), mustDec(t, "2")); DecimalString(got) != "-1.5" {
		t.Errorf("-7.5 %% 2 = %s, want -1.5", DecimalString(got))
	}
	if got := DecimalString(DecimalNeg(mustDec(t, "-9223372036854775808"))); got != "9223372036854775808" {
		t.Errorf("neg min int64 = %s", got)
	}
}

func TestDecimalCmpPrecisionFits(t *testing.T) {
	for _, c := range []struct {
		a, b string
		cmp  int
	}{
		{"1.0", "1.00", 0},
		{"1.01", "1.1", -1},
		{"-1", "0.5", -1},
		{"100000000000000000000", "99999999999999999999.99", 1},
		{"-100000000000000000000", "-99999999999999999999.99", -1},
		{"0", "-0.00", 0},
		{"9223372036854775807", "922337203685477580.7", 1},
	} {
		if got := DecimalCmp(mustDec(t, c.a), mustDec(t, c.b)); got != c.cmp {
			t.Errorf("DecimalCmp(%s, %s) = %d, want %d", c.a, c.b, got, c.cmp)
		}
	}
	for _, c := range []struct {
		in   string
		prec int
	}{{"0", 1}, {"0.00", 1}, {"-12.345", 5}, {"9223372036854775807", 19}, {"-99999999999999999999999999999999999999", 38}} {
		if got := DecimalPrecision(mustDec(t, c.in)); got != c.prec {
			t.Errorf("DecimalPrecision(%s) = %d, want %d", c.in, got, c.prec)
		}
	}
	for _, c := range []struct {
		in   string
		p, s int
		fits bool
	}{
		{"999.99", 5, 2, true},
		{"999.995", 5, 2, false}, // rounds to 1000.00
		{"999.994", 5, 2, true},
		{"-12.3", 3, 1, true},
		{"123.4", 3, 1, false},
		{"0.001", 1, 1, true}, // rounds to 0.0
		{"12345678901234567890", 20, 0, true},
		{"12345678901234567890", 19, 0, false},
		{"1", 38, 38, false},
		{"0.1", 38, 38, true},
	} {
		if got := DecimalFits(mustDec(t, c.in), c.p, c.s); got != c.fits {
			t.Errorf("DecimalFits(%s, %d, %d) = %v, want %v", c.in, c.p, c.s, got, c.fits)
		}
	}
}

func TestDecimalConversions(t *testing.T) {
	for _, c := range []struct {
		in string
		i  int64
		ok bool
	}{
		{"12.99", 12, true}, {"-12.99", -12, true}, {"0.5", 0, true},
		{"9223372036854775807.9", math.MaxInt64, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775808.5", math.MinInt64, true},
	} {
		i, ok := DecimalToInt(mustDec(t, c.in))
		if i != c.i || ok != c.ok {
			t.Errorf("DecimalToInt(%s) = %d, %v, want %d, %v", c.in, i, ok, c.i, c.ok)
		}
	}
	for _, c := range []struct {
		in string
		f  float64
	}{{"0.1", 0.1}, {"-12.345", -12.345}, {"12345678901234567890.123", 12345678901234567890.123}, {"1e-30", 1e-30}} {
		if got := DecimalToFloat(mustDec(t, c.in)); got != c.f {
			t.Errorf("DecimalToFloat(%s) = %v, want %v", c.in, got, c.f)
		}
	}
	for _, c := range []struct {
		f     float64
		scale int
		out   string
	}{
		{0.1, 2, "0.10"}, {1.005, 2, "1.01"}, // valueOf(1.005) is 1.005, so HALF_UP gives 1.01
		{-2.5, 0, "-3"}, {1e20, 0, "100000000000000000000"}, {123.456, 1, "123.5"}, {3, 3, "3.000"},
	} {
		got, err := DecimalFromFloat(c.f, c.scale)
		if err != nil || DecimalString(got) != c.out {
			t.Errorf("DecimalFromFloat(%v, %d) = %s, %v, want %s", c.f, c.scale, DecimalString(got), err, c.out)
		}
	}
	if _, err := DecimalFromFloat(math.NaN(), 2); err == nil {
		t.Error("DecimalFromFloat(NaN): want error")
	}
	if got := DecimalFromInt(-42); DecimalString(got) != "-42" || got.DecimalScale() != 0 {
		t.Errorf("DecimalFromInt(-42) = %s", DecimalString(got))
	}
}

// randDecimal returns a random decimal that is often near the int64 boundary.
func randDecimal(r *rand.Rand) Value {
	scale := r.Intn(12)
	var b *big.Int
	switch r.Intn(4) {
	case 0:
		b = big.NewInt(r.Int63n(2000) - 1000)
	case 1:
		b = big.NewInt(r.Int63())
	case 2:
		b = new(big.Int).Lsh(big.NewInt(r.Int63()), uint(r.Intn(70)))
	default:
		b = big.NewInt(math.MaxInt64 - r.Int63n(3))
	}
	if r.Intn(2) == 0 {
		b.Neg(b)
	}
	return BigDecimalValue(b, scale)
}

func ratOf(v Value) *big.Rat {
	return new(big.Rat).SetFrac(v.DecimalBig(), bigPow10(v.DecimalScale()))
}

// roundRat rounds x HALF_UP to scale digits, the reference for division and rescaling.
func roundRat(x *big.Rat, scale int) string {
	n := new(big.Int).Mul(x.Num(), bigPow10(scale))
	return DecimalString(BigDecimalValue(divHalfUp(n, x.Denom()), scale))
}

func TestDecimalPropertiesVsBig(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 6000; i++ {
		a, b := randDecimal(r), randDecimal(r)
		ra, rb := ratOf(a), ratOf(b)
		check := func(op string, got Value, want *big.Rat, scale int) {
			t.Helper()
			if got.DecimalScale() != scale || ratOf(got).Cmp(want) != 0 {
				t.Fatalf("%s %s %s = %s (scale %d), want %s", DecimalString(a), op, DecimalString(b),
					DecimalString(got), got.DecimalScale(), want.FloatString(scale))
			}
			if got.X != nil && got.DecimalBig().IsInt64() {
				t.Fatalf("%s: result not normalized", op)
			}
		}
		s := max(a.DecimalScale(), b.DecimalScale())
		check("+", DecimalAdd(a, b), new(big.Rat).Add(ra, rb), s)
		check("-", DecimalSub(a, b), new(big.Rat).Sub(ra, rb), s)
		check("*", DecimalMul(a, b), new(big.Rat).Mul(ra, rb), a.DecimalScale()+b.DecimalScale())
		if got, want := DecimalCmp(a, b), ra.Cmp(rb); got != want {
			t.Fatalf("DecimalCmp(%s, %s) = %d, want %d", DecimalString(a), DecimalString(b), got, want)
		}
		if rb.Sign() != 0 {
			scale := r.Intn(20)
			q, err := DecimalDiv(a, b, scale)
			if err != nil {
				t.Fatal(err)
			}
			if want := roundRat(new(big.Rat).Quo(ra, rb), scale); DecimalString(q) != want {
				t.Fatalf("%s / %s (scale %d) = %s, want %s", DecimalString(a), DecimalString(b), scale, DecimalString(q), want)
			}
		}
		ns := r.Intn(15)
		if got, want := DecimalString(DecimalRescale(a, ns)), roundRat(ra, ns); got != want {
			t.Fatalf("DecimalRescale(%s, %d) = %s, want %s", DecimalString(a), ns, got, want)
		}
		// String round trip.
		p, err := ParseDecimal(DecimalString(a))
		if err != nil || DecimalCmp(p, a) != 0 || p.DecimalScale() != a.DecimalScale() {
			t.Fatalf("round trip of %s: %s, %v", DecimalString(a), DecimalString(p), err)
		}
		// Truncation to integer.
		if i, ok := DecimalToInt(a); ok {
			want := new(big.Int).Quo(ra.Num(), ra.Denom())
			if want.Int64() != i {
				t.Fatalf("DecimalToInt(%s) = %d, want %s", DecimalString(a), i, want)
			}
		}
		// Float conversion is correctly rounded.
		if f, _ := ra.Float64(); DecimalToFloat(a) != f {
			t.Fatalf("DecimalToFloat(%s) = %v, want %v", DecimalString(a), DecimalToFloat(a), f)
		}
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "1.5", "-0.05", "1.5E3", " 12.30 ", "99999999999999999999.99", "1e-5", ".5", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseDecimal(s)
		if err != nil {
			return
		}
		if v.DecimalScale() < 0 {
			t.Fatalf("negative scale for %q", s)
		}
		// The value agrees with big.Rat's parser of the same text.
		txt := strings.TrimSpace(s)
		if want, ok := new(big.Rat).SetString(txt); ok && !strings.ContainsAny(txt, "_xXoObBpP/") {
			if ratOf(v).Cmp(want) != 0 {
				t.Fatalf("ParseDecimal(%q) = %s, big.Rat says %s", s, DecimalString(v), want.RatString())
			}
		}
		out := DecimalString(v)
		w, err := ParseDecimal(out)
		if err != nil || DecimalCmp(v, w) != 0 || w.DecimalScale() != v.DecimalScale() || DecimalString(w) != out {
			t.Fatalf("round trip %q → %s → %s, %v", s, out, DecimalString(w), err)
		}
		if v.X != nil && v.DecimalBig().IsInt64() {
			t.Fatalf("ParseDecimal(%q) not normalized", s)
		}
	})
}
