package nexmark

import (
	"math"
	"testing"
)

// The expected values were printed by java.util.SplittableRandom (OpenJDK 17) with the same seeds and the
// same calls, so this generator draws exactly the numbers the benchmark's Java generator draws.
func TestSplitMixMatchesJavaSplittableRandom(t *testing.T) {
	r := newSplitMix(42)
	if v := r.nextInt32(); v != -491277234 {
		t.Errorf("nextInt() = %d", v)
	}
	if v := r.nextLong(); v != 2949826092126892291 {
		t.Errorf("nextLong() = %d", v)
	}
	if v := r.nextInt(13); v != 9 {
		t.Errorf("nextInt(13) = %d", v)
	}
	if v := r.nextInt(1000000007); v != 635203165 {
		t.Errorf("nextInt(1000000007) = %d", v)
	}
	if v := r.nextInt(2000000000); v != 1376986781 {
		t.Errorf("nextInt(2000000000) = %d", v)
	}
	if v := r.nextDouble(); v != 0.8682280765465323 {
		t.Errorf("nextDouble() = %v", v)
	}
	if v := r.nextInt(16); v != 0 {
		t.Errorf("nextInt(16) = %d", v)
	}
	if v := math.Round(math.Pow(10, r.nextDouble()*6) * 100); v != 6364895 {
		t.Errorf("price = %v", v)
	}
	// A bound near 2^31 rejects candidates often: the sum and the state afterwards show that the number of
	// draws matches as well.
	s := newSplitMix(-7)
	var sum int64
	for i := 0; i < 1000000; i++ {
		sum += int64(s.nextInt(1500000000))
	}
	if sum != 750030234009247 {
		t.Errorf("sum of 1M nextInt(1500000000) = %d", sum)
	}
	if v := s.nextLong(); v != -4699123177594616931 {
		t.Errorf("nextLong() after = %d", v)
	}
}

// priceOf must round exactly as Math.round(Math.pow(10, u × 6) × 100) does, for any u.
func TestPriceMatchesPow(t *testing.T) {
	r := newSplitMix(5)
	check := func(u float64) {
		want := int64(math.Floor(math.Pow(10, u*6)*100 + 0.5))
		if got := priceOf(u); got != want {
			t.Fatalf("u = %v: price %d, want %d", u, got, want)
		}
	}
	for i := 0; i < 1000000; i++ {
		check(r.nextDouble())
	}
	// Values whose scaled price is near a half: u such that 10^(6u) × 100 = k + 0.5.
	for k := 100.0; k < 1e8; k = k*1.37 + 1 {
		u := math.Log10((math.Floor(k)+0.5)/100) / 6
		for _, d := range []float64{-2e-16, -1e-16, 0, 1e-16, 2e-16} {
			check(u + d)
		}
	}
	check(0)
	check(math.Nextafter(1, 0))
}
