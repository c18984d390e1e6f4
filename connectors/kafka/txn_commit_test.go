package kafka_test

import (
	"context"
	"testing"

	"github.com/sluicesql/sluice/connectors/kafka"
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

// TestExactlyOnceClientPerTransaction counts the transactional producers of a writer over checkpoints: one
// per transaction (a checkpoint with rows), none for a checkpoint without rows, and every one closed when
// the sink ends (txn_writer.go's beginTxn says why a producer is not kept across checkpoints).
func TestExactlyOnceClientPerTransaction(t *testing.T) {
	h := newHarness(t)
	if err := h.cluster.CreateTopic("eon", 1, nil); err != nil {
		t.Fatal(err)
	}
	tbl := eoTable(h, t, "eon", "jobn")
	open0, closed0 := kafka.TxnClients()
	s := h.openSink(t, tbl)
	s.restore(t, nil, 0)
	const checkpoints = 5
	for i := int64(1); i <= checkpoints; i++ {
		pushInts(t, s.out, int(10*i), int(10*i+9))
		s.preCommit(t, 2*i-1)
		s.commit(t, 2*i-1)
		s.preCommit(t, 2*i) // idle: no transaction
		s.commit(t, 2*i)
	}
	pushInts(t, s.out, 1, 5) // the transaction End commits
	if err := s.out.End(); err != nil {
		t.Fatal(err)
	}
	opened, closed := kafka.TxnClients()
	if opened-open0 != checkpoints+1 || closed-closed0 != opened-open0 {
		t.Fatalf("%d transactional producers opened and %d closed over %d checkpoints with rows and the end, want %d and %d",
			opened-open0, closed-closed0, checkpoints, checkpoints+1, checkpoints+1)
	}
	if got, want := readCommittedInts(t, h.addr, "eon", 1), ints(1, 5, ints(10, 59)); !equalInts(got, want) {
		t.Fatalf("read_committed sees %v, want %v", got, want)
	}
}
