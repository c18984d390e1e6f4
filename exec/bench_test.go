package exec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

type discard struct{ rows int }

func (d *discard) Push(b *changelog.Batch) error { d.rows += len(b.Rows); return nil }
func (d *discard) Watermark(int64) error         { return nil }
func (d *discard) End() error                    { return nil }

const benchRows = 1 << 16

// benchInput builds batches of 1024 rows (key STRING among nKeys, v BIGINT), sorted by key when sorted.
func benchInput(nKeys int, sorted bool) []*changelog.Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]types.Value, nKeys)
	for i := range keys {
		keys[i] = types.StringValue(fmt.Sprintf("key-%06d", i))
	}
	rows := make([][]types.Value, benchRows)
	for i := range rows {
		rows[i] = []types.Value{keys[rng.IntN(nKeys)], types.IntValue(rng.Int64N(1000))}
	}
	if sorted {
		slices.SortStableFunc(rows, func(a, b []types.Value) int { return cmpString(a[0].S, b[0].S) })
	}
	var out []*changelog.Batch
	for i := 0; i < len(rows); i += 1024 {
		b := &changelog.Batch{}
		for _, r := range rows[i:min(i+1024, len(rows))] {
			b.Append(changelog.Insert, r)
		}
		out = append(out, b)
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func benchAggs() []AggCall {
	in := []types.Type{types.StringType(), types.BigIntType()}
	var calls []AggCall
	for _, fn := range []string{"COUNT", "SUM", "MIN", "MAX", "AVG"} {
		c := AggCall{Func: fn, Args: []int{1}, ArgTypes: []types.Type{in[1]}, Filter: -1}
		c.Type, _ = AggResultType(fn, false, c.ArgTypes)
		calls = append(calls, c)
	}
	return calls
}

func runAggBench(b *testing.B, cfg GroupAggConfig, input []*changelog.Batch) {
	b.ReportAllocs()
	for b.Loop() {
		op, err := NewGroupAgg(cfg, &discard{})
		if err != nil {
			b.Fatal(err)
		}
		for _, batch := range input {
			if err := op.Push(batch); err != nil {
				b.Fatal(err)
			}
		}
		if err := op.End(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkGroupAggStreaming: COUNT/SUM/MIN/MAX/AVG by a string key, retract-capable state (MIN/MAX
// multisets), emitting -U/+U per input row. allocs/op counts a whole run of benchRows rows.
func BenchmarkGroupAggStreaming(b *testing.B) {
	for _, nKeys := range []int{100, 10000} {
		b.Run(fmt.Sprintf("keys=%d", nKeys), func(b *testing.B) {
			in := []types.Type{types.StringType(), types.BigIntType()}
			runAggBench(b, GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: benchAggs(), EmitUpdateBefore: true}, benchInput(nKeys, false))
		})
	}
	b.Run("keys=10000/insertonly", func(b *testing.B) {
		in := []types.Type{types.StringType(), types.BigIntType()}
		runAggBench(b, GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: benchAggs(), EmitUpdateBefore: true, InsertOnly: true}, benchInput(10000, false))
	})
}

// BenchmarkGroupAggBatch: the same aggregates over key-sorted input, one group at a time.
func BenchmarkGroupAggBatch(b *testing.B) {
	for _, nKeys := range []int{100, 10000} {
		b.Run(fmt.Sprintf("keys=%d", nKeys), func(b *testing.B) {
			in := []types.Type{types.StringType(), types.BigIntType()}
			runAggBench(b, GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: benchAggs(), Batch: true}, benchInput(nKeys, true))
		})
	}
}

func BenchmarkCalc(b *testing.B) {
	input := benchInput(100, false)
	op := NewCalc([]expr.Expr{colExpr{i: 1}, colExpr{i: 0}}, gtExpr{col: 1, c: 500}, &discard{})
	b.ReportAllocs()
	for b.Loop() {
		for _, batch := range input {
			if err := op.Push(batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkSort(b *testing.B) {
	input := benchInput(10000, false)
	for _, budget := range []int64{0, 1 << 20} {
		b.Run(fmt.Sprintf("budget=%d", budget), func(b *testing.B) {
			dir := b.TempDir()
			b.ReportAllocs()
			for b.Loop() {
				op := NewSort([]SortKey{{Col: 0}, {Col: 1, Desc: true}}, -1, 0, budget, dir, &discard{})
				for _, batch := range input {
					if err := op.Push(batch); err != nil {
						b.Fatal(err)
					}
				}
				if err := op.End(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func BenchmarkTopN(b *testing.B) {
	input := benchInput(10000, false)
	b.ReportAllocs()
	for b.Loop() {
		op := NewTopN([]SortKey{{Col: 1, Desc: true}}, 10, 0, &discard{})
		for _, batch := range input {
			if err := op.Push(batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkJoinHotKey stores 20,000 distinct rows under one join key and retracts them again (a window-keyed
// join holds a whole window under one key): the cost per stored or retracted row must not grow with the
// number of rows the key holds.
func BenchmarkJoinHotKey(b *testing.B) {
	const n = 20000
	ins, del := &changelog.Batch{}, &changelog.Batch{}
	for i := range n {
		row := []types.Value{types.IntValue(7), types.IntValue(int64(i))}
		ins.Append(changelog.Insert, row)
		del.Append(changelog.Delete, row)
	}
	cfg := JoinConfig{Type: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0},
		LeftTypes: []types.Type{types.BigIntType(), types.BigIntType()}, RightTypes: []types.Type{types.BigIntType()}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		left, _ := NewJoin(cfg, &discard{})
		if err := left.Push(ins); err != nil {
			b.Fatal(err)
		}
		if err := left.Push(del); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2*n), "ns/row")
}

// BenchmarkSessionOneLongSession adds 20,000 rows one second apart to one session (gap one minute): the cost
// per row must not grow with the session's length.
func BenchmarkSessionOneLongSession(b *testing.B) {
	const n = 20000
	batch := &changelog.Batch{}
	for i := range n {
		batch.Append(changelog.Insert, []types.Value{types.IntValue(1), types.TimestampValue(int64(i)*1000, 0)})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w := NewSessionAssigner(60_000, 1, []int{0}, []types.Type{types.BigIntType()}, false, nil, &discard{})
		if err := w.Push(batch); err != nil {
			b.Fatal(err)
		}
		if err := w.End(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}

// BenchmarkWindowAggHop runs HOP(size 10 s, slide 2 s) COUNT(*) and SUM(v) per key (1,000 keys) over rows
// one millisecond apart: the assigner puts each row into 5 windows, the aggregate updates them and fires
// the windows as the watermark passes. ns/row is per input row.
func BenchmarkWindowAggHop(b *testing.B) {
	const n = 1 << 16
	var batches []*changelog.Batch
	for i := 0; i < n; i += 1024 {
		bt := &changelog.Batch{}
		for j := i; j < i+1024; j++ {
			bt.Append(changelog.Insert, []types.Value{types.IntValue(int64(j % 1000)), types.IntValue(int64(j % 7)), types.TimestampValue(int64(j), 0)})
		}
		batches = append(batches, bt)
	}
	in := []types.Type{types.BigIntType(), types.BigIntType(), types.TimestampType(3)}
	winTypes := append(append([]types.Type{}, in...), types.TimestampType(3), types.TimestampType(3), types.TimestampType(3))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		cfg := GroupAggConfig{Keys: []int{0, 3, 4}, KeyTypes: []types.Type{winTypes[0], winTypes[3], winTypes[4]}, InTypes: winTypes,
			Aggs: []AggCall{{Func: "COUNT", Filter: -1, Type: types.BigIntType()}, {Func: "SUM", Args: []int{1}, ArgTypes: []types.Type{types.BigIntType()}, Filter: -1, Type: types.BigIntType()}}}
		agg, err := NewWindowAgg(cfg, 2, &discard{})
		if err != nil {
			b.Fatal(err)
		}
		w := NewWindowAssigner(WindowSpec{Kind: Hop, Size: 10_000, Slide: 2_000}, 2, false, nil, agg)
		for _, bt := range batches {
			if err := w.Push(bt); err != nil {
				b.Fatal(err)
			}
			if err := w.Watermark(bt.Rows[len(bt.Rows)-1].Vals[2].I); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.End(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}
