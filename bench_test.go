package sluice_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/driver"
	"github.com/sluicesql/sluice/engine"
)

// benchRows is the size of the bounded datagen table read by each benchmark iteration.
const benchRows = 100_000

const benchDDL = `CREATE TABLE gen (id BIGINT, name STRING, price DOUBLE, ok BOOLEAN, qty INT)
  WITH ('connector' = 'datagen', 'number-of-rows' = '100000', 'rows-per-second' = '1000000000',
        'fields.id.kind' = 'sequence',
        'fields.id.start' = '1', 'fields.id.end' = '100000', 'fields.name.length' = '8')`

const benchQuery = "SELECT id, name, price, ok, qty FROM gen"

func reportRows(b *testing.B, n int64) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkDriverScan reads a 5-column batch result through database/sql: Rows.Next + Scan.
func BenchmarkDriverScan(b *testing.B) {
	ctx := context.Background()
	c, err := driver.NewConnector("runtime-mode=batch", engine.Config{})
	if err != nil {
		b.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	if _, err := db.ExecContext(ctx, benchDDL); err != nil {
		b.Fatal(err)
	}
	var (
		id, qty int64
		name    string
		price   float64
		ok      bool
		total   int64
	)
	b.ReportAllocs()
	for b.Loop() {
		rows, err := db.QueryContext(ctx, benchQuery)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(&id, &name, &price, &ok, &qty); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := rows.Err(); err != nil || n != benchRows {
			b.Fatalf("%d rows, %v", n, err)
		}
		rows.Close()
		total += int64(n)
	}
	reportRows(b, total)
}

// BenchmarkNativeRow reads the same result through the native API with typed Row access (no boxing).
func BenchmarkNativeRow(b *testing.B) {
	eng, ctx := benchEngine(b)
	var sink int64
	var total int64
	b.ReportAllocs()
	for b.Loop() {
		rows, err := eng.Query(ctx, benchQuery)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			r := rows.Row()
			sink += r.Int64(0) + int64(len(r.String(1))) + int64(r.Float64(2)) + r.Int64(4)
			if r.Bool(3) {
				sink++
			}
			n++
		}
		if err := rows.Err(); err != nil || n != benchRows {
			b.Fatalf("%d rows, %v", n, err)
		}
		rows.Close()
		total += int64(n)
	}
	_ = sink
	reportRows(b, total)
}

// BenchmarkNativeAll reads the same result through the native iterator of Go values (Rows.All).
func BenchmarkNativeAll(b *testing.B) {
	eng, ctx := benchEngine(b)
	var total int64
	b.ReportAllocs()
	for b.Loop() {
		rows, err := eng.Query(ctx, benchQuery)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, vals := range rows.All() {
			if len(vals) != 5 {
				b.Fatal(vals)
			}
			n++
		}
		if err := rows.Err(); err != nil || n != benchRows {
			b.Fatalf("%d rows, %v", n, err)
		}
		total += int64(n)
	}
	reportRows(b, total)
}

func benchEngine(b *testing.B) (*sluice.Engine, context.Context) {
	ctx := context.Background()
	eng, err := sluice.Open(sluice.WithRuntimeMode(sluice.Batch))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close() })
	if err := eng.Exec(ctx, benchDDL); err != nil {
		b.Fatal(err)
	}
	return eng, ctx
}
