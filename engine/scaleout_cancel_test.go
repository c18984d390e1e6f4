package engine

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// silentMemberBroker is scaleOutTestBroker that does not answer, once stall is called and until release,
// transactional Produce requests (a member's; the test's own producer is not transactional) or, with
// commits, EndTxn requests that commit; held counts the requests held so far.
func silentMemberBroker(t *testing.T, commits bool) (addr string, stall func(), held *atomic.Int32, release func()) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(8),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(8, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	key, silent := kmsg.Produce, func(kr kmsg.Request) bool { return kr.(*kmsg.ProduceRequest).TransactionID != nil }
	if commits {
		key, silent = kmsg.EndTxn, func(kr kmsg.Request) bool { return kr.(*kmsg.EndTxnRequest).Commit }
	}
	stall, held, release = stallRequests(t, c, key, silent)
	return c.ListenAddrs()[0], stall, held, release
}

// TestScaleOutMemberInterrupted: a scale-out member (GROUP BY) commits its first orders and is cancelled;
// the broker stops answering members' Produce requests, 60000 more orders come and a new member starts: the
// broker acknowledges none of its repartition records, so stage 1 blocks in Produce once its producer buffer
// (10000 records) is full, or in the flush before its first commit (a poll, so a transaction, holds at most
// 'sluice.scale-out.max-poll-records', 5000). Before, nothing ended that
// wait (the member's client has no delivery timeout) and neither did the abort of the failed transaction:
// a cancel, or a failure (the changelog topic deleted), hung until the broker answered. Now they end within
// the sinks' interrupt grace (5 s): CANCELLED, or FAILED with the topic's error. Nothing of the interrupted
// transaction is committed, and a member started after the broker answers again gets the totals exact.
func TestScaleOutMemberInterrupted(t *testing.T) {
	for _, how := range []string{"cancel", "failure"} {
		t.Run(how, func(t *testing.T) {
			addr, stall, held, release := silentMemberBroker(t, false)
			const users, first, more = 50, 300, 60000
			produceOrders(t, addr, 0, first, users)
			const insert = `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id`
			script := scaleOutTestScript(addr, `SET 'restart-strategy' = 'none'`, scaleOutTotalsDDL, insert)
			job, out := startTestMember(t, script)
			var got map[int64]testTotal
			if !waitUntil(30*time.Second, func() bool { got = readTotals(t, addr); return fmt.Sprint(got) == fmt.Sprint(wantTotals(first, users)) }) {
				t.Fatalf("got %v\n%s", got, out)
			}
			// The orders come while no member runs: the next member's polls are full from its start.
			job.Cancel()
			stall()
			produceOrders(t, addr, first, more, users)
			job, out = startTestMember(t, script)
			for waited := time.Now(); held.Load() == 0; time.Sleep(10 * time.Millisecond) {
				if time.Since(waited) > 30*time.Second {
					t.Fatalf("no produce request of the member reached the broker (job %s)\n%s", job.Status(), out)
				}
			}
			time.Sleep(time.Second) // stage 1 fills the buffer and blocks in Produce
			start := time.Now()
			switch how {
			case "cancel":
				go job.Cancel()
			case "failure":
				cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
				if err != nil {
					t.Fatal(err)
				}
				adm := kadm.NewClient(cl)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				topics, err := adm.ListTopics(ctx)
				if err == nil {
					for _, name := range topics.Names() {
						if strings.HasPrefix(name, "totals-job-") && strings.HasSuffix(name, "-changelog") {
							_, err = adm.DeleteTopics(ctx, name)
						}
					}
				}
				cancel()
				cl.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			select {
			case <-job.done:
			case <-time.After(30 * time.Second):
				release()
				t.Fatalf("the %s did not end the member within 30 s with the broker silent (status %s)\n%s", how, job.Status(), out)
			}
			took := time.Since(start)
			t.Logf("the %s took %s (loaded machine)", how, took.Round(time.Millisecond))
			if took > 15*time.Second {
				t.Fatalf("the %s took %s with the broker silent\n%s", how, took, out)
			}
			switch how {
			case "cancel":
				if st := job.Status(); st != JobCancelled {
					t.Fatalf("job %s (%v), want CANCELLED\n%s", st, job.Err(), out)
				}
			case "failure":
				if st, err := job.Status(), job.Err(); st != JobFailed || err == nil || !strings.Contains(err.Error(), "was deleted while the job ran") {
					t.Fatalf("job %s (%v), want FAILED with the deleted topic\n%s", st, err, out)
				}
			}
			release()
			if got = readTotals(t, addr); fmt.Sprint(got) != fmt.Sprint(wantTotals(first, users)) {
				t.Fatalf("the interrupted transaction left %v, want the first %d orders' totals", got, first)
			}
			if how == "failure" {
				return // the job's state is gone with its changelog topic
			}
			// The restarted member works off a backlog of 60000 orders. Before polls were capped at
			// 'sluice.scale-out.max-poll-records' its first transaction held all of them and, under -race
			// on a loaded machine, outlived the 3 s that the members above use (so that the interrupted
			// transaction ends soon): the broker aborted it and the member failed (TestScaleOutMemberBacklog
			// now covers that case). This member keeps a longer timeout so that this test checks the
			// interrupted transaction alone; it waits for that one regardless (it ends after the timeout
			// it was opened with).
			job3, out3 := startTestMember(t, scaleOutTestScript(addr, `SET 'restart-strategy' = 'none'`,
				`SET 'sluice.scale-out.transaction-timeout' = '60 s'`, scaleOutTotalsDDL, insert))
			if !waitUntil(60*time.Second, func() bool {
				got = readTotals(t, addr)
				return fmt.Sprint(got) == fmt.Sprint(wantTotals(first+more, users)) || job3.Status() != JobRunning
			}) || job3.Status() != JobRunning {
				t.Fatalf("after the restart (job %s, %v): got %v\n%s\n%s", job3.Status(), job3.Err(), got, out3, scaleOutDiagnosis(addr, "totals-job"))
			}
		})
	}
}

// TestScaleOutMemberCancelDuringCommit: a scale-out member commits its first orders, then the broker stops
// answering its commits (EndTxn) while more orders come. A cancel ends the member CANCELLED at once (the
// commit waits under the member's run). The commit held by the broker may still complete once it answers
// (with the source offsets of its rows) or not (its rows are read again): a member started afterwards gets
// the totals exact either way.
func TestScaleOutMemberCancelDuringCommit(t *testing.T) {
	const users, first, more = heldCommitUsers, heldCommitFirst, heldCommitMore
	addr, script, job, out, release := memberWithHeldCommit(t)
	var got map[int64]testTotal
	start := time.Now()
	go job.Cancel()
	select {
	case <-job.done:
	case <-time.After(30 * time.Second):
		release()
		t.Fatalf("the cancel did not end the member within 30 s with the broker silent (status %s)\n%s", job.Status(), out)
	}
	took := time.Since(start)
	t.Logf("the cancel took %s (loaded machine)", took.Round(time.Millisecond))
	if took > 8500*time.Millisecond { // the grace (5 s); the session's close waited 10 s behind the held commit before
		t.Fatalf("the cancel took %s with the broker silent\n%s", took, out)
	}
	if st := job.Status(); st != JobCancelled {
		t.Fatalf("job %s (%v), want CANCELLED\n%s", st, job.Err(), out)
	}
	release()
	_, out2 := startTestMember(t, script)
	if !waitUntil(60*time.Second, func() bool {
		got = readTotals(t, addr)
		return fmt.Sprint(got) == fmt.Sprint(wantTotals(first+more, users))
	}) {
		t.Fatalf("after the restart: got %v\n%s", got, out2)
	}
}

// TestScaleOutMemberTransactionTimedOut: a member's commit (EndTxn) is held by the broker until the broker
// has aborted the transaction for outliving 'sluice.scale-out.transaction-timeout' (3 s here), as Kafka
// does after transaction.timeout.ms; the commit then fails. The job (no restart) fails with an error that
// says the transaction timed out and which option to raise; nothing of the transaction was committed, and a
// member started afterwards gets the totals exact (its rows are read again, once).
func TestScaleOutMemberTransactionTimedOut(t *testing.T) {
	const users, first, more = heldCommitUsers, heldCommitFirst, heldCommitMore
	addr, script, job, out, release := memberWithHeldCommit(t, `SET 'restart-strategy' = 'none'`)
	var got map[int64]testTotal
	// The held commit's transaction stays open until the broker's timeout aborts it.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if !waitUntil(30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ongoing, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
		return err == nil && len(ongoing) == 0
	}) {
		t.Fatalf("the broker did not abort the member's transaction after its timeout\n%s", scaleOutDiagnosis(addr, "totals-job"))
	}
	release()
	select {
	case <-job.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the member did not fail after its transaction timed out (status %s)\n%s", job.Status(), out)
	}
	if st, err := job.Status(), job.Err(); st != JobFailed || err == nil ||
		!strings.Contains(err.Error(), "longer than 'sluice.scale-out.transaction-timeout' (3s): the brokers aborted it") {
		t.Fatalf("job %s (%v), want FAILED saying the transaction timed out\n%s", st, err, out)
	}
	t.Logf("the job failed: %v", job.Err())
	if got = readTotals(t, addr); fmt.Sprint(got) != fmt.Sprint(wantTotals(first, users)) {
		t.Fatalf("the timed-out transaction left %v, want the first %d orders' totals", got, first)
	}
	_, out2 := startTestMember(t, script)
	if !waitUntil(60*time.Second, func() bool {
		got = readTotals(t, addr)
		return fmt.Sprint(got) == fmt.Sprint(wantTotals(first+more, users))
	}) {
		t.Fatalf("after the restart: got %v\n%s\n%s", got, out2, scaleOutDiagnosis(addr, "totals-job"))
	}
}

