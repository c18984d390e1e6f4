package engine

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/sluicesql/sluice/sql"
)

// BenchmarkBatchSelectGroupBy runs a batch SELECT ... GROUP BY over 2M datagen rows (10,000 keys, every
// group's row read by the client) at parallelism 1 and 2: in stages, the source and the aggregate run as P
// tasks and one collect task feeds the client. It reports rows/s of wall time, rows per CPU-second of the
// process, and the wall and CPU seconds of one query.
func BenchmarkBatchSelectGroupBy(b *testing.B) {
	const rows, keys = 2_000_000, 10_000
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("parallelism=%d", par), func(b *testing.B) {
			s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard, TempDir: b.TempDir(),
				Options: map[string]string{"parallelism.default": fmt.Sprint(par), "execution.runtime-mode": "batch"}})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			stmts, err := sql.ParseScript(fmt.Sprintf(`
CREATE TABLE src (id BIGINT, k BIGINT, v DOUBLE) WITH ('connector' = 'datagen', 'number-of-rows' = '%d',
  'rows-per-second' = '1000000000', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '%d',
  'fields.k.min' = '0', 'fields.k.max' = '%d');
SELECT k, COUNT(*), SUM(id), MAX(v) FROM src GROUP BY k;`, rows, rows, keys-1))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Execute(ctx, stmts[0]); err != nil {
				b.Fatal(err)
			}
			cpu0 := cpuSeconds()
			b.ResetTimer()
			for range b.N {
				res, err := s.Execute(ctx, stmts[1])
				if err != nil {
					b.Fatal(err)
				}
				var n, total int64
				for {
					r, ok := res.Query.Next(ctx)
					if !ok {
						break
					}
					n++
					total += r.Vals[1].I
				}
				if err := res.Query.Err(); err != nil {
					b.Fatal(err)
				}
				if n != keys || total != rows {
					b.Fatalf("got %d groups counting %d rows, want %d and %d", n, total, keys, rows)
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
