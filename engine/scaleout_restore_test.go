package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestScaleOutRestoreWaitsForOpenTransaction: a member that died in a transaction leaves it open on the
// changelog partitions it wrote (the brokers abort it after its transaction timeout). Until then the last
// stable offset stays before it, and the changelog entries that the partitions' next owner commits after it
// are not readable with read_committed, while that owner's source offsets are committed. A member that
// restores the partitions in that window must wait for the open transaction to end: restoring up to the last
// stable offset would give it the state of before the next owner's rows under offsets after them, and the
// totals would lose those rows.
func TestScaleOutRestoreWaitsForOpenTransaction(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const users = 40
	produceOrders(t, addr, 0, 1000, users)
	script := scaleOutTestScript(addr, scaleOutTotalsDDL,
		`INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id`)
	a, aOut := startTestMember(t, script)
	var got map[int64]testTotal
	if !waitUntil(30*time.Second, func() bool { got = readTotals(t, addr); return fmt.Sprint(got) == fmt.Sprint(wantTotals(1000, users)) }) {
		t.Fatalf("first member: got %v\n%s", got, aOut)
	}

	// The dead member's transaction: records on every changelog partition, never committed.
	zombie, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("totals-job-dead-member"),
		kgo.TransactionTimeout(8*time.Second), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer zombie.Close()
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	opened := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for p := range int32(8) {
		if err := zombie.ProduceSync(ctx, &kgo.Record{Topic: "totals-job-agg-changelog", Partition: p,
			Key: []byte("never committed"), Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// The first member goes on (its changelog entries land behind the open transaction), then leaves.
	produceOrders(t, addr, 1000, 1000, users)
	if !waitUntil(30*time.Second, func() bool { got = readTotals(t, addr); return fmt.Sprint(got) == fmt.Sprint(wantTotals(2000, users)) }) {
		t.Fatalf("first member, behind the open transaction: got %v\n%s", got, aOut)
	}
	a.Cancel()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	_ = a.Wait(wctx)

	// The next member restores every partition, while the transaction is still open.
	_, bOut := startTestMember(t, script)
	produceOrders(t, addr, 2000, 500, users)
	if !waitUntil(40*time.Second, func() bool { got = readTotals(t, addr); return fmt.Sprint(got) == fmt.Sprint(wantTotals(2500, users)) }) {
		t.Fatalf("the next member lost rows: got %v, want %v\n%s", got, wantTotals(2500, users), bOut)
	}
	if !strings.Contains(bOut.String(), "have an open transaction") {
		t.Fatalf("the transaction was no longer open when the next member restored (%s after it opened); the test did not test the wait:\n%s",
			time.Since(opened).Round(time.Millisecond), bOut)
	}
	t.Logf("restored after the open transaction ended:\n%s", bOut)
}
