package exec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// BenchmarkCompactGroupsGrowth: SELECT a, b, COUNT(*), SUM(x), MAX(x) GROUP BY a, b (two key columns: the
// compact groups' byte-keyed index) over columnar batches of 1024 rows whose keys are uniform over 10K, 100K
// and 1M groups, with the lookups' read-ahead (groupagg_warm.go) on and off. The table is filled before
// timing. ns/op is per row; cpu-ns/row is the process CPU time per row (steadier on a shared machine): it
// should not grow with the groups.
func BenchmarkCompactGroupsGrowth(b *testing.B) {
	in := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType()}
	for _, groups := range []int{10_000, 100_000, 1_000_000} {
		rng := rand.New(rand.NewPCG(1, 2))
		batches := make([]vec.Batch, 64)
		for i := range batches {
			rows := make([]changelog.Row, 1024)
			for r := range rows {
				k := int64(rng.IntN(groups))
				rows[r] = changelog.Row{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(k), types.IntValue(k % 7),
					types.IntValue(int64(rng.IntN(1 << 20)))}}
			}
			vec.FromRows(&batches[i], rows, in, nil)
		}
		for _, warm := range []bool{false, true} {
			b.Run(fmt.Sprintf("groups=%d/warm=%v", groups, warm), func(b *testing.B) {
				cfg := GroupAggConfig{Keys: []int{0, 1}, InTypes: in, Aggs: aggCalls(b, in, "COUNT(*)", "SUM($2)", "MAX($2)"),
					InsertOnly: true, EmitUpdateBefore: true}
				op, err := NewGroupAgg(cfg, &discard{})
				if err != nil {
					b.Fatal(err)
				}
				g := op.(*groupAgg)
				if g.compact == nil {
					b.Fatal("not compact groups")
				}
				if !warm {
					g.compact.warmSlots = math.MaxInt
				}
				vo := op.(vec.Output)
				// fill: every group exists before timing
				fill := make([]changelog.Row, 0, 1024)
				for k := 0; k < groups; k++ {
					fill = append(fill, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(int64(k)),
						types.IntValue(int64(k % 7)), types.IntValue(0)}})
					if len(fill) == cap(fill) || k == groups-1 {
						var fb vec.Batch
						vec.FromRows(&fb, fill, in, nil)
						if err := vo.PushColumns(&fb); err != nil {
							b.Fatal(err)
						}
						fill = fill[:0]
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu := processCPU()
				for i := 0; i < b.N; i += 1024 {
					if err := vo.PushColumns(&batches[i/1024%len(batches)]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/row")
			})
		}
	}
}
