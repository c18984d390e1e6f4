package sluice_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicesql/sluice"
)

// TestStopWithSavepoint: the Go API stops a streaming job with a savepoint, and a new job of the same query
// starts from it ('execution.savepoint.path'); a different query is refused.
func TestStopWithSavepoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := sluice.Open(sluice.WithRuntimeMode(sluice.Streaming), sluice.WithOutput(io.Discard, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, st := range []string{
		`CREATE TABLE gen (k INT, v BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '2000', 'fields.k.min' = '1', 'fields.k.max' = '5')`,
		`CREATE TABLE hole (k INT, n BIGINT) WITH ('connector' = 'blackhole')`,
	} {
		if err := e.Exec(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	const insert = `INSERT INTO hole SELECT k, COUNT(*) FROM gen GROUP BY k`
	job, err := e.Execute(ctx, insert)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	path, err := job.StopWithSavepoint(ctx, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(path, "_metadata")); err != nil {
		t.Fatalf("savepoint %s: %v", path, err)
	}
	if st := job.Status(); st != sluice.JobStatus("CANCELED") {
		t.Fatalf("job is %s after STOP, want CANCELED", st)
	}
	if err := e.Exec(ctx, `SET 'execution.savepoint.path' = '`+path+`'`); err != nil {
		t.Fatal(err)
	}
	job2, err := e.Execute(ctx, insert)
	if err != nil {
		t.Fatalf("restore the savepoint: %v", err)
	}
	job2.Cancel()
	if _, err := e.Execute(ctx, `INSERT INTO hole SELECT k, SUM(v) FROM gen GROUP BY k`); err == nil {
		t.Fatal("a different query restored the savepoint")
	}
}
