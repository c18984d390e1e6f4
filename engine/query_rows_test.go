package engine

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/sluicesql/sluice/sql"
)

// TestQueryRowsTimeoutIsAnError checks that the tests' queryRows reports a query cut short by its context
// instead of returning the rows so far as the result: the property tests compare the materialized
// streaming changelog with the batch result, and a prefix of a changelog (a slow streaming plan stopped by
// the 30 s timeout) materializes to a wrong result, which once looked like an engine bug.
func TestQueryRowsTimeoutIsAnError(t *testing.T) {
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := sql.ParseStatement("CREATE TABLE endless (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100')")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Execute(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	rows, _, err := queryRows(ctx, s, "SELECT id FROM endless", ModeStreaming)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queryRows of an unbounded query stopped by its context: got %d rows and error %v, want an error wrapping %v", len(rows), err, context.DeadlineExceeded)
	}
}
