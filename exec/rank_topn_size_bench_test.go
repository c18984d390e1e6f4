package exec

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkRankTopNSizes measures a Top-N per partition (q19's row shape: 7 columns with three strings,
// ROW_NUMBER() OVER (PARTITION BY k ORDER BY price DESC) <= N) with partitions of N = 10, 100 and 1000 rows,
// per input row (ns/row) and the live heap per kept row (B/row: state and
// the operator's scratch) after a full stream, over
// 65,536 rows into 65,536/(8N) partitions (each sees about 8N rows: it fills, then about one row in
// seven enters it).
//   - insert: an insert-only input (rows past N are not kept);
//   - insert-nonum: the same without the row number in the output (a row entering emits +I for it and -D for
//     the row it pushes out, not the rows that move down);
//   - update: an updating input (every row is kept; one input row in four retracts an earlier one).
func BenchmarkRankTopNSizes(b *testing.B) {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType(), types.StringType(),
		types.TimestampType(3), types.StringType()}
	for _, mode := range []string{"insert", "insert-nonum", "update"} {
		updating, rowNumber := mode == "update", mode != "insert-nonum"
		for _, n := range []int64{10, 100, 1000} {
			b.Run(fmt.Sprintf("%s/N=%d", mode, n), func(b *testing.B) {
				parts := int64(65536 / (8 * n))
				cfg := RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 2, Desc: true}}, Limit: n, RowNumber: rowNumber,
					Types: ts, InsertOnly: !updating}
				rng := rand.New(rand.NewPCG(1, uint64(n)))
				const nb = 64
				batches := make([]*changelog.Batch, nb)
				var live [][]types.Value
				for k := range batches {
					batches[k] = &changelog.Batch{}
					for j := range 1024 {
						i := int64(k*1024 + j)
						if updating && len(live) > 0 && rng.IntN(4) == 0 {
							x := rng.IntN(len(live))
							batches[k].Append(changelog.Delete, live[x])
							live[x] = live[len(live)-1]
							live = live[:len(live)-1]
							continue
						}
						row := []types.Value{types.IntValue(rng.Int64N(parts)), types.IntValue(i % 977),
							types.IntValue(rng.Int64N(1_000_000)), types.StringValue("channel-1"),
							types.StringValue(fmt.Sprint("https://example.com/item/", i%5000)),
							types.TimestampValue(1_700_000_000_000+i, 0), types.StringValue("extra")}
						batches[k].Append(changelog.Insert, row)
						live = append(live, row)
					}
				}
				// a full stream's heap (b.Loop runs the function once: b.N is not known here)
				perRow := rankHeapPerRow(b, cfg, batches)
				out := &discard{}
				var op changelog.Output
				b.ReportAllocs()
				k := 0
				for b.Loop() {
					if k%nb == 0 {
						op = NewRank(cfg, out) // a new stream
					}
					if err := op.Push(batches[k%nb]); err != nil {
						b.Fatal(err)
					}
					k++
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(k*1024), "ns/row")
				if perRow != 0 {
					b.ReportMetric(perRow, "B/row")
				}
			})
		}
	}
}

// rankHeapPerRow returns the live heap per kept row of a Rank of cfg after batches.
func rankHeapPerRow(b *testing.B, cfg RankConfig, batches []*changelog.Batch) float64 {
	before := heapInUse()
	op := NewRank(cfg, &discard{})
	for _, bt := range batches {
		if err := op.Push(bt); err != nil {
			b.Fatal(err)
		}
	}
	after := heapInUse()
	r := op.(*rankOp)
	kept := 0
	for slot, v := range r.st.st.slots {
		if v != 0 {
			r.st.load(slot, &r.part)
			kept += r.part.count()
		}
	}
	runtime.KeepAlive(op)
	return float64(int64(after)-int64(before)) / float64(max(kept, 1))
}
