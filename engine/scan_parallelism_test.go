package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/sql"
)

// A SELECT is warned about as an INSERT is: in batch mode run in stages the datagen table is read as its
// 'scan.parallelism' = 2 tasks and nothing is said; run in one piece ('restart-strategy' = 'none') the
// option has no effect and a warning says so; in streaming mode the source runs as that many subtasks.
func TestScanParallelismWarningForQueries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var notice bytes.Buffer
	s, err := NewSession(Config{Stdout: &notice, Stderr: &notice, Notice: &notice, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sql.ParseStatement(`CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '10', 'scan.parallelism' = '2')`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Execute(ctx, st); err != nil {
		t.Fatal(err)
	}
	const want = "[WARNING] Table gen: 'scan.parallelism' = '2' has no effect in batch mode here: a batch job reads a source as several tasks only when the job (INSERT or SELECT) runs in stages ('execution.batch-shuffle-mode' = 'ALL_EXCHANGES_BLOCKING' and a restart strategy) and the table's stage reads only splittable scans (one, or a UNION ALL of several) under projections and filters, without a WATERMARK. Remove the option to silence this warning.\n"
	for _, mode := range []string{ModeBatch, "batch in one piece", ModeStreaming} {
		notice.Reset()
		m, restart := mode, "fixed-delay"
		if mode == "batch in one piece" {
			m, restart = ModeBatch, "none"
		}
		set, err := sql.ParseStatement("SET 'restart-strategy' = '" + restart + "'")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Execute(ctx, set); err != nil {
			t.Fatal(err)
		}
		notice.Reset()
		rows, _, err := queryRows(ctx, s, "SELECT SUM(id) FROM gen", m)
		if err != nil {
			t.Fatal(err)
		}
		if last := rows[len(rows)-1].Vals[0].I; last != 55 {
			t.Errorf("%s: SUM(id) = %d, want 55", mode, last)
		}
		got := notice.String()
		if mode == "batch in one piece" && got != want || mode != "batch in one piece" && strings.Contains(got, "WARNING") {
			t.Errorf("%s: notices %q", mode, got)
		}
	}
}
