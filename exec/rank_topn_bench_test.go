package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkRankTopN measures a Top-10 per partition (Nexmark q19's shape: ROW_NUMBER() OVER (PARTITION BY
// auction ORDER BY price DESC) <= 10 over an insert-only stream of bids, 7 columns with three strings) per
// input row, in pushes of 1024 rows over 1,000 auctions, prices random: about one row in five enters its
// partition's top rows once they are full, and each that does moves the rows below it (a -D and a +I each).
func BenchmarkRankTopN(b *testing.B) {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType(), types.StringType(),
		types.TimestampType(3), types.StringType()}
	cfg := RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 2, Desc: true}}, Limit: 10, RowNumber: true, Types: ts, InsertOnly: true}
	const nb = 64
	rng := rand.New(rand.NewPCG(1, 9))
	batches := make([]*changelog.Batch, nb)
	for k := range batches {
		batches[k] = &changelog.Batch{}
		for j := range 1024 {
			i := int64(k*1024 + j)
			batches[k].Append(changelog.Insert, []types.Value{types.IntValue(rng.Int64N(1000)), types.IntValue(i % 977),
				types.IntValue(rng.Int64N(1_000_000)), types.StringValue("channel-1"), types.StringValue(fmt.Sprint("https://example.com/item/", i%5000)),
				types.TimestampValue(1_700_000_000_000+i, 0), types.StringValue("extra")})
		}
	}
	out := &discard{}
	op := NewRank(cfg, out)
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		if k%nb == 0 {
			op = NewRank(cfg, out) // a new stream: the top rows stay reachable
		}
		if err := op.Push(batches[k%nb]); err != nil {
			b.Fatal(err)
		}
		k++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(k*1024), "ns/row")
}
