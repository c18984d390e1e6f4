package parquet

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// benchRow is a 10-column row: ids, amounts, strings, a timestamp.
func benchRow() types.Type {
	return types.RowType(
		types.Field{Name: "id", Type: types.BigIntType()},
		types.Field{Name: "user_id", Type: types.BigIntType()},
		types.Field{Name: "amount", Type: types.DoubleType()},
		types.Field{Name: "price", Type: types.DecimalType(10, 2)},
		types.Field{Name: "name", Type: types.StringType()},
		types.Field{Name: "city", Type: types.StringType()},
		types.Field{Name: "qty", Type: types.IntType()},
		types.Field{Name: "ok", Type: types.BooleanType()},
		types.Field{Name: "ts", Type: types.TimestampType(3)},
		types.Field{Name: "note", Type: types.StringType()},
	)
}

func benchFile(b *testing.B, n int) []byte {
	rows := make([][]types.Value, n)
	for i := range rows {
		rows[i] = []types.Value{types.IntValue(int64(i)), types.IntValue(int64(i % 1000)), types.FloatValue(float64(i) * 0.5),
			types.DecimalValue(int64(i%10000), 2), types.StringValue(fmt.Sprintf("name-%d", i%5000)), types.StringValue([]string{"Berlin", "Paris", "Lima"}[i%3]),
			types.IntValue(int64(i % 17)), types.BoolValue(i%2 == 0), types.TimestampValue(1700000000000+int64(i), 0), types.StringValue(fmt.Sprintf("note %d of the benchmark", i))}
	}
	return write(b, benchRow(), rows, DefaultConfig())
}

// BenchmarkScan reads a 1M-row file (one goroutine: rows/s is per core), all ten columns or two of them
// (projection pushdown: the other columns are not decoded).
func BenchmarkScan(b *testing.B) {
	const n = 1 << 20
	data := benchFile(b, n)
	for _, c := range []struct {
		name    string
		project []int
		cols    bool
	}{{"all-columns", nil, false}, {"projected-2-of-10", []int{1, 2}, false},
		{"columnar/all-columns", nil, true}, {"columnar/projected-2-of-10", []int{1, 2}, true}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			rows := 0
			for i := 0; i < b.N; i++ {
				r, err := NewReader(context.Background(), bytes.NewReader(data), benchRow(), c.project, DefaultConfig())
				if err != nil {
					b.Fatal(err)
				}
				for c.cols {
					batch, err := r.NextColumns()
					if err != nil {
						b.Fatal(err)
					}
					if batch == nil {
						break
					}
					rows += batch.Len()
				}
				for !c.cols {
					batch, err := r.Next()
					if err != nil {
						b.Fatal(err)
					}
					if batch == nil {
						break
					}
					rows += len(batch)
				}
				r.Close()
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkWrite writes rows through the batched Arrow writer.
func BenchmarkWrite(b *testing.B) {
	row := []types.Value{types.IntValue(1), types.IntValue(2), types.FloatValue(0.5), types.DecimalValue(1234, 2), types.StringValue("name-1"),
		types.StringValue("Berlin"), types.IntValue(3), types.BoolValue(true), types.TimestampValue(1700000000000, 0), types.StringValue("a note")}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, benchRow(), DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		row[0] = types.IntValue(int64(i))
		if err := w.Write(row); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkWriteColumns writes the rows of BenchmarkWrite as columnar batches of 1024 rows (WriteColumns).
func BenchmarkWriteColumns(b *testing.B) {
	const n = 1024
	rows := make([][]types.Value, n)
	for i := range rows {
		rows[i] = []types.Value{types.IntValue(int64(i)), types.IntValue(2), types.FloatValue(0.5), types.DecimalValue(1234, 2), types.StringValue("name-1"),
			types.StringValue("Berlin"), types.IntValue(3), types.BoolValue(true), types.TimestampValue(1700000000000, 0), types.StringValue("a note")}
	}
	batch := colsOf(rows, benchRow())
	for _, c := range batch.Cols {
		if c.Kind == vec.Values {
			b.Fatalf("a Values column: the benchmark would not measure the column path")
		}
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, benchRow(), DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	written := 0
	for written < b.N {
		batch.N = min(n, b.N-written)
		if err := w.WriteColumns(batch); err != nil {
			b.Fatal(err)
		}
		written += batch.N
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
