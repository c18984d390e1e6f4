package exec

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkDedupState measures the live heap per partition (B/key) of a deduplication (ROW_NUMBER() OVER
// (PARTITION BY k ORDER BY ts) = 1, keep the first row, insert-only) over rows (k STRING of 12 bytes, v
// BIGINT, ts TIMESTAMP(3)), one row per key for 1M keys: now (compact string partition keys, rank_key.go,
// and entries without their sort key, rank_store.go) and before (the grouping form and a stored sort key).
func BenchmarkDedupState(b *testing.B) {
	const n = 1_000_000
	ts := []types.Type{types.StringType(), types.BigIntType(), types.TimestampType(3)}
	cfg := RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 2}}, Limit: 1, Types: ts, InsertOnly: true}
	for _, long := range []bool{false, true} {
		b.Run(map[bool]string{false: "now", true: "before"}[long], func(b *testing.B) {
			var per float64
			batch := &changelog.Batch{}
			vals := make([]types.Value, 3*1024)
			keys := make([]string, n)
			for i := range keys {
				keys[i] = fmt.Sprintf("key-%08d", scatter(int64(i), n))
			}
			for b.Loop() {
				before := heapInUse()
				op := NewRank(cfg, &discard{})
				if long {
					op.(*rankOp).compactKey = false
					op.(*rankOp).st.derive = nil
				}
				for i := 0; i < n; {
					batch.Reset()
					for j := 0; j < 1024 && i < n; j, i = j+1, i+1 {
						v := vals[3*j : 3*j+3 : 3*j+3]
						v[0], v[1], v[2] = types.StringValue(keys[i]), types.IntValue(int64(i)), types.TimestampValue(1_700_000_000_000+int64(i), 0)
						batch.Append(changelog.Insert, v)
					}
					if err := op.Push(batch); err != nil {
						b.Fatal(err)
					}
				}
				after := heapInUse()
				runtime.KeepAlive(op)
				per = float64(after-before) / n
			}
			runtime.KeepAlive(keys)
			b.ReportMetric(per, "B/key")
		})
	}
}