// The orders of memberWithHeldCommit: heldCommitFirst committed, heldCommitMore in the held commit.
const heldCommitUsers, heldCommitFirst, heldCommitMore = 50, 300, 500

// memberWithHeldCommit starts a scale-out member (GROUP BY into totals; stmts before the DDL) that commits
// the first orders, then makes the broker hold members' commits (EndTxn) while more orders come, and waits
// until the member's commit is held. release lets the broker answer again; script starts another member.
func memberWithHeldCommit(t *testing.T, stmts ...string) (addr, script string, job *Job, out *syncBuffer, release func()) {
	t.Helper()
	addr, stall, held, release := silentMemberBroker(t, true)
	produceOrders(t, addr, 0, heldCommitFirst, heldCommitUsers)
	script = scaleOutTestScript(addr, append(stmts, scaleOutTotalsDDL,
		`INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id`)...)
	job, out = startTestMember(t, script)
	var got map[int64]testTotal
	if !waitUntil(30*time.Second, func() bool {
		got = readTotals(t, addr)
		return fmt.Sprint(got) == fmt.Sprint(wantTotals(heldCommitFirst, heldCommitUsers))
	}) {
		t.Fatalf("got %v\n%s", got, out)
	}
	stall()
	produceOrders(t, addr, heldCommitFirst, heldCommitMore, heldCommitUsers)
	for waited := time.Now(); held.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Since(waited) > 30*time.Second {
			t.Fatalf("no commit of the member reached the broker (job %s)\n%s", job.Status(), out)
		}
	}
	return addr, script, job, out, release
}
