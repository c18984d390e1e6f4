package exec

import (
	"math"
	"math/rand"
	"testing"
)

// TestRoundFloatFastMatchesDigits checks roundFloatFast against rounding the formatted shortest digits
// (roundFloatSlow, itself checked against the row path by TestCalcVecRoundingMatchesRowPath) for ties
// and near-ties of every place count (k/10^m and their neighbouring floats), random bit patterns and
// random magnitudes; it also requires the fast path to decide most of them.
func TestRoundFloatFastMatchesDigits(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	var vals []float64
	for i := 0; i < propertyRounds(200_000); i++ {
		m := rng.Intn(16)
		k := rng.Int63n(int64(math.Pow(10, float64(rng.Intn(15)+1))))
		f := float64(k) / math.Pow(10, float64(m))
		if rng.Intn(2) == 0 {
			f = -f
		}
		vals = append(vals, f, math.Nextafter(f, math.Inf(1)), math.Nextafter(f, math.Inf(-1)))
		vals = append(vals, math.Float64frombits(rng.Uint64()), (rng.Float64()-0.5)*math.Pow(10, float64(rng.Intn(30)-10)))
		vals = append(vals, float64(float32(f)))
	}
	vals = append(vals, 0, math.Copysign(0, -1), 2.675, 1.005, 0.045, 4.35, 99.995, 0.5, 1.5, 2.5, 1e-300, 5e-324, 9.999999999999e12, 1e13)
	decided, total := 0, 0
	for _, f := range vals {
		for _, n := range []int{0, 1, 2, 3, 4, 6, 9, 12, 15, 17, 22, 23, -1} {
			for _, halfUp := range []bool{true, false} {
				want := roundFloatSlow(f, n, halfUp)
				got, ok := roundFloatFast(f, n, halfUp)
				total++
				if !ok {
					continue
				}
				decided++
				if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Fatalf("round(%v (%#x), %d, halfUp %v) = %v, digits give %v", f, math.Float64bits(f), n, halfUp, got, want)
				}
			}
		}
	}
	if decided < total/2 {
		t.Fatalf("the fast path decided only %d of %d", decided, total)
	}
	t.Logf("fast path decided %d of %d", decided, total)
}
