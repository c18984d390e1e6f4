package exec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// BenchmarkQ16ShapeGroups: q16's aggregate (string key, string MAX, COUNT(*) with 3 FILTERs, COUNT(DISTINCT)
// of two columns with 3 FILTERs each) over 10,000 groups fed columnar batches, with compact groups and with
// the map of *group (compact-rows: without the blocks of groupagg_compact_block.go). ns/op is per row; heapB/group is the live heap per group (sets included) after the run.
// The input is 256 batches of 1024 distinct rows (~26 a group, as q16's busy groups at 1M events), repeated
// past -benchtime 262144x.
func BenchmarkQ16ShapeGroups(b *testing.B) {
	in := []types.Type{types.StringType(), types.BigIntType(), types.BigIntType(), types.StringType(),
		types.BooleanType(), types.BooleanType(), types.BooleanType()}
	aggs := aggCalls(b, in, "MAX($3)", "COUNT(*)", "COUNT(*)", "COUNT(*)", "COUNT(*)",
		"COUNT(DISTINCT $1)", "COUNT(DISTINCT $1)", "COUNT(DISTINCT $1)", "COUNT(DISTINCT $1)",
		"COUNT(DISTINCT $2)", "COUNT(DISTINCT $2)", "COUNT(DISTINCT $2)", "COUNT(DISTINCT $2)")
	for k, f := range []int{4, 5, 6} {
		aggs[2+k].Filter, aggs[6+k].Filter, aggs[10+k].Filter = f, f, f
	}
	const groups = 10_000
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggs, InsertOnly: true, EmitUpdateBefore: true}
	rng := rand.New(rand.NewPCG(1, 2))
	var batches [256]vec.Batch
	for i := range batches {
		rows := make([]changelog.Row, 1024)
		for r := range rows {
			p := rng.IntN(3)
			rows[r] = changelog.Row{Kind: changelog.Insert, Vals: []types.Value{
				types.StringValue(fmt.Sprint("channel-", rng.IntN(groups))), types.IntValue(int64(1000 + rng.IntN(100_000))),
				types.IntValue(int64(1000 + rng.IntN(1_000_000))), types.StringValue(fmt.Sprintf("%02d:%02d", i/60%24, i%60)),
				types.BoolValue(p == 0), types.BoolValue(p == 1), types.BoolValue(p == 2)}}
		}
		vec.FromRows(&batches[i], rows, in, nil)
	}
	for _, layout := range []string{"compact", "compact-rows", "map"} {
		b.Run(layout, func(b *testing.B) {
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			op, err := NewGroupAgg(cfg, &discard{})
			if err != nil {
				b.Fatal(err)
			}
			g := op.(*groupAgg)
			if layout == "map" {
				g.compact = nil
			} else if g.compact == nil {
				b.Fatal("no compact groups")
			} else if layout == "compact-rows" {
				g.compact.blockGroups = math.MaxInt // row by row (no pushCompactBlocks)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += 1024 {
				if err := g.PushColumns(&batches[i/1024%len(batches)]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/groups, "heapB/group")
			runtime.KeepAlive(g)
		})
	}
}
