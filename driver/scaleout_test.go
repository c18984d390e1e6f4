package driver_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/driver"
	"github.com/sluicesql/sluice/engine"
)

// Scale-out members run through database/sql (engine/scaleout*.go): the DSN turns scale-out on and names
// the job; ExecContext of the INSERT is the member, running until its context ends.

type scaleOutBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *scaleOutBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *scaleOutBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func scaleOutProduce(t *testing.T, addr string, from, n, users int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Topic: "orders", Value: fmt.Appendf(nil, `{"id":%d,"user_id":%d,"amount":%d}`, i, i%users, i%7)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// scaleOutTotals reads the upsert-kafka topic 'totals' with read_committed, compacted, as "user:cnt/total".
func scaleOutTotals(t *testing.T, addr string) map[int64]string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("totals"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[int64]string{}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			var k struct {
				UserID int64 `json:"user_id"`
			}
			var v struct{ Cnt, Total int64 }
			if json.Unmarshal(r.Key, &k) != nil || (r.Value != nil && json.Unmarshal(r.Value, &v) != nil) {
				t.Errorf("unreadable record %q %q", r.Key, r.Value)
			}
			if r.Value == nil {
				delete(got, k.UserID)
			} else {
				got[k.UserID] = fmt.Sprintf("%d/%d", v.Cnt, v.Total)
			}
		})
		if n == 0 {
			return got
		}
	}
}

// TestScaleOutMembersViaDriver: two database/sql members (DSN 'sluice.scale-out.enabled' and
// 'pipeline.name'), the second joining while the first runs, share a GROUP BY job: the compacted output
// has the exact totals and both worked. A third DB running another INSERT under the same name gets the
// group's refusal from ExecContext; cancelling a member's context ends its ExecContext with
// context.Canceled and its job.
func TestScaleOutMembersViaDriver(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(8),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(8, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	addr := kc.ListenAddrs()[0]
	const users = 50
	scaleOutProduce(t, addr, 0, 1000, users)
	ddl := strings.ReplaceAll(`SET 'sluice.scale-out.session-timeout' = '2 s';
SET 'sluice.scale-out.transaction-timeout' = '3 s';
CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json')`, "ADDR", addr)
	const insert = `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id`

	type member struct {
		out    *scaleOutBuffer
		conn   *driver.Connector
		db     *sql.DB
		cancel context.CancelFunc
		done   chan error
	}
	start := func(query string) *member {
		m := &member{out: &scaleOutBuffer{}, done: make(chan error, 1)}
		c, err := driver.NewConnector("sluice.scale-out.enabled=true&pipeline.name=totals-job", engine.Config{Notice: m.out, Stderr: m.out})
		if err != nil {
			t.Fatal(err)
		}
		m.conn, m.db = c, sql.OpenDB(c)
		t.Cleanup(func() { m.db.Close() })
		if _, err := m.db.ExecContext(context.Background(), ddl); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		m.cancel = cancel
		t.Cleanup(cancel)
		go func() {
			_, err := m.db.ExecContext(ctx, query)
			m.done <- err
		}()
		return m
	}
	want := func(n int) map[int64]string {
		w := map[int64][2]int64{}
		for i := range n {
			x := w[int64(i%users)]
			w[int64(i%users)] = [2]int64{x[0] + 1, x[1] + int64(i%7)}
		}
		out := map[int64]string{}
		for k, x := range w {
			out[k] = fmt.Sprintf("%d/%d", x[0], x[1])
		}
		return out
	}
	waitTotals := func(n int, what string, ms ...*member) {
		t.Helper()
		var got map[int64]string
		for end := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			if got = scaleOutTotals(t, addr); fmt.Sprint(got) == fmt.Sprint(want(n)) {
				return
			}
			if time.Now().After(end) {
				var outs []string
				for _, m := range ms {
					outs = append(outs, m.out.String())
				}
				t.Fatalf("%s: totals of %d orders\ngot  %v\nwant %v\n%s", what, n, got, want(n), strings.Join(outs, "\n---\n"))
			}
		}
	}

	a := start(insert)
	waitTotals(1000, "one member", a)
	b := start(insert)
	n := 1000
	for !strings.Contains(b.out.String(), "restored partitions") {
		if n > 20000 {
			t.Fatalf("the second member did not work:\n%s", b.out)
		}
		scaleOutProduce(t, addr, n, 200, users)
		n += 200
		time.Sleep(300 * time.Millisecond)
	}
	scaleOutProduce(t, addr, n, 1000, users)
	n += 1000
	waitTotals(n, "two members", a, b)

	other := start(`INSERT INTO totals SELECT user_id, COUNT(*), MAX(amount) FROM orders GROUP BY user_id`)
	select {
	case err := <-other.done:
		if err == nil || !strings.Contains(err.Error(), "runs another plan than this process") {
			t.Fatalf("another plan's member: ExecContext returned %v\n%s", err, other.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("another plan's member was not refused:\n%s", other.out)
	}

	for _, m := range []*member{a, b} {
		select {
		case err := <-m.done:
			t.Fatalf("a member's ExecContext returned %v while it ran:\n%s", err, m.out)
		default:
		}
		m.cancel()
		select {
		case err := <-m.done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("a cancelled member's ExecContext returned %v", err)
			}
			jobs := m.conn.Session().Jobs()
			if len(jobs) != 1 {
				t.Fatalf("%d jobs in a member's session", len(jobs))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = jobs[0].Wait(ctx)
			cancel()
			if st := jobs[0].Status(); st != engine.JobCancelled {
				t.Fatalf("a cancelled member's job is %s", st)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a cancelled member's ExecContext did not return")
		}
	}
}
