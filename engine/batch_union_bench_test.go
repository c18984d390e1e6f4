package engine

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/sluicesql/sluice/sql"
)

// BenchmarkUnionSourceStage runs a batch job in stages at parallelism 2 whose source stage is a UNION ALL
// of two datagen tables (2M rows each) under a GROUP BY.
func BenchmarkUnionSourceStage(b *testing.B) {
	script := `
CREATE TABLE a (id BIGINT, s STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '2000000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '2000000', 'fields.s.length' = '8');
CREATE TABLE b2 (id BIGINT, s STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '2000000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '2000000', 'fields.s.length' = '8');
CREATE TABLE out_t (k BIGINT, n BIGINT, m STRING) WITH ('connector' = 'blackhole');
INSERT INTO out_t SELECT MOD(id, 1000), COUNT(*), MAX(UPPER(s)) FROM (SELECT id, s FROM a WHERE id > 5 UNION ALL SELECT id * 3, s FROM b2) GROUP BY MOD(id, 1000);`
	stmts, err := sql.ParseScript(script)
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		var out bytes.Buffer
		s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, Options: map[string]string{
			"execution.runtime-mode": "batch", "restart-strategy.type": "fixed-delay", "parallelism.default": "2", "io.tmp.dirs": b.TempDir()}})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		for _, st := range stmts {
			if _, err := s.Execute(ctx, st); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.WaitJobs(ctx); err != nil {
			b.Fatal(err, out.String())
		}
		cancel()
	}
}
