package engine

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/sluicesql/sluice/sql"
)

// BenchmarkPipelineDatagenAggBlackhole runs datagen → group aggregate (COUNT, SUM(DECIMAL)) → blackhole with
// b.N rows over 1000 keys, in streaming and in batch mode, and reports rows/s (the machine's per-core figure
// when GOMAXPROCS=1).
func BenchmarkPipelineDatagenAggBlackhole(b *testing.B) {
	for _, mode := range []string{ModeStreaming, ModeBatch} {
		b.Run(mode, func(b *testing.B) {
			s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, TempDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			script := fmt.Sprintf(`
SET 'execution.runtime-mode' = '%s';
CREATE TABLE orders (id BIGINT, customer BIGINT, amount DECIMAL(10, 2))
  WITH ('connector' = 'datagen', 'number-of-rows' = '%d', 'rows-per-second' = '2000000000',
        'fields.customer.min' = '1', 'fields.customer.max' = '1000', 'fields.amount.min' = '1', 'fields.amount.max' = '1000');
CREATE TABLE hole (customer BIGINT, n BIGINT, total DECIMAL(38, 2)) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT customer, COUNT(*), SUM(amount) FROM orders GROUP BY customer;`, mode, b.N)
			stmts, err := sql.ParseScript(script)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for _, st := range stmts {
				if _, err := s.Execute(ctx, st); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.WaitJobs(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
