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

// BenchmarkBatchReusedSelfJoin runs a batch self-join directly over one reused scan (1M rows of r (a, b) in
// 8 CSV files, b = a % 1000; x.a = y.b: 1M rows out, into blackhole) at parallelism 1 and 2: the join reads
// the scan's result by two keys (batch_reuse.go). It reports rows/s of wall time, rows per CPU-second of the
// process, the CPU seconds of one job and the join stage's tasks.
func BenchmarkBatchReusedSelfJoin(b *testing.B) {
	const rows, files = 1_000_000, 8
	dir := b.TempDir()
	for f := range files {
		fh, err := os.Create(filepath.Join(dir, fmt.Sprintf("part-%d.csv", f)))
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(fh)
		for i := f * rows / files; i < (f+1)*rows/files; i++ {
			fmt.Fprintf(w, "%d,%d\n", i, i%1000)
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
CREATE TABLE r (a BIGINT, b BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
CREATE TABLE hole (a BIGINT, b BIGINT, a2 BIGINT, b2 BIGINT) WITH ('connector' = 'blackhole');`, dir)
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
			ins, err := sql.ParseScript(`INSERT INTO hole SELECT x.a, x.b, y.a, y.b FROM r x JOIN r y ON x.a = y.b;`)
			if err != nil {
				b.Fatal(err)
			}
			cpu0 := cpuSeconds()
			joinTasks := 0
			b.ResetTimer()
			for range b.N {
				res, err := s.Execute(ctx, ins[0])
				if err != nil {
					b.Fatal(err)
				}
				if err := res.Job.Wait(ctx); err != nil {
					b.Fatal(err)
				}
				var read int64
				for _, a := range res.Job.StageAttempts() {
					if a.Stage == 1 {
						read += a.RowsRead
					}
					if a.Stage == 2 {
						joinTasks = a.Tasks
					}
				}
				if read != rows {
					b.Fatalf("the scan read %d rows, want %d", read, rows)
				}
			}
			b.StopTimer()
			cpu := cpuSeconds() - cpu0
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(rows)*float64(b.N)/cpu, "rows/cpu-s")
			b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(joinTasks), "join-tasks")
		})
	}
}
