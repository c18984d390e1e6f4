package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/sql"
)

// In-process scale-out members: several sessions of one test process join one job's consumer group on an
// in-process broker (kfake, 127.0.0.1). The multi-process runs are in crashtest/scaleout_test.go.

// scaleOutTestBroker starts a broker with an 8-partition topic 'orders' whose groups accept short sessions.
func scaleOutTestBroker(t testing.TB) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(8),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(8, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// produceOrders writes orders id from..from+n-1 ({"id", "user_id": id % users, "amount": id % 7}) keyed by id.
func produceOrders(t *testing.T, addr string, from, n, users int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Topic: "orders", Key: []byte(fmt.Sprint(i)),
			Value: fmt.Appendf(nil, `{"id":%d,"user_id":%d,"amount":%d}`, i, i%users, i%7)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// ScaleOutOrdersDDL is the source table of the scale-out tests; ADDR stands for the broker.
const scaleOutOrdersDDL = `CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json')`

// scaleOutTotalsDDL is the upsert-kafka sink of the scale-out tests.
const scaleOutTotalsDDL = `CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json')`

// ScaleOutTestScript is a member's script around its sink DDL and INSERT.
func scaleOutTestScript(addr string, stmts ...string) string {
	all := append([]string{
		`SET 'sluice.scale-out.enabled' = 'true'`,
		`SET 'pipeline.name' = 'totals-job'`,
		`SET 'sluice.scale-out.session-timeout' = '2 s'`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s'`,
		scaleOutOrdersDDL,
	}, stmts...)
	return strings.ReplaceAll(strings.Join(all, ";\n")+";\n", "ADDR", addr)
}

// startTestMember runs script in a new session and returns its job and notices.
func startTestMember(t testing.TB, script string) (*Job, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	s, err := NewSession(Config{Stdout: out, Stderr: out, Notice: out, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	var job *Job
	for _, st := range stmts {
		res, err := s.Execute(context.Background(), st)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if res.Job != nil {
			job = res.Job
		}
	}
	if job == nil {
		t.Fatal("the script started no job")
	}
	t.Cleanup(func() {
		job.Cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = job.Wait(ctx)
	})
	return job, out
}

type testTotal struct{ Cnt, Total int64 }

// readTotals reads the compacted view of the upsert-kafka topic 'totals' (read_committed).
func readTotals(t *testing.T, addr string) map[int64]testTotal {
	return readCompacted(t, addr, "totals", func(k struct {
		UserID int64 `json:"user_id"`
	}) int64 {
		return k.UserID
	}, func(v testTotal) testTotal { return v })
}

// readCompacted reads the compacted view of an upsert-kafka topic of JSON keys and values (read_committed):
// per key, its last value, a tombstone deleting it. Each record's key and value are decoded into fresh KJ
// and VJ values, which key and val turn into the map's key and value.
func readCompacted[KJ, VJ any, K comparable, V any](t *testing.T, addr, topic string, key func(KJ) K, val func(VJ) V) map[K]V {
	t.Helper()
	got := map[K]V{}
	for _, r := range readCommitted(t, addr, topic) {
		var kj KJ
		if err := json.Unmarshal(r.Key, &kj); err != nil {
			t.Fatalf("topic '%s': unreadable key %q", topic, r.Key)
		}
		k := key(kj)
		if r.Value == nil {
			delete(got, k)
			continue
		}
		var vj VJ
		if err := json.Unmarshal(r.Value, &vj); err != nil {
			t.Fatalf("topic '%s': unreadable value %q", topic, r.Value)
		}
		got[k] = val(vj)
	}
	return got
}

// readCommitted reads topic from the start with read_committed until nothing came for half a second.
func readCommitted(t *testing.T, addr, topic string) []*kgo.Record {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	// Until a quiet 500 ms after records came, or 5 s without any (a slow first fetch, e.g. under -race).
	for start := time.Now(); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r); n++ })
		if n == 0 && (len(recs) > 0 || time.Since(start) > 5*time.Second) {
			return recs
		}
	}
}

