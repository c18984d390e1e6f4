package engine

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkBatchGroupByExchange runs a 1M-row batch GROUP BY (datagen → aggregate over 1000 keys →
// blackhole) with the blocking exchanges of batch stages (every row of the source stage goes through an
// Arrow IPC file) and pipelined (today's plan: one stage, only the sink's input materialized), and reports
// rows/s of wall time and rows per CPU-second of the process (user + system time, which a machine shared
// with other work does not inflate as it does wall time); run with -cpu 1 for the per-core figure.
func BenchmarkBatchGroupByExchange(b *testing.B) {
	const rows = 1_000_000
	for _, mode := range []string{"ALL_EXCHANGES_BLOCKING", "ALL_EXCHANGES_PIPELINED"} {
		b.Run(mode, func(b *testing.B) {
			s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard, TempDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			script := fmt.Sprintf(`
SET 'execution.runtime-mode' = 'batch';
SET 'execution.batch-shuffle-mode' = '%s';
CREATE TABLE orders (id BIGINT, customer BIGINT, amount DECIMAL(10, 2))
  WITH ('connector' = 'datagen', 'number-of-rows' = '%d', 'rows-per-second' = '2000000000',
        'fields.customer.min' = '1', 'fields.customer.max' = '1000', 'fields.amount.min' = '1', 'fields.amount.max' = '1000');
CREATE TABLE hole (customer BIGINT, n BIGINT, total DECIMAL(38, 2)) WITH ('connector' = 'blackhole');`, mode, rows)
			stmts, err := sql.ParseScript(script)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for _, st := range stmts {
				if _, err := s.Execute(ctx, st); err != nil {
					b.Fatal(err)
				}
			}
			ins, err := sql.ParseScript(`INSERT INTO hole SELECT customer, COUNT(*), SUM(amount) FROM orders GROUP BY customer;`)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0 := cpuSeconds()
			b.ResetTimer()
			for range b.N {
				res, err := s.Execute(ctx, ins[0])
				if err != nil {
					b.Fatal(err)
				}
				if err := res.Job.Wait(ctx); err != nil {
					b.Fatal(err)
				}
				if mode == "ALL_EXCHANGES_BLOCKING" && len(res.Job.StageAttempts()) != 3 {
					b.Fatalf("want 3 stages, got %v", res.Job.StageAttempts())
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(rows)*float64(b.N)/(cpuSeconds()-cpu0), "rows/cpu-s")
		})
	}
}

// cpuSeconds is the user + system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// BenchmarkIPCExchange writes b.N rows of (BIGINT, DECIMAL(10, 2)) — what the source stage of the GROUP BY
// above hands to the aggregate — into an intermediate result file and reads them back: the cost per row that
// a blocking exchange adds.
func BenchmarkIPCExchange(b *testing.B) {
	ts := []types.Type{types.BigIntType(), types.DecimalType(10, 2)}
	st := &batchStage{path: filepath.Join(b.TempDir(), "stage-1.arrow"), types: ts}
	var batch changelog.Batch
	vals := make([]types.Value, 0, 2*1024)
	b.ReportAllocs()
	b.ResetTimer()
	w, err := newIPCWriter(st.path, ts)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; {
		batch.Reset()
		vals = vals[:0]
		for ; i < b.N && batch.Len() < 1024; i++ {
			vals = append(vals, types.IntValue(int64(i%1000)), types.DecimalValue(int64(i%100000), 2))
			batch.Append(changelog.Insert, vals[len(vals)-2:])
		}
		if err := w.Push(&batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.End(); err != nil {
		b.Fatal(err)
	}
	var n countRows
	if err := (&ipcSource{st: st}).Run(context.Background(), &n); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if int(n) != b.N {
		b.Fatalf("read %d rows, wrote %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

type countRows int

func (c *countRows) Push(b *changelog.Batch) error { *c += countRows(b.Len()); return nil }
func (c *countRows) Watermark(int64) error         { return nil }
func (c *countRows) End() error                    { return nil }
