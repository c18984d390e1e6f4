package kafka_test

import (
	"context"
	"testing"
)

// TestExactlyOnceCommitOutlivesCancel: the engine calls Commit from its checkpoint goroutine, whose context
// it cancels when the job ends, possibly while that Commit runs (End, just before, found nothing pending:
// Commit had taken it). A commit that gave up on the cancelled context left its transaction open until the
// brokers' transaction timeout, and read_committed consumers stalled at it (CI's race phase saw this as
// TestSinkPartitionerWithSeveralWriters never reaching its end markers). Commit with a context cancelled
// before it starts must still commit: the checkpoint is complete.
func TestExactlyOnceCommitOutlivesCancel(t *testing.T) {
	h := newHarness(t)
	if err := h.cluster.CreateTopic("eoc", 1, nil); err != nil {
		t.Fatal(err)
	}
	tbl := eoTable(h, t, "eoc", "jobc")
	s := h.openSink(t, tbl)
	s.restore(t, nil, 0)
	pushInts(t, s.out, 1, 10)
	s.preCommit(t, 1)
	pushInts(t, s.out, 11, 15) // the open transaction that End commits
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.cs.Commit(ctx, 1); err != nil {
		t.Fatalf("Commit(1) with a cancelled context: %v", err)
	}
	if err := s.out.End(); err != nil {
		t.Fatal(err)
	}
	if ok, desc := stableOffsets(t, h.addr, "eoc"); !ok {
		t.Fatalf("a transaction is still open:%s", desc)
	}
	if got, want := readCommittedInts(t, h.addr, "eoc", 1), ints(1, 15); !equalInts(got, want) {
		t.Fatalf("read_committed sees %v, want %v", got, want)
	}
	if s.stderr.Len() > 0 {
		t.Fatalf("warnings: %s", s.stderr)
	}
}
