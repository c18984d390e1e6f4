package kafka_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// txnClient is a transactional producer into topic with an open transaction holding the given values.
func txnClient(ctx context.Context, t *testing.T, addr, id, topic string, values ...string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return cl
}

// A bounded read_committed scan stops at the last stable offset it listed at its start. Below it lie the
// records of a transaction that was aborted after another one began (offsets 0-1): their abort marker comes
// after the open transaction's record (offset 2 = the stop offset), so the first record the consumer sees is
// at or past the stop. The scan ends there with no row (the aborted rows are skipped, the open transaction's
// row came after the start), instead of waiting for a record below the stop that never comes.
func TestBoundedReadCommittedPastAbortedTransaction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h := newHarness(t)
	if err := h.cluster.CreateTopic("tx", 1, nil); err != nil {
		t.Fatal(err)
	}
	aborted := txnClient(ctx, t, h.addr, "aborted", "tx", `{"a":1}`, `{"a":2}`)
	open := txnClient(ctx, t, h.addr, "open", "tx", `{"a":3}`)
	if err := aborted.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	tbl, err := h.parseTable("committed", strings.Join([]string{"a INT", "topic=tx", "properties.bootstrap.servers=$BROKER",
		"properties.isolation.level=read_committed", "format=json", "scan.startup.mode=earliest-offset",
		"scan.bounded.mode=latest-offset"}, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		out  string
		took time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		out := h.read("read", tbl, 0, 8*time.Second, false, false)
		done <- result{out, time.Since(start)}
	}()
	// The open transaction commits once the scan listed its stop offset and is waiting.
	time.Sleep(500 * time.Millisecond)
	if err := open.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.out != "bounded\n" || r.took > 5*time.Second {
		t.Fatalf("bounded read_committed scan after %s:\n%s\nwant no rows, ended as soon as the transaction after the stop committed", r.took, r.out)
	}
}
