package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/sql"
)

// A SELECT is warned about as an INSERT is: in batch mode the datagen table's 'scan.parallelism' has no
// effect; in streaming mode the source runs as that many subtasks and nothing is said.
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
	const want = "[WARNING] Table gen: 'scan.parallelism' = '2' has no effect in batch mode here: a batch job reads a source as several tasks only when it is an INSERT job run in stages ('execution.batch-shuffle-mode' = 'ALL_EXCHANGES_BLOCKING' and a restart strategy) and the table's stage reads only splittable scans (one, or a UNION ALL of several) under projections and filters, without a WATERMARK. Remove the option to silence this warning.\n"
	for _, mode := range []string{ModeBatch, ModeStreaming} {
		notice.Reset()
		rows, _, err := queryRows(ctx, s, "SELECT SUM(id) FROM gen", mode)
		if err != nil {
			t.Fatal(err)
		}
		if last := rows[len(rows)-1].Vals[0].I; last != 55 {
			t.Errorf("%s: SUM(id) = %d, want 55", mode, last)
		}
		got := notice.String()
		if mode == ModeBatch && got != want || mode == ModeStreaming && strings.Contains(got, "WARNING") {
			t.Errorf("%s: notices %q", mode, got)
		}
	}
}
