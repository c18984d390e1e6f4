package exec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// BenchmarkGroupAggBatchColumns: the batch-mode group aggregate over key-sorted columnar batches of 1024 rows
// (benchRows rows a run), as columns and as the rows the engine converted them to before (vec.RowConv, then
// Push): SELECT k, COUNT(*), SUM(v), MIN(v), MAX(v), AVG(v) GROUP BY k with a BIGINT or a VARCHAR key over
// 100, 10K and 64K keys (about one row a group), and with a DECIMAL sum (taken from the values). ns/row is
// per input row.
func BenchmarkGroupAggBatchColumns(b *testing.B) {
	for _, keyType := range []types.Type{types.BigIntType(), types.StringType()} {
		for _, nKeys := range []int{100, 10_000, 1 << 16} {
			for _, shape := range []string{"typed", "decimal"} {
				in := []types.Type{keyType, types.BigIntType(), types.DecimalType(10, 2)}
				specs := []string{"COUNT(*)", "SUM($1)", "MIN($1)", "MAX($1)", "AVG($1)"}
				if shape == "decimal" {
					specs = []string{"COUNT(*)", "SUM($2)", "MAX($1)"}
				}
				cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(b, in, specs...), Batch: true}
				rng := rand.New(rand.NewPCG(1, 2))
				rows := make([]changelog.Row, benchRows)
				for i := range rows {
					k := int64(rng.IntN(nKeys))
					key := types.IntValue(k)
					if keyType.Kind == types.VarChar {
						key = types.StringValue(fmt.Sprintf("key-%06d", k))
					}
					rows[i] = changelog.Row{Kind: changelog.Insert, Vals: []types.Value{key, types.IntValue(rng.Int64N(1000)),
						types.DecimalValue(rng.Int64N(100000), 2)}}
				}
				slices.SortStableFunc(rows, func(x, y changelog.Row) int { return types.Compare(x.Vals[0], y.Vals[0], keyType) })
				batches := make([]vec.Batch, benchRows/1024)
				for i := range batches {
					vec.FromRows(&batches[i], rows[i*1024:(i+1)*1024], in, nil)
				}
				for _, path := range []string{"rows", "columns"} {
					name := fmt.Sprintf("key=%s/keys=%d/%s/%s", map[bool]string{true: "string", false: "bigint"}[keyType.Kind == types.VarChar],
						nKeys, shape, path)
					b.Run(name, func(b *testing.B) {
						var conv vec.RowConv
						b.ReportAllocs()
						for b.Loop() {
							op, err := NewGroupAgg(cfg, &discard{})
							if err != nil {
								b.Fatal(err)
							}
							vo := op.(vec.Output)
							for i := range batches {
								if path == "rows" {
									err = op.Push(conv.Rows(&batches[i]))
								} else {
									err = vo.PushColumns(&batches[i])
								}
								if err != nil {
									b.Fatal(err)
								}
							}
							if err := op.End(); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
					})
				}
			}
		}
	}
}
