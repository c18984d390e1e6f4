package exec

import (
	"runtime"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkSessionWindow: COUNT(*), SUM(v), MAX(v) GROUP BY key, SESSION(ts, 1 s) over 1M rows (one per
// ms, 100 keys; every 200K rows the times jump by 10 s, so each key has 5 sessions of 2,000 rows), the
// watermark following each 1024-row batch: the row-holding path (NewSessionAssigner + NewWindowAgg) vs the
// accumulating one (NewSliceAssigner + NewSessionWindowAgg). liveMB is the operator's live heap (after a
// GC, less the live heap before it started) near the end of the first sessions, where they are largest.
func BenchmarkSessionWindow(b *testing.B) {
	const n, keys, period = 1 << 20, 100, 200_000
	var batches []*changelog.Batch
	for i := 0; i < n; i += 1024 {
		bt := &changelog.Batch{}
		for j := i; j < min(n, i+1024); j++ {
			ts := int64(j) + int64(j/period)*10_000
			bt.Append(changelog.Insert, []types.Value{types.IntValue(int64(j % keys)), types.IntValue(int64(j % 13)), types.TimestampValue(ts, 0)})
		}
		batches = append(batches, bt)
	}
	in := []types.Type{types.BigIntType(), types.BigIntType(), types.TimestampType(3), types.TimestampType(3), types.TimestampType(3), types.TimestampType(3)}
	cfg := GroupAggConfig{Keys: []int{0, 3, 4}, KeyTypes: []types.Type{in[0], in[3], in[4]}, InTypes: in,
		Aggs: aggCalls(b, in, "COUNT(*)", "SUM($1)", "MAX($1)")}
	spec := WindowSpec{Kind: Session, Size: 1000}
	probe := (period - 10_000) / 1024 // a batch near the end of the first sessions
	for _, acc := range []bool{false, true} {
		name := "rows"
		if acc {
			name = "accumulators"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			out := 0
			var live float64
			for range b.N {
				b.StopTimer()
				var ms runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms)
				base := ms.HeapAlloc
				b.StartTimer()
				sink := NewCollect(func(changelog.Row) error { out++; return nil })
				var w changelog.Output
				if acc {
					agg, err := NewSessionWindowAgg(cfg, spec, 1, 2, sink)
					if err != nil {
						b.Fatal(err)
					}
					w = NewSliceAssigner(spec, 2, false, nil, agg)
				} else {
					agg, err := NewWindowAgg(cfg, 2, sink)
					if err != nil {
						b.Fatal(err)
					}
					w = NewSessionAssigner(spec.Size, 2, []int{0}, []types.Type{in[0]}, false, nil, agg)
				}
				for i, bt := range batches {
					if err := w.Push(bt); err != nil {
						b.Fatal(err)
					}
					if err := w.Watermark(bt.Rows[len(bt.Rows)-1].Vals[2].I); err != nil {
						b.Fatal(err)
					}
					if i == probe {
						b.StopTimer()
						runtime.GC()
						runtime.ReadMemStats(&ms)
						live = float64(int64(ms.HeapAlloc)-int64(base)) / (1 << 20)
						b.StartTimer()
					}
				}
				if err := w.End(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/row")
			b.ReportMetric(float64(out)/float64(b.N), "results")
			b.ReportMetric(live, "liveMB")
		})
	}
}