func wantTotals(n, users int) map[int64]testTotal {
	want := map[int64]testTotal{}
	for i := range n {
		w := want[int64(i%users)]
		w.Cnt++
		w.Total += int64(i % 7)
		want[int64(i%users)] = w
	}
	return want
}

// waitUntil polls cond every 200 ms until it holds or d passed.
func waitUntil(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); ; time.Sleep(200 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// TestScaleOutMembersInProcess: two in-process members share a GROUP BY job, the second joining while the
// first runs; the totals are exact, and the jobs' rows in and rows out count committed rows only: the rows
// in add up to the orders, the rows out to what the aggregate emitted once (a first row of a user is +I,
// every later one -U and +U, since COUNT(*) changes), however many transactions a rebalance aborted.
func TestScaleOutMembersInProcess(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const users = 100
	produceOrders(t, addr, 0, 3000, users)
	script := scaleOutTestScript(addr, scaleOutTotalsDDL,
		`INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id`)
	a, aOut := startTestMember(t, script)
	var got map[int64]testTotal
	if !waitUntil(30*time.Second, func() bool { got = readTotals(t, addr); return fmt.Sprint(got) == fmt.Sprint(wantTotals(3000, users)) }) {
		t.Fatalf("one member: got %v\n%s", got, aOut)
	}
	b, bOut := startTestMember(t, script)
	// Orders keep coming until the second member has joined and aggregated rows, then 2000 more.
	n := 3000
	for !strings.Contains(bOut.String(), "restored partitions") {
		if n > 20000 {
			t.Fatalf("the second member did not join:\n%s", bOut)
		}
		produceOrders(t, addr, n, 200, users)
		n += 200
		time.Sleep(300 * time.Millisecond)
	}
	produceOrders(t, addr, n, 2000, users)
	n += 2000
	if !waitUntil(30*time.Second, func() bool { got = readTotals(t, addr); return fmt.Sprint(got) == fmt.Sprint(wantTotals(n, users)) }) {
		t.Fatalf("two members: got %v\n%s\n---\n%s", got, aOut, bOut)
	}
	wantIn, wantOut := int64(n), int64(users+2*(n-users))
	var in, out int64
	if !waitUntil(10*time.Second, func() bool {
		ma, mb := a.Metrics(), b.Metrics()
		in, out = ma.RowsIn+mb.RowsIn, ma.RowsOut+mb.RowsOut
		return in == wantIn && out == wantOut
	}) {
		t.Fatalf("rows in %d (want %d), rows out %d (want %d)\n%s\n---\n%s", in, wantIn, out, wantOut, aOut, bOut)
	}
	if b.Metrics().RowsIn == 0 {
		t.Fatalf("the second member read no source row:\n%s", bOut)
	}
	t.Logf("rows in %d+%d, rows out %d+%d", a.Metrics().RowsIn, b.Metrics().RowsIn, a.Metrics().RowsOut, b.Metrics().RowsOut)
}

// TestScaleOutDeliveryGuarantee: a scale-out member writes its sink in its own transactions. A kafka sink
// that asks for 'at-least-once' or 'none' gets a warning saying so; 'exactly-once' (which otherwise needs
// checkpointing, refused with scale-out) is accepted and names the member's transactions after its
// 'sink.transactional-id-prefix'. Either way each change reaches read_committed consumers once.
func TestScaleOutDeliveryGuarantee(t *testing.T) {
	for _, tc := range []struct{ opts, warning string }{
		{`'sink.delivery-guarantee' = 'at-least-once'`, "[WARNING] Scale-out job 'totals-job': table 'changes' sets 'sink.delivery-guarantee' = 'at-least-once', but a scale-out member writes its sink exactly-once"},
		{`'sink.semantic' = 'none'`, "[WARNING] Scale-out job 'totals-job': table 'changes' sets 'sink.semantic' = 'none', but a scale-out member writes its sink exactly-once"},
		{`'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'changes-tx'`, ""},
		{`'format' = 'debezium-json'`, ""},
	} {
		t.Run(tc.opts, func(t *testing.T) {
			addr := scaleOutTestBroker(t)
			const users, n = 50, 1000
			produceOrders(t, addr, 0, n, users)
			opts := tc.opts
			if !strings.Contains(opts, "'format'") {
				opts += `, 'format' = 'debezium-json'`
			}
			job, out := startTestMember(t, scaleOutTestScript(addr,
				`CREATE TABLE changes (user_id BIGINT, cnt BIGINT, total BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'changes', 'properties.bootstrap.servers' = 'ADDR', `+opts+`)`,
				`INSERT INTO changes SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id`))
			want := int64(users + 2*(n-users)) // +I per user, then -U/+U per order
			var recs int
			if !waitUntil(30*time.Second, func() bool { recs = len(readCommitted(t, addr, "changes")); return int64(recs) == want }) {
				t.Fatalf("%d changes read_committed, want %d\n%s", recs, want, out)
			}
			if got := job.Metrics().RowsOut; got != want {
				t.Fatalf("rows out %d, want %d", got, want)
			}
			if strings.Contains(tc.opts, "transactional-id-prefix") {
				cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				txns, err := kadm.NewClient(cl).ListTransactions(ctx, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, tx := range txns.Sorted() {
					ids = append(ids, tx.TxnID)
				}
				if len(ids) != 1 || !strings.HasPrefix(ids[0], "changes-tx-") {
					t.Fatalf("the member's transactional ids %v are not named after 'sink.transactional-id-prefix'", ids)
				}
			}
			warned := strings.Contains(out.String(), "[WARNING]")
			switch {
			case tc.warning == "" && warned:
				t.Fatalf("unexpected warning:\n%s", out)
			case tc.warning != "" && !strings.Contains(out.String(), tc.warning):
				t.Fatalf("the output does not warn %q:\n%s", tc.warning, out)
			}
		})
	}
}

// TestScaleOutMemberRestarts: a member whose transaction fails (the broker refuses its first offset commit)
// aborts its transaction and, under 'restart-strategy', leaves the group, joins again and
// restores its partitions; the totals are exact (the aborted transaction's rows are read again, once).
func TestScaleOutMemberRestarts(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(8),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(8, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	addr := kc.ListenAddrs()[0]
	var failed atomic.Int32
	kc.ControlKey(int16(kmsg.TxnOffsetCommit), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if failed.Load() > 0 {
			return nil, nil, false
		}
		failed.Add(1)
		req := kreq.(*kmsg.TxnOffsetCommitRequest)
		resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		for _, tp := range req.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = tp.Topic
			for _, p := range tp.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, kerr.GroupAuthorizationFailed.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	const users, n = 50, 3000
	produceOrders(t, addr, 0, n, users)
	job, out := startTestMember(t, scaleOutTestScript(addr,
		`SET 'restart-strategy' = 'fixed-delay'`, `SET 'restart-strategy.fixed-delay.delay' = '100 ms'`,
		scaleOutTotalsDDL, `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id`))
	var got map[int64]testTotal
	if !waitUntil(30*time.Second, func() bool { got = readTotals(t, addr); return fmt.Sprint(got) == fmt.Sprint(wantTotals(n, users)) }) {
		t.Fatalf("got %v\n%s", got, out)
	}
	if failed.Load() != 1 || !strings.Contains(out.String(), "[WARNING] Restarting the member in 100ms (restart 1 of 2, 'restart-strategy' = 'fixed-delay')") {
		t.Fatalf("%d produce requests failed; the member did not say it restarts:\n%s", failed.Load(), out)
	}
	if st := job.Status(); st != JobRunning {
		t.Fatalf("job %s:\n%s", st, out)
	}
	if m := job.Metrics(); m.Restarts != 1 || m.RowsIn != n {
		t.Fatalf("restarts %d, rows in %d (want 1, %d)", m.Restarts, m.RowsIn, n)
	}
}

// TestScaleOutKeyNotFirst: GROUP BY a column that is not the table's first, summing another: exact results
// per group key.
func TestScaleOutKeyNotFirst(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const users, n = 50, 700
	produceOrders(t, addr, 0, n, users)
	_, out := startTestMember(t, scaleOutTestScript(addr,
		`CREATE TABLE by_amount (amount BIGINT, cnt BIGINT, users BIGINT, PRIMARY KEY (amount) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'by_amount', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json')`,
		`INSERT INTO by_amount SELECT amount, COUNT(*), SUM(user_id) FROM orders GROUP BY amount`))
	want := map[int64][2]int64{}
	for i := range n {
		w := want[int64(i%7)]
		want[int64(i%7)] = [2]int64{w[0] + 1, w[1] + int64(i%users)}
	}
	var got map[int64][2]int64
	if !waitUntil(30*time.Second, func() bool {
		got = map[int64][2]int64{}
		for _, r := range readCommitted(t, addr, "by_amount") {
			var k struct{ Amount int64 }
			var v struct{ Cnt, Users int64 }
			_ = json.Unmarshal(r.Key, &k)
			_ = json.Unmarshal(r.Value, &v)
			got[k.Amount] = [2]int64{v.Cnt, v.Users}
		}
		return fmt.Sprint(got) == fmt.Sprint(want)
	}) {
		t.Fatalf("got %v, want %v\n%s", got, want, out)
	}
}

// scaleOutDiagnosis describes what the broker at addr holds for group's job, for a failing test's message:
// the group's members and committed offsets, each topic's high watermark and last stable offset (they
// differ where a transaction is open), and the open transactions.
func scaleOutDiagnosis(addr, group string) string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err.Error()
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	if gs, err := adm.DescribeGroups(ctx, group); err != nil {
		fmt.Fprintf(&b, "describe group: %v\n", err)
	} else {
		g := gs[group]
		fmt.Fprintf(&b, "group '%s': %s, %d members\n", group, g.State, len(g.Members))
	}
	if os, err := adm.FetchOffsets(ctx, group); err != nil {
		fmt.Fprintf(&b, "fetch offsets: %v\n", err)
	} else {
		for _, o := range os.Sorted() {
			fmt.Fprintf(&b, "committed %s[%d] = %d\n", o.Topic, o.Partition, o.At)
		}
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		fmt.Fprintf(&b, "list topics: %v\n", err)
		return b.String()
	}
	hw, _ := adm.ListEndOffsets(ctx, topics.Names()...)
	lso, _ := adm.ListCommittedOffsets(ctx, topics.Names()...)
	for _, name := range topics.Names() {
		for p := range int32(len(topics[name].Partitions)) {
			h, _ := hw.Lookup(name, p)
			l, _ := lso.Lookup(name, p)
			open := ""
			if h.Offset != l.Offset {
				open = " (a transaction is open)"
			}
			fmt.Fprintf(&b, "%s[%d]: high watermark %d, last stable %d%s\n", name, p, h.Offset, l.Offset, open)
		}
	}
	txns, err := adm.ListTransactions(ctx, nil, nil)
	if err != nil {
		fmt.Fprintf(&b, "list transactions: %v\n", err)
		return b.String()
	}
	ds, err := adm.DescribeTransactions(ctx, txns.TransactionalIDs()...)
	if err != nil {
		fmt.Fprintf(&b, "describe transactions: %v\n", err)
	}
	for _, d := range ds.Sorted() {
		fmt.Fprintf(&b, "transaction %s: %s, producer %d epoch %d, started %s, partitions %v\n", d.TxnID, d.State,
			d.ProducerID, d.ProducerEpoch, time.UnixMilli(d.StartTimestamp).Format(time.RFC3339Nano), d.Topics)
	}
	return b.String()
}
