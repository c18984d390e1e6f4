package exec

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// topNBidBatches builds nb batches of 1024 bids (Nexmark's bid shape: auction, bidder, price, channel, url,
// dateTime, extra; prices random) for the global Top-N benchmarks. With retract, batch k also retracts
// every row of batch k-16 (an updating input whose state stays at 16 batches of rows, moving through the
// order: rows leave the window and others come back into it).
func topNBidBatches(nb int, retract bool) []*changelog.Batch {
	rng := rand.New(rand.NewPCG(3, 14))
	batches := make([]*changelog.Batch, nb)
	for k := range batches {
		batches[k] = &changelog.Batch{}
		for j := range 1024 {
			i := int64(k*1024 + j)
			batches[k].Append(changelog.Insert, []types.Value{types.IntValue(rng.Int64N(1000)), types.IntValue(i % 977),
				types.IntValue(rng.Int64N(1_000_000)), types.StringValue("channel-1"),
				types.StringValue(fmt.Sprint("https://example.com/item/", i%5000)),
				types.TimestampValue(1_700_000_000_000+i, 0), types.StringValue("extra")})
		}
		if retract && k >= 16 {
			for _, r := range batches[k-16].Rows[:1024] {
				batches[k].Append(changelog.Delete, r.Vals)
			}
		}
	}
	return batches
}

// BenchmarkTopNGlobal measures the global Top-N (SELECT * FROM (SELECT *, ROW_NUMBER() OVER (ORDER BY price
// DESC) AS rn FROM bid) WHERE rn <= limit, no PARTITION BY) per input row, in pushes of 1024 bids: insert —
// an insert-only stream (a new operator every 256 pushes, so its list grows to 262,144 rows); update — each
// push also retracts the rows of the push 16 before (16,384 rows kept). Limits 10, 1000 and none.
//
//	go test ./exec -run '^$' -bench TopNGlobal -benchtime 2000x
func BenchmarkTopNGlobal(b *testing.B) {
	for _, mode := range []string{"insert", "update"} {
		batches := topNBidBatches(256, mode == "update")
		for _, limit := range []int64{10, 1000, -1} {
			b.Run(fmt.Sprintf("%s/limit=%d", mode, limit), func(b *testing.B) {
				keys := []SortKey{{Col: 2, Desc: true}}
				var op changelog.Output
				rows := 0
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				k := 0
				for b.Loop() {
					if k%len(batches) == 0 {
						op = NewTopN(keys, limit, 0, &discard{})
					}
					bt := batches[k%len(batches)]
					if err := op.Push(bt); err != nil {
						b.Fatal(err)
					}
					rows += len(bt.Rows)
					k++
				}
				runtime.ReadMemStats(&ms1)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
				b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(rows), "allocs/row")
				b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(rows), "alloc-B/row")
			})
		}
	}
}

// BenchmarkTopNGlobalHeap measures the heap the global Top-N (ORDER BY price DESC LIMIT 10) holds per kept
// row after 262,144 bids (it keeps every row: a retraction may bring any back), over the raw width of a
// row (7 columns: 4 BIGINT-sized, 3 strings of 9, about 28 and 5 bytes).
//
//	go test ./exec -run '^$' -bench TopNGlobalHeap -benchtime 1x
func BenchmarkTopNGlobalHeap(b *testing.B) {
	batches := topNBidBatches(256, false)
	const raw = 8*4 + 9 + 28 + 5
	var perRow float64
	for b.Loop() {
		before := heapInUse()
		op := NewTopN([]SortKey{{Col: 2, Desc: true}}, 10, 0, &discard{})
		kept := 0
		for _, bt := range batches {
			if err := op.Push(bt); err != nil {
				b.Fatal(err)
			}
			kept += len(bt.Rows)
		}
		after := heapInUse()
		runtime.KeepAlive(op)
		perRow = (float64(after) - float64(before)) / float64(kept)
	}
	b.ReportMetric(perRow, "B/row")
	b.ReportMetric(perRow/raw, "x-raw")
}
