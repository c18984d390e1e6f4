package exec

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// BenchmarkDedupState measures the live heap per partition (B/key) of a deduplication (ROW_NUMBER() OVER
// (PARTITION BY k ORDER BY ts) = 1, keep the first row, insert-only) over rows (k STRING of 12 bytes, v
// BIGINT, ts TIMESTAMP(3)), one row per key for 1M keys: now (compact string partition keys, rank_key.go,
// and entries without their sort key, rank_store.go) and before (the grouping form and a stored sort key).
func BenchmarkDedupState(b *testing.B) {
	const n = 1_000_000
	ts := []types.Type{types.StringType(), types.BigIntType(), types.TimestampType(3)}
	cfg := RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 2}}, Limit: 1, Types: ts, InsertOnly: true}
	for _, mode := range []string{"now", "before", "keepfirst"} {
		long := mode == "before"
		cfg := cfg
		cfg.KeepFirst = mode == "keepfirst" // a processing-time keep-first: a flag per key (rankStore.seenOnly)
		b.Run(mode, func(b *testing.B) {
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
					op.(*rankOp).st.dedup = false
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

// BenchmarkDedupColumns measures a deduplication's push per row (q18's shape: PARTITION BY bidder, auction
// over 100k keys, 7 columns with two strings, keep the last or the first row by event time, or the first to
// arrive: keepfirst) of batches of
// 1024 rows: taken as columns (PushColumns) and as the rows the batch converts to (vec.RowConv, what a row
// sender's rows cost at least).
func BenchmarkDedupColumns(b *testing.B) {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType(), types.StringType(),
		types.TimestampType(3), types.StringType()}
	const nb = 64
	batches := make([]vec.Batch, nb)
	for k := range batches {
		rows := make([]changelog.Row, 1024)
		for j := range rows {
			i := int64(k*1024 + j)
			rows[j] = changelog.Row{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(scatter(i, 1000) % 1000), types.IntValue(scatter(i, 100) % 100),
				types.IntValue(i % 977), types.StringValue("channel-1"), types.StringValue(fmt.Sprint("https://example.com/item/", i%5000)),
				types.TimestampValue(1_700_000_000_000+i, 0), types.StringValue("extra")}}
		}
		if !vec.FromRows(&batches[k], rows, ts, nil) {
			b.Fatal("rows without a columnar form")
		}
	}
	for _, mode := range []string{"last", "first", "keepfirst"} {
		// keepfirst: a processing-time keep-first (RankConfig.KeepFirst), a flag per key
		cfg := RankConfig{Partition: []int{1, 0}, Order: []SortKey{{Col: 5, Desc: mode == "last"}}, Limit: 1, RowNumber: true, Types: ts,
			InsertOnly: true, KeepFirst: mode == "keepfirst"}
		for _, cols := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/%s", mode, map[bool]string{true: "columns", false: "rows"}[cols]), func(b *testing.B) {
				op := NewRank(cfg, &discard{})
				vo := op.(vec.Output)
				var conv vec.RowConv
				k := 0
				for b.Loop() {
					vb := &batches[k%nb]
					k++
					var err error
					if cols {
						err = vo.PushColumns(vb)
					} else {
						err = op.Push(conv.Rows(vb))
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(k*1024), "ns/row")
			})
		}
	}
}
