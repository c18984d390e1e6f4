package filesystem_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/filesystem"
)

// projector is the projection pushdown hook of the filesystem source.
type projector interface{ ProjectColumns(used []int) }

func parquetTable(t testing.TB, dir string, rows int) *catalog.Table {
	tbl := table(t, fmt.Sprintf(`CREATE TABLE t (id BIGINT, v STRING, p STRING) PARTITIONED BY (p)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'parquet')`, dir))
	out := openSink(t, tbl)
	pushRange(t, out, 0, rows)
	if err := out.End(); err != nil {
		t.Fatal(err)
	}
	return tbl
}

// TestProjectColumns: a projected source reads the listed columns (a data column and the partition column)
// and leaves the others NULL.
func TestProjectColumns(t *testing.T) {
	tbl := parquetTable(t, t.TempDir(), 30)
	src, err := filesystem.NewFactory().CreateSource(connCtx(tbl, true))
	if err != nil {
		t.Fatal(err)
	}
	src.(projector).ProjectColumns([]int{0, 2})
	n := 0
	err = src.Run(context.Background(), outputFunc(func(b *changelog.Batch) error {
		for _, r := range b.Rows {
			n++
			if r.Vals[0].IsNull() || !r.Vals[1].IsNull() || r.Vals[2].S != fmt.Sprintf("p%d", r.Vals[0].I%3) {
				return fmt.Errorf("row %v", r.Vals)
			}
		}
		return nil
	}))
	if err != nil || n != 30 {
		t.Fatalf("%d rows, err %v", n, err)
	}
}

type outputFunc func(*changelog.Batch) error

func (f outputFunc) Push(b *changelog.Batch) error { return f(b) }
func (outputFunc) Watermark(int64) error           { return nil }
func (outputFunc) End() error                      { return nil }

// BenchmarkSourceScan runs the filesystem source over a partitioned Parquet table of 300K rows, all columns
// or only 'id' (through ProjectColumns).
func BenchmarkSourceScan(b *testing.B) {
	const rows = 300_000
	tbl := parquetTable(b, b.TempDir(), rows)
	for _, c := range []struct {
		name string
		cols []int
	}{{"all-columns", nil}, {"projected-id", []int{0}}} {
		b.Run(c.name, func(b *testing.B) {
			n := 0
			for i := 0; i < b.N; i++ {
				src, err := filesystem.NewFactory().CreateSource(connCtx(tbl, true))
				if err != nil {
					b.Fatal(err)
				}
				if c.cols != nil {
					src.(projector).ProjectColumns(c.cols)
				}
				if err := src.Run(context.Background(), outputFunc(func(bt *changelog.Batch) error { n += bt.Len(); return nil })); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

var _ connectors.Source = nil
