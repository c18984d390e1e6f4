package vec

import (
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkRowConv converts a 1024-row batch of six columns (q16's GROUP BY input: a string, a date string,
// a time string, three BIGINTs) to rows.
func BenchmarkRowConv(b *testing.B) {
	ts := []types.Type{types.StringType(), types.StringType(), types.StringType(), types.BigIntType(), types.BigIntType(), types.BigIntType()}
	rows := make([]changelog.Row, 1024)
	for i := range rows {
		rows[i] = changelog.Row{Vals: []types.Value{types.StringValue("Google"), types.StringValue("2015-07-15"),
			types.StringValue("12:01"), types.IntValue(int64(i * 7)), types.IntValue(int64(i)), types.IntValue(int64(i % 100))}}
	}
	var bt Batch
	if !FromRows(&bt, rows, ts, nil) {
		b.Fatal("rows do not convert")
	}
	var conv RowConv
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		conv.Rows(&bt)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
}
