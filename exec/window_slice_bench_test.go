package exec

import (
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkWindowSlices: COUNT(*), SUM(v) GROUP BY key, window over 1M rows (one per 10 ms, 1K keys), the
// watermark following each 1024-row batch: per window (NewWindowAssigner + NewWindowAgg) vs slice-shared,
// with objects per (slice, key) and with compact slices.
func BenchmarkWindowSlices(b *testing.B) {
	const n = 1 << 20
	var batches []*changelog.Batch
	for i := 0; i < n; i += 1024 {
		bt := &changelog.Batch{}
		for j := i; j < i+1024; j++ {
			bt.Append(changelog.Insert, []types.Value{types.IntValue(int64(j*7919) % 1000), types.IntValue(int64(j % 7)), types.TimestampValue(int64(j)*10, 0)})
		}
		batches = append(batches, bt)
	}
	winTypes := []types.Type{types.BigIntType(), types.BigIntType(), types.TimestampType(3), types.TimestampType(3), types.TimestampType(3), types.TimestampType(3)}
	cfg := GroupAggConfig{Keys: []int{0, 3, 4}, KeyTypes: []types.Type{winTypes[0], winTypes[3], winTypes[4]}, InTypes: winTypes,
		Aggs: []AggCall{{Func: "COUNT", Filter: -1, Type: types.BigIntType()}, {Func: "SUM", Args: []int{1}, ArgTypes: []types.Type{types.BigIntType()}, Filter: -1, Type: types.BigIntType()}}}
	const minute = 60_000
	for _, c := range []struct {
		name string
		spec WindowSpec
	}{{"TUMBLE1m", WindowSpec{Kind: Tumble, Size: minute}}, {"HOP10m1m", WindowSpec{Kind: Hop, Size: 10 * minute, Slide: minute}}, {"CUMULATE1h1m", WindowSpec{Kind: Cumulate, Size: 60 * minute, Slide: minute}}} {
		for _, mode := range []string{"perWindow", "slicedObjects", "sliced"} {
			sliced := mode != "perWindow"
			name := c.name + "/" + mode
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				out := 0
				for range b.N {
					var w changelog.Output
					sink := NewCollect(func(changelog.Row) error { out++; return nil })
					if sliced {
						agg, err := NewSliceWindowAgg(cfg, c.spec, 1, 2, sink)
						if err != nil {
							b.Fatal(err)
						}
						if mode == "slicedObjects" { // the object path (window_slice_compact.go's fallback)
							agg.(*sliceWindowAgg).decompact()
						}
						w = NewSliceAssigner(c.spec, 2, false, nil, agg)
					} else {
						agg, err := NewWindowAgg(cfg, 2, sink)
						if err != nil {
							b.Fatal(err)
						}
						w = NewWindowAssigner(c.spec, 2, false, nil, agg)
					}
					for _, bt := range batches {
						if err := w.Push(bt); err != nil {
							b.Fatal(err)
						}
						if err := w.Watermark(bt.Rows[len(bt.Rows)-1].Vals[2].I); err != nil {
							b.Fatal(err)
						}
					}
					if err := w.End(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(out)/float64(b.N), "results")
			})
		}
	}
}
