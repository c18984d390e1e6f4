package engine

import (
	"context"
	"testing"
	"time"
)

// TestCheckpointLoopEndsWhenSinksEnded: a cycle the checkpoint loop triggers after the job's sinks ended (a
// bounded job finishing) is no failed checkpoint: the loop ends without failing the job. Counting it as a
// failure failed finishing jobs (with 'tolerable-failed-checkpoints' = 0), whose restart then replayed input
// after the last checkpoint into sinks that had already committed it (duplicates in the filesystem sink).
func TestCheckpointLoopEndsWhenSinksEnded(t *testing.T) {
	g := &graph{sinks: []*endOnce{{ended: true}}}
	j := &Job{id: "0123456789abcdef"}
	c := newCheckpointer(g, checkpointConfig{interval: time.Millisecond, timeout: time.Second}, j, func(string, ...any) {})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var failed error
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.loop(ctx, func(err error) { failed = err })
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the checkpoint loop kept running after the sinks ended")
	}
	if failed != nil {
		t.Fatalf("the loop failed the job: %v", failed)
	}
	if n := j.metrics.failedCheckpoints.Load(); n != 0 {
		t.Fatalf("%d failed checkpoints counted", n)
	}
}
