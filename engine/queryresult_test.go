package engine

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/sluicesql/sluice/sql"
)

// startQuery runs the statements of script in a new session with ctx; the last must be a query.
func startQuery(t *testing.T, ctx context.Context, script string) *QueryResult {
	t.Helper()
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	var res *Result
	for _, st := range stmts {
		if res, err = s.Execute(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if res.Kind != ResultQuery {
		t.Fatalf("the script's last statement is not a query")
	}
	return res.Query
}

const unboundedQuery = `CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '50');
SELECT id FROM src;`

// Next stopped by its ctx: Err reports the ctx's error (the query did not finish), a later Next with a live
// ctx resumes the query and clears it, and Close ends the query without an error.
func TestQueryResultErrAfterNextCtx(t *testing.T) {
	q := startQuery(t, context.Background(), unboundedQuery)
	defer q.Close()
	tctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	for {
		if _, ok := q.Next(tctx); !ok {
			break
		}
	}
	cancel()
	if err := q.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after Next timed out = %v, want context.DeadlineExceeded", err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok := q.Next(cctx); ok {
		t.Fatal("Next returned a row with a cancelled ctx")
	}
	if err := q.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after Next was cancelled = %v, want context.Canceled", err)
	}
	if _, ok := q.Next(context.Background()); !ok {
		t.Fatalf("Next with a live ctx did not resume the query: %v", q.Err())
	}
	if err := q.Err(); err != nil {
		t.Fatalf("Err after a row = %v, want nil", err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if _, ok := q.Next(context.Background()); ok {
		t.Fatal("Next returned a row after Close")
	}
	if err := q.Err(); err != nil {
		t.Fatalf("Err after Close = %v, want nil (a normal end)", err)
	}
}

// The ctx given to Execute ending stops the query, and Err says so (it did not finish).
func TestQueryResultErrAfterExecuteCtx(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	q := startQuery(t, ctx, unboundedQuery)
	defer q.Close()
	if _, ok := q.Next(context.Background()); !ok {
		t.Fatalf("no first row: %v", q.Err())
	}
	cancel()
	for {
		if _, ok := q.Next(context.Background()); !ok {
			break
		}
	}
	if err := q.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after the Execute ctx was cancelled = %v, want context.Canceled", err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
}

// A bounded query that runs to its end: Next returns false with Err nil.
func TestQueryResultNormalEnd(t *testing.T) {
	q := startQuery(t, context.Background(), `SELECT * FROM (VALUES (1), (2)) AS t(x);`)
	n := 0
	for {
		if _, ok := q.Next(context.Background()); !ok {
			break
		}
		n++
	}
	if err := q.Err(); err != nil || n != 2 {
		t.Fatalf("%d rows, Err %v; want 2 rows, nil", n, err)
	}
}
