package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/sql"
)

// TestScaleOutMemberBacklog: a member (GROUP BY) starts behind a backlog of 20000 orders that it decodes
// slowly (a test hook sleeps 10 ms every 64 source records: at least 3 s for the whole backlog) with a
// 'sluice.scale-out.transaction-timeout' of 2 s. Capped at 'sluice.scale-out.max-poll-records' = 1000, a
// transaction holds 1000 orders (about 0.2 s): the member works the backlog off in many transactions and the
// totals come exact (nothing lost or counted twice). Uncapped (a cap above the backlog), its first poll
// takes the whole backlog into one transaction, the brokers abort it after 2 s and the member fails with
// the transaction-timeout error: the premise of the capped case.
func TestScaleOutMemberBacklog(t *testing.T) {
	scaleOutSlowRecords = func() { time.Sleep(10 * time.Millisecond) }
	t.Cleanup(func() { scaleOutSlowRecords = nil })
	const users, backlog = 50, 20000
	const insert = `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id`
	for _, c := range []struct {
		name, max string
	}{{"capped", "1000"}, {"uncapped", "1000000"}} {
		t.Run(c.name, func(t *testing.T) {
			addr := scaleOutTestBroker(t)
			produceOrders(t, addr, 0, backlog, users)
			job, out := startTestMember(t, scaleOutTestScript(addr, `SET 'restart-strategy' = 'none'`,
				`SET 'sluice.scale-out.transaction-timeout' = '2 s'`,
				fmt.Sprintf(`SET 'sluice.scale-out.max-poll-records' = '%s'`, c.max), scaleOutTotalsDDL, insert))
			defer job.Cancel()
			var got map[int64]testTotal
			want := fmt.Sprint(wantTotals(backlog, users))
			if c.name == "uncapped" {
				select {
				case <-job.done:
				case <-time.After(60 * time.Second):
					t.Fatalf("the member with the whole backlog in one transaction still runs (status %s)\n%s", job.Status(), out)
				}
				if err := job.Err(); job.Status() != JobFailed || err == nil || !strings.Contains(err.Error(), "longer than 'sluice.scale-out.transaction-timeout' (2s)") {
					t.Fatalf("job %s (%v), want FAILED with the transaction timeout\n%s", job.Status(), err, out)
				}
				return
			}
			if !waitUntil(60*time.Second, func() bool {
				got = readTotals(t, addr)
				return fmt.Sprint(got) == want || job.Status() != JobRunning
			}) || job.Status() != JobRunning {
				t.Fatalf("job %s (%v): got %v\n%s", job.Status(), job.Err(), got, out)
			}
			if in := job.Metrics().RowsIn; in != backlog {
				t.Fatalf("the member committed %d rows in, want %d", in, backlog)
			}
		})
	}
}

// TestScaleOutMaxPollRecordsOption: 'sluice.scale-out.max-poll-records' takes a positive count; anything
// else is refused with an error naming the option.
func TestScaleOutMaxPollRecordsOption(t *testing.T) {
	for _, v := range []string{"0", "-5", "abc", "1.5"} {
		s, err := NewSession(Config{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Notice: &syncBuffer{}, TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		stmts, err := sql.ParseScript(fmt.Sprintf(`SET 'sluice.scale-out.max-poll-records' = '%s';`, v))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Execute(context.Background(), stmts[0])
		if err == nil || !strings.Contains(err.Error(), "sluice.scale-out.max-poll-records") {
			t.Fatalf("SET max-poll-records = '%s': %v, want an error naming the option", v, err)
		}
	}
	s, err := NewSession(Config{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Notice: &syncBuffer{}, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := sessionInt(s.opts, "sluice.scale-out.max-poll-records"); err != nil || n != 5000 {
		t.Fatalf("default max-poll-records %d (%v), want 5000", n, err)
	}
}

// TestScaleOutWindowBacklogNotIdle: a window job with 'table.exec.source.idle-timeout' = '1 s' starts behind
// a backlog of 100 s of clicks in each of 4 partitions, capped at 25 records a poll and decoded slowly (a
// test hook sleeps 250 ms before each partition's records of a poll): the client hands out the buffered
// partitions one after the other, so the last partitions' records wait in the client for seconds, longer than
// the idle timeout. A full poll announces no partition idle (records are still buffered), so no partition is
// taken for idle while its records wait, and none of its rows is late: the windows that the partitions'
// watermark (99 s - 1 s) closes are exact. Without that, partitions 1-3 were announced idle while partition 0
// was read, the windows fired on partition 0 alone and their rows came late and were dropped.
func TestScaleOutWindowBacklogNotIdle(t *testing.T) {
	scaleOutSlowRecords = func() { time.Sleep(250 * time.Millisecond) }
	t.Cleanup(func() { scaleOutSlowRecords = nil })
	const parts, secs = 4, 100
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(parts),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(parts, "clicks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	var recs []*kgo.Record
	from, to := make([]int, parts), make([]int, parts)
	for p := range parts {
		to[p] = secs
		for i := range secs {
			recs = append(recs, clickRecord(p, i, (p*7+i)%5, i%7+p))
		}
	}
	produceRecords(t, addr, recs)
	job, out := startTestMember(t, scaleOutScriptNamed(addr, "backlog-idle-job", `SET 'table.exec.source.idle-timeout' = '1 s'`,
		`SET 'sluice.scale-out.max-poll-records' = '25'`, `SET 'sluice.scale-out.transaction-timeout' = '10 s'`,
		windowsDDL("backlog_wins"), windowsInsert("backlog_wins")))
	defer job.Cancel()
	want := wantClicksOf(from, to, secs-2)
	var got []string
	if !waitUntil(60*time.Second, func() bool {
		got = readWindows(t, addr, "backlog_wins")
		return fmt.Sprint(got) == fmt.Sprint(want) || job.Status() != JobRunning
	}) || job.Status() != JobRunning {
		t.Fatalf("job %s (%v): got %v\nwant %v\n%s", job.Status(), job.Err(), got, want, out)
	}
}
