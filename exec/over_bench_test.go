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

// BenchmarkOverBatchEnd: a batch run's OVER ordered by one TIMESTAMP column, SUM(v) OVER (PARTITION BY k
// ORDER BY ts RANGE UNBOUNDED PRECEDING), 64 batches of 1024 rows (64 keys, times out of order) then the end
// of input: the streaming operator (Order nil: sorts at the end, drops NULL times) against the sorting one
// (Order set: what batch runs use). One op is one whole run.
func BenchmarkOverBatchEnd(b *testing.B) {
	in := []types.Type{types.BigIntType(), types.BigIntType(), types.TimestampType(3)}
	batches := make([]*changelog.Batch, 64)
	for j := range batches {
		batches[j] = &changelog.Batch{}
		for i := range 1024 {
			n := int64(j*1024 + i)
			batches[j].Append(changelog.Insert, []types.Value{types.IntValue(n % 64), types.IntValue(n), types.TimestampValue((n*7919)%65536, 0)})
		}
	}
	for _, sorted := range []bool{false, true} {
		name := "streaming-operator"
		if sorted {
			name = "sorted"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cfg := OverConfig{Partition: []int{0}, OrderCol: 2, Frame: OverFrame{Unbounded: true},
					Aggs: aggCalls(b, in, "SUM($1)"), InTypes: in}
				if sorted {
					cfg.Order = []SortKey{{Col: 2, NullsFirst: true}}
				}
				out := &discard{}
				op, err := NewOverAgg(cfg, out)
				if err != nil {
					b.Fatal(err)
				}
				for _, bt := range batches {
					if err := op.Push(bt); err != nil {
						b.Fatal(err)
					}
				}
				if err := op.End(); err != nil {
					b.Fatal(err)
				}
				if out.rows != 64*1024 {
					b.Fatalf("%d rows emitted, want %d", out.rows, 64*1024)
				}
			}
		})
	}
}

// BenchmarkOverLagStreaming: LAG(v, 3, d) OVER (PARTITION BY k ORDER BY ts), streaming, batches of 1024
// rows (64 keys, v, d BIGINT, two rows per time), a watermark after each batch. One op is one batch.
func BenchmarkOverLagStreaming(b *testing.B) {
	bt := types.BigIntType()
	in := []types.Type{bt, bt, bt, bt}
	cfg := OverConfig{Partition: []int{0}, OrderCol: 3, InTypes: in,
		Frame: OverFrame{Rows: true, Ahead: true, EndPreceding: true, Preceding: 3, Following: 3},
		Aggs:  []AggCall{{Func: "LAG", Args: []int{1, 2}, ArgTypes: []types.Type{bt, bt}, Filter: -1, Type: bt}}}
	out := &discard{}
	op, err := NewOverAgg(cfg, out)
	if err != nil {
		b.Fatal(err)
	}
	batch := &changelog.Batch{}
	for i := range 1024 {
		batch.Append(changelog.Insert, []types.Value{types.IntValue(int64(i % 64)), types.IntValue(int64(i)), types.IntValue(-1), {}})
	}
	b.ReportAllocs()
	ts := int64(0)
	for b.Loop() {
		for i := range batch.Rows {
			ts += int64(i % 2)
			batch.Rows[i].Vals[3] = types.IntValue(ts)
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

// BenchmarkOverRangeDouble: a batch run's SUM(v) OVER (PARTITION BY k ORDER BY d RANGE BETWEEN 10
// PRECEDING AND CURRENT ROW | AND 10 FOLLOWING) over a DOUBLE key, 64 batches of 1024 rows (64 keys), then
// the end of input. One op is one whole run.
func BenchmarkOverRangeDouble(b *testing.B) {
	in := []types.Type{types.BigIntType(), types.BigIntType(), types.DoubleType()}
	batches := make([]*changelog.Batch, 64)
	for j := range batches {
		batches[j] = &changelog.Batch{}
		for i := range 1024 {
			n := int64(j*1024 + i)
			batches[j].Append(changelog.Insert, []types.Value{types.IntValue(n % 64), types.IntValue(n), types.FloatValue(float64((n*7919)%65536) / 4)})
		}
	}
	ten := types.FloatValue(10)
	for _, c := range []struct {
		name string
		fr   OverFrame
	}{{"current-row", OverFrame{Bound: ten}}, {"following", OverFrame{Bound: ten, Ahead: true, FollowBound: ten}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out := &discard{}
				op, err := NewOverAgg(OverConfig{Partition: []int{0}, Order: []SortKey{{Col: 2, NullsFirst: true}}, Frame: c.fr,
					Aggs: aggCalls(b, in, "SUM($1)"), InTypes: in}, out)
				if err != nil {
					b.Fatal(err)
				}
				for _, bt := range batches {
					if err := op.Push(bt); err != nil {
						b.Fatal(err)
					}
				}
				if err := op.End(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
