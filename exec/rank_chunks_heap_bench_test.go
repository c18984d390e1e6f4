package exec

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkRankChunkedHeap measures the live heap per kept row of a Rank over an updating input (every row
// kept: ROW_NUMBER() OVER (PARTITION BY k ORDER BY price DESC) <= 10, q19's row shape) with 131,072 rows in
// partitions of about 40, 200 and 2,000 rows (kept in rankChunks), and where it goes, per kept row: entry
// bytes in the chunks (entry-B), the chunks' capacity (chunk-B: entries and slack), the row arena's bytes
// (row-B; its live rows are raw-B).
//
//	go test ./exec -run '^$' -bench RankChunkedHeap -benchtime 1x
func BenchmarkRankChunkedHeap(b *testing.B) {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType(), types.StringType(),
		types.TimestampType(3), types.StringType()}
	for _, per := range []int{40, 200, 2000} {
		b.Run(fmt.Sprintf("rows-per-partition=%d", per), func(b *testing.B) {
			const total = 131072
			parts := int64(total / per)
			rng := rand.New(rand.NewPCG(2, uint64(per)))
			batches := make([]*changelog.Batch, total/1024)
			for k := range batches {
				batches[k] = &changelog.Batch{}
				for j := range 1024 {
					i := int64(k*1024 + j)
					batches[k].Append(changelog.Insert, []types.Value{types.IntValue(rng.Int64N(parts)), types.IntValue(i % 977),
						types.IntValue(rng.Int64N(1_000_000)), types.StringValue("channel-1"),
						types.StringValue(fmt.Sprint("https://example.com/item/", i%5000)),
						types.TimestampValue(1_700_000_000_000+i, 0), types.StringValue("extra")})
				}
			}
			cfg := RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 2, Desc: true}}, Limit: 10, RowNumber: true, Types: ts}
			var perRow, entB, chunkB, rowB, rawB float64
			for b.Loop() {
				before := heapInUse()
				op := NewRank(cfg, &discard{})
				for _, bt := range batches {
					if err := op.Push(bt); err != nil {
						b.Fatal(err)
					}
				}
				after := heapInUse()
				r := op.(*rankOp)
				kept, ents, caps := 0, 0, 0
				for _, bb := range r.st.bigs {
					if bb == nil {
						continue
					}
					kept += bb.total
					ents += bb.size
					bb.eachChunk(func(c []byte, _ int32) { caps += cap(c) })
				}
				if kept < total/2 {
					b.Fatalf("only %d of %d rows are in rankChunks", kept, total)
				}
				raw := 0
				for _, bb := range r.st.bigs {
					if bb != nil {
						bb.each(func(e rEnt) bool { raw += e.rl; return true })
					}
				}
				runtime.KeepAlive(op)
				n := float64(total)
				perRow = float64(int64(after)-int64(before)) / n
				entB, chunkB = float64(ents)/float64(kept), float64(caps)/float64(kept)
				rowB, rawB = float64(r.st.rows.used)/n, float64(raw)/float64(kept)
			}
			b.ReportMetric(perRow, "B/row")
			b.ReportMetric(entB, "entry-B/row")
			b.ReportMetric(chunkB, "chunk-B/row")
			b.ReportMetric(rowB, "row-B/row")
			b.ReportMetric(rawB, "raw-B/row")
		})
	}
}
