package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkSliceGrowth: Nexmark q5's HOP aggregate (COUNT(*) GROUP BY auction, HOP(10 s, 2 s)) over bids
// whose auctions follow the Nexmark generator (half on the current hot auction, half on one of the ~110
// newest), 10M events per second of event time, so that a run of n rows keeps n*3/50 auctions in one or two
// slices until its end fires every window. ns/row should not grow with rows.
func BenchmarkSliceGrowth(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		for _, wm := range []bool{false, true} {
			name := fmt.Sprintf("rows=%dM", n/1_000_000)
			if wm {
				name += "/firing" // 1M events per second of event time: windows fire during the run
			}
			b.Run(name, func(b *testing.B) {
				benchSliceGrowth(b, n, wm)
			})
		}
	}
}

func benchSliceGrowth(b *testing.B, n int, wm bool) {
	ts := []types.Type{types.BigIntType(), types.TimestampType(3), types.TimestampType(3), types.TimestampType(3), types.TimestampType(3)}
	cfg := GroupAggConfig{Keys: []int{0, 2, 3}, KeyTypes: []types.Type{ts[0], ts[2], ts[3]}, InTypes: ts,
		Aggs: []AggCall{{Func: "COUNT", Filter: -1, Type: types.BigIntType()}}}
	spec := WindowSpec{Kind: Hop, Size: 10_000, Slide: 2_000}
	perMs := int64(10_000)
	if wm {
		perMs = 1_000
	}
	vals := make([]types.Value, 2*1024)
	batch := &changelog.Batch{}
	out := 0
	cpu0 := processCPU()
	for b.Loop() {
		rng := rand.New(rand.NewPCG(1, 2))
		sink := NewCollect(func(changelog.Row) error { out++; return nil })
		agg, err := NewSliceWindowAgg(cfg, spec, 1, 2, sink)
		if err != nil {
			b.Fatal(err)
		}
		w := NewSliceAssigner(spec, 1, false, nil, agg)
		for e := 0; e < n; {
			batch.Reset()
			for j := 0; j < 1024 && e < n; j, e = j+1, e+1 {
				last := int64(e) * 3 / 50
				a := last / 100 * 100
				if rng.IntN(2) == 0 {
					a = max(0, last-100) + rng.Int64N(111)
				}
				v := vals[2*j : 2*j+2 : 2*j+2]
				v[0], v[1] = types.IntValue(1000+a), types.TimestampValue(int64(e)/perMs, 0)
				batch.Append(changelog.Insert, v)
			}
			if err := w.Push(batch); err != nil {
				b.Fatal(err)
			}
			if wm {
				if err := w.Watermark(int64(e)/perMs - 4000); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := w.End(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(n*b.N), "cpu-ns/row")
	b.ReportMetric(float64(out)/float64(b.N), "results")
}
