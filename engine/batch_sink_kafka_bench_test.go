package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/sql"
)

// BenchmarkBatchSinkTasksKafka copies 200k rows from 4 CSV files into a JSON kafka sink (in-process kfake,
// 4 partitions) in batch mode at parallelism 1 and 2, at-least-once and exactly-once: the sink stage runs as
// P tasks, each with a producer of its own. It reports rows/s of wall time and the CPU seconds of one job
// (the brokers' included).
func BenchmarkBatchSinkTasksKafka(b *testing.B) {
	const rows, files = 200_000, 4
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
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	n := 0
	for _, guarantee := range []string{"at-least-once", "exactly-once"} {
		for _, par := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/parallelism=%d", guarantee, par), func(b *testing.B) {
				s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard, TempDir: b.TempDir(),
					Options: map[string]string{"parallelism.default": fmt.Sprint(par)}})
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				cpu0 := cpuSeconds()
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					n++
					stmts, err := sql.ParseScript(fmt.Sprintf(`
SET 'execution.runtime-mode' = 'batch';
CREATE TEMPORARY TABLE IF NOT EXISTS orders (id BIGINT, customer BIGINT, amount DECIMAL(10, 2))
  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
DROP TEMPORARY TABLE IF EXISTS copy_t;
CREATE TEMPORARY TABLE copy_t (id BIGINT, customer BIGINT, amount DECIMAL(10, 2)) WITH ('connector' = 'kafka',
  'topic' = 'bench_%d', 'properties.bootstrap.servers' = '%s', 'format' = 'json',
  'sink.delivery-guarantee' = '%s', 'sink.transactional-id-prefix' = 'bench-%d');
INSERT INTO copy_t SELECT * FROM orders;`, dir, n, addr, guarantee, n))
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					for _, st := range stmts {
						res, err := s.Execute(ctx, st)
						if err != nil {
							b.Fatal(err)
						}
						if res.Job != nil {
							if err := res.Job.Wait(ctx); err != nil {
								b.Fatal(err)
							}
							if m := res.Job.Metrics(); m.RowsOut != rows {
								b.Fatalf("%d rows out", m.RowsOut)
							}
						}
					}
				}
				b.StopTimer()
				cpu := cpuSeconds() - cpu0
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
			})
		}
	}
}
