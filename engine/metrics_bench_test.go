package engine

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/sluicesql/sluice/sql"
)

// BenchmarkMeterOverhead runs datagen → Calc (projection and filter) → blackhole, a stateless pipeline where
// the per-operator meters are the largest share of the work, with the meters on and off.
//
//	go test ./engine -run '^$' -bench MeterOverhead -benchtime 2000000x -count 5
func BenchmarkMeterOverhead(b *testing.B) {
	for _, on := range []bool{true, false} {
		b.Run(fmt.Sprintf("meters=%v", on), func(b *testing.B) {
			metersOff = !on
			defer func() { metersOff = false }()
			s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, TempDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			script := fmt.Sprintf(`
CREATE TABLE src (id BIGINT, v BIGINT)
  WITH ('connector' = 'datagen', 'number-of-rows' = '%d', 'rows-per-second' = '2000000000', 'fields.v.min' = '1', 'fields.v.max' = '1000');
CREATE TABLE hole (id BIGINT, w BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT id, v * 2 FROM src WHERE v > 10;`, b.N)
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
