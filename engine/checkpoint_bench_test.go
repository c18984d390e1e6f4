package engine

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/state"
)

var benchKeys = flag.Int("ckpt.keys", 100000, "distinct GROUP BY keys in BenchmarkCheckpoint")

// BenchmarkCheckpoint runs datagen → COUNT/SUM GROUP BY over -ckpt.keys keys → blackhole with b.N rows,
// without checkpoints and with a checkpoint every second (per backend), and reports rows/s, the number of
// checkpoints, the mean pause of the pipeline per checkpoint (the cut taken under the graph lock plus the
// sinks' pre-commit), the mean checkpoint duration, the checkpoint size, bytes per key, and the time to
// restore the last checkpoint into a new job.
//
//	go test ./engine -run '^$' -bench Checkpoint -benchtime 5000000x -ckpt.keys 1000000
func BenchmarkCheckpoint(b *testing.B) {
	for _, tc := range []struct{ name, interval, backend string }{
		{"none", "", ""}, {"1s-hashmap", "1 s", "hashmap"}, {"1s-rocksdb", "1 s", "rocksdb"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard, TempDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			set := ""
			if tc.interval != "" {
				set = fmt.Sprintf("SET 'execution.checkpointing.externalized-checkpoint-retention' = 'RETAIN_ON_CANCELLATION';\nSET 'execution.checkpointing.interval' = '%s';\nSET 'state.checkpoints.dir' = '%s';\nSET 'state.backend.type' = '%s';\n", tc.interval, dir, tc.backend)
			}
			script := set + fmt.Sprintf(`
CREATE TABLE orders (customer BIGINT, amount BIGINT)
  WITH ('connector' = 'datagen', 'number-of-rows' = '%d', 'rows-per-second' = '2000000000',
        'fields.customer.min' = '1', 'fields.customer.max' = '%d', 'fields.amount.min' = '1', 'fields.amount.max' = '1000');
CREATE TABLE hole (customer BIGINT, n BIGINT, total BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT customer, COUNT(*), SUM(amount) FROM orders GROUP BY customer;`, b.N, *benchKeys)
			stmts, err := sql.ParseScript(script)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ResetTimer()
			var job *Job
			for _, st := range stmts {
				res, err := s.Execute(ctx, st)
				if err != nil {
					b.Fatal(err)
				}
				if res.Job != nil {
					job = res.Job
				}
			}
			if err := s.WaitJobs(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			if tc.interval == "" {
				return
			}
			st := job.CheckpointStats()
			b.ReportMetric(float64(st.Count), "checkpoints")
			if st.Count == 0 {
				return
			}
			b.ReportMetric(float64(st.Pause.Microseconds())/float64(st.Count)/1000, "ms-pause/ckpt")
			b.ReportMetric(float64(st.Total.Microseconds())/float64(st.Count)/1000, "ms/ckpt")
			last := job.LastCheckpoint()
			size := dirSize(last.Path)
			b.ReportMetric(float64(size), "ckpt-bytes")
			b.ReportMetric(float64(size)/float64(*benchKeys), "B/key")
			cp, err := state.Load(last.Path)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			stmts2, _ := sql.ParseScript(fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\nINSERT INTO hole SELECT customer, COUNT(*), SUM(amount) FROM orders GROUP BY customer;", cp.Dir))
			var job2 *Job
			for _, st := range stmts2 {
				res, err := s.Execute(ctx, st)
				if err != nil {
					b.Fatal(err)
				}
				if res.Job != nil {
					job2 = res.Job
				}
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "ms-restore")
			job2.Cancel()
		})
	}
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
