package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicesql/sluice/sql"
)

// BenchmarkBatchTasksGroupBy runs a batch GROUP BY over 1M rows in 8 CSV files (filesystem → aggregate over
// 1000 keys → blackhole, in stages) at parallelism 1 and 2: the source stage reads the files as P tasks, the
// aggregate stage runs as P tasks over the hash-partitioned files. It reports rows/s of wall time, rows per
// CPU-second of the process, and the wall and CPU seconds of one job.
func BenchmarkBatchTasksGroupBy(b *testing.B) {
	const rows, files = 1_000_000, 8
	dir := b.TempDir()
	for f := range files {
		fh, err := os.Create(filepath.Join(dir, fmt.Sprintf("part-%d.csv", f)))
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(fh)
		for i := f * rows / files; i < (f+1)*rows/files; i++ {
			fmt.Fprintf(w, "%d,%d,%d.%02d\n", i, (i*7919)%1000, i%1000, i%100)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		fh.Close()
	}
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("parallelism=%d", par), func(b *testing.B) {
			s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard, TempDir: b.TempDir(),
				Options: map[string]string{"parallelism.default": fmt.Sprint(par)}})
			if err != nil {
				b.Fatal(err)
			}
			script := fmt.Sprintf(`
SET 'execution.runtime-mode' = 'batch';
CREATE TABLE orders (id BIGINT, customer BIGINT, amount DECIMAL(10, 2))
  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
CREATE TABLE hole (customer BIGINT, n BIGINT, total DECIMAL(38, 2)) WITH ('connector' = 'blackhole');`, dir)
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
				tasks := map[int]int{}
				var read int64
				for _, a := range res.Job.StageAttempts() {
					tasks[a.Stage]++
					if a.Stage == 1 {
						read += a.RowsRead
					}
				}
				if tasks[1] != par || tasks[2] != par || tasks[3] != par || read != rows { // the blackhole sink as P tasks too
					b.Fatalf("want %d source, aggregate and sink tasks, the sources reading %d rows, got %v (%d rows)", par, rows, tasks, read)
				}
			}
			b.StopTimer()
			cpu := cpuSeconds() - cpu0
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(rows)*float64(b.N)/cpu, "rows/cpu-s")
			b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
		})
	}
}
