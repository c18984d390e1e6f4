package exec

import (
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkOverPush: SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT
// ROW) over batches of 1024 rows (k BIGINT over 64 keys, v BIGINT, ts BIGINT), a watermark after each batch
// emitting its rows. One op is one batch pushed and emitted; allocs/op over 1024 is the allocations per row.
func BenchmarkOverPush(b *testing.B) {
	in := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType()}
	cfg := OverConfig{Partition: []int{0}, OrderCol: 2, Frame: OverFrame{Rows: true, Unbounded: true},
		Aggs: aggCalls(b, in, "SUM($1)"), InTypes: in}
	out := &discard{}
	op, err := NewOverAgg(cfg, out)
	if err != nil {
		b.Fatal(err)
	}
	batch := &changelog.Batch{}
	for i := range 1024 {
		batch.Append(changelog.Insert, []types.Value{types.IntValue(int64(i % 64)), types.IntValue(int64(i)), {}})
	}
	b.ReportAllocs()
	ts := int64(0)
	for b.Loop() {
		for i := range batch.Rows {
			ts++
			batch.Rows[i].Vals[2] = types.IntValue(ts)
		}
		if err := op.Push(batch); err != nil {
			b.Fatal(err)
		}
		if err := op.Watermark(ts); err != nil {
			b.Fatal(err)
		}
	}
	if out.rows == 0 {
		b.Fatal("no rows emitted")
	}
}
