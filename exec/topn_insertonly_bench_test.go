package exec

import (
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// topNBenchStream pushes rows insert-only bids (Nexmark's bid shape, random prices) into op in pushes of
// 1024, reusing one batch (so that only the operator holds memory), and returns the heap it holds after.
func topNBenchStream(b *testing.B, op changelog.Output, rows int) uint64 {
	rng := rand.New(rand.NewPCG(10, 16))
	bt := &changelog.Batch{}
	vals := make([]types.Value, 7*1024)
	for j := range 1024 {
		bt.Append(changelog.Insert, vals[7*j:7*j+7:7*j+7])
	}
	before := heapInUse()
	for i := 0; i < rows; i += 1024 {
		for j, r := range bt.Rows {
			n := int64(i + j)
			r.Vals[0], r.Vals[1], r.Vals[2] = types.IntValue(rng.Int64N(1000)), types.IntValue(n%977), types.IntValue(rng.Int64N(1_000_000_000))
			r.Vals[3], r.Vals[4] = types.StringValue("channel-1"), types.StringValue("https://example.com/item/1234")
			r.Vals[5], r.Vals[6] = types.TimestampValue(1_700_000_000_000+n, 0), types.StringValue("extra")
		}
		if err := op.Push(bt); err != nil {
			b.Fatal(err)
		}
	}
	after := heapInUse()
	runtime.KeepAlive(op)
	return max(after, before) - before
}

// BenchmarkTopNGlobalInsertOnly: the global Top-N (ORDER BY price DESC) over 10M insert-only bids: LIMIT
// 10, and ROW_NUMBER between 10000 and 10010 (LIMIT 11 OFFSET 9999); ns/row and the heap it holds after
// (MB-held).
//
//	go test ./exec -run '^$' -bench TopNGlobalInsertOnly -benchtime 1x
func BenchmarkTopNGlobalInsertOnly(b *testing.B) {
	for _, c := range []struct {
		name          string
		limit, offset int64
	}{{"limit=10", 10, 0}, {"rn=10000..10010", 11, 9999}} {
		b.Run(c.name, func(b *testing.B) {
			rows := topNBenchRows
			var held uint64
			for b.Loop() {
				held = topNBenchStream(b, topNBenchOp([]SortKey{{Col: 2, Desc: true}}, c.limit, c.offset, true), rows)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows*b.N), "ns/row")
			b.ReportMetric(float64(held)/(1<<20), "MB-held")
		})
	}
}

// BenchmarkTopNGlobalOffset: ROW_NUMBER between 10000 and 10010 (LIMIT 11 OFFSET 9999) over an updating
// input (each push of 1024 bids also retracts the rows of the push 16 before: 16,384 rows kept, the
// window's rows moving), per input row.
//
//	go test ./exec -run '^$' -bench TopNGlobalOffset -benchtime 2000x
func BenchmarkTopNGlobalOffset(b *testing.B) {
	batches := topNBidBatches(256, true)
	var op changelog.Output
	rows, k := 0, 0
	for b.Loop() {
		if k%len(batches) == 0 {
			op = topNBenchOp([]SortKey{{Col: 2, Desc: true}}, 11, 9999, false)
		}
		bt := batches[k%len(batches)]
		if err := op.Push(bt); err != nil {
			b.Fatal(err)
		}
		rows += len(bt.Rows)
		k++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
}

// topNBenchRows is the rows of BenchmarkTopNGlobalInsertOnly (TOPN_BENCH_ROWS overrides it: the version
// before, which keeps every row, needs minutes for 10M).
var topNBenchRows = func() int {
	if n, err := strconv.Atoi(os.Getenv("TOPN_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 10_000_000
}()
