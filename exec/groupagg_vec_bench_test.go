package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// BenchmarkGroupAggColumns: the one-phase group aggregate fed columnar batches of 1024 rows, as columns and
// as the rows the engine converted them to before (vec.RowConv, then Push), over 1K and 100K keys:
// SELECT k, COUNT(*), SUM(x), MAX(y) GROUP BY k (compact groups) and q15's COUNT(*)/COUNT(DISTINCT) with
// FILTERs (map groups). ns/op is per row.
func BenchmarkGroupAggColumns(b *testing.B) {
	in := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BooleanType()}
	shapes := map[string][]string{
		"sum":      {"COUNT(*)", "SUM($1)", "MAX($2)"},
		"distinct": {"COUNT(*)", "COUNT(*)", "COUNT(DISTINCT $1)", "COUNT(DISTINCT $1)", "COUNT(DISTINCT $2)"},
	}
	for _, shape := range []string{"sum", "distinct"} {
		for _, keys := range []int{1000, 100_000} {
			aggs := aggCalls(b, in, shapes[shape]...)
			if shape == "distinct" {
				aggs[1].Filter, aggs[3].Filter = 3, 3
			}
			cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggs, InsertOnly: true, EmitUpdateBefore: true}
			rng := rand.New(rand.NewPCG(1, 2))
			var batches [16]vec.Batch
			for i := range batches {
				rows := make([]changelog.Row, 1024)
				for r := range rows {
					rows[r] = changelog.Row{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(int64(rng.IntN(keys))),
						types.IntValue(int64(rng.IntN(500))), types.IntValue(int64(rng.IntN(1 << 20))), types.BoolValue(rng.IntN(2) == 0)}}
				}
				vec.FromRows(&batches[i], rows, in, nil)
			}
			for _, path := range []string{"rows", "columns"} {
				b.Run(fmt.Sprintf("%s/keys=%d/%s", shape, keys, path), func(b *testing.B) {
					op, err := NewGroupAgg(cfg, &discard{})
					if err != nil {
						b.Fatal(err)
					}
					var conv vec.RowConv
					vo := op.(vec.Output)
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i += 1024 {
						vb := &batches[i/1024%len(batches)]
						if path == "rows" {
							err = op.Push(conv.Rows(vb))
						} else {
							err = vo.PushColumns(vb)
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
