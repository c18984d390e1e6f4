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

// BenchmarkBatchReusedKeys measures what each distinct consumer key of a reused result costs
// (batch_reuse.go: the scan's tasks write one partitioning per key): self-joins directly over one scan of
// 1M rows (r (a, b) in 8 CSV files, b = a % 1000), at parallelism 2, into blackhole. "one key" (x.a = y.a)
// and "two keys" (x.a = y.b) both give 1M rows out; the scan writes its rows once and twice. "two keys and
// unhashed" adds the UNION ALL of r in the join's stage (batch_mixed.go: a third, round-robin partitioning;
// 2M rows out). It reports rows/s of the scan's rows over wall time and the CPU seconds of one job.
func BenchmarkBatchReusedKeys(b *testing.B) {
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
	cases := []struct{ name, insert string }{
		{"one key", "INSERT INTO hole SELECT x.a, x.b, y.a, y.b FROM r x JOIN r y ON x.a = y.a;"},
		{"two keys", "INSERT INTO hole SELECT x.a, x.b, y.a, y.b FROM r x JOIN r y ON x.a = y.b;"},
		{"two keys and unhashed", "INSERT INTO hole SELECT x.a, x.b, y.a, y.b FROM r x JOIN r y ON x.a = y.b UNION ALL SELECT a, b, b, a FROM r;"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard, TempDir: b.TempDir(),
				Options: map[string]string{"parallelism.default": "2"}})
			if err != nil {
				b.Fatal(err)
			}
			stmts, err := sql.ParseScript(fmt.Sprintf(`
SET 'execution.runtime-mode' = 'batch';
CREATE TABLE r (a BIGINT, b BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
CREATE TABLE hole (a BIGINT, b BIGINT, a2 BIGINT, b2 BIGINT) WITH ('connector' = 'blackhole');`, dir))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for _, st := range stmts {
				if _, err := s.Execute(ctx, st); err != nil {
					b.Fatal(err)
				}
			}
			ins, err := sql.ParseScript(tc.insert)
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
				for _, a := range res.Job.StageAttempts() {
					if a.Stage == 2 {
						joinTasks = a.Tasks
					}
				}
			}
			b.StopTimer()
			cpu := cpuSeconds() - cpu0
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(joinTasks), "join-tasks")
		})
	}
}
