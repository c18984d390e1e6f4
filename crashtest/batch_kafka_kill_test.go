package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/internal/proctest"
)

// Batch jobs whose kafka or upsert-kafka sink runs as 3 tasks (connectors/kafka/sink_tasks.go), killed with
// SIGKILL at random moments and run again until a run ends. A killed batch job is rerun from scratch; the
// exactly-once sink keeps a commit record in 'io.tmp.dirs' (connectors/kafka/sink_tasks_commit.go) through
// which the rerun completes a run killed during its commits.

const batchKafkaTasks = 3

// slowEndTxn makes the broker answer every EndTxn after delay, so that a batch sink stage's commits of its
// tasks' transactions take a while and kills can land between them. It counts the EndTxn requests that the
// broker went on to process after their delay.
func slowEndTxn(c *kfake.Cluster, delay time.Duration) *atomic.Int64 {
	var n atomic.Int64
	c.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { time.Sleep(delay) })
		n.Add(1)
		return nil, nil, false
	})
	return &n
}

// sinkProduces makes the broker answer every produce request after delay and counts them: once the test
// wrote its input, they are the sink's writes. (Produce v13 names topics by id: no name to match.)
func sinkProduces(c *kfake.Cluster, delay time.Duration) *atomic.Int64 {
	var n atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		n.Add(1)
		c.SleepControl(func() { time.Sleep(delay) })
		return nil, nil, false
	})
	return &n
}

// openTxns returns how many of the transactional ids are in a transaction (Ongoing) and how many not.
func openTxns(t *testing.T, addr string, ids ...string) (open, closed int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = ids
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range resp.TransactionStates {
		if st.ErrorCode == 0 && st.State == "Ongoing" {
			open++
		} else {
			closed++
		}
	}
	return open, closed
}

// batchKafkaScript is a BATCH job at parallelism 3 reading the bounded topic orders into sink (DDL of table
// out), with insert.
func batchKafkaScript(addr, tmp, sinkDDL, insert string) string {
	return script(addr, `SET 'execution.runtime-mode' = 'batch';`,
		fmt.Sprintf(`SET 'parallelism.default' = '%d';`, batchKafkaTasks),
		`SET 'io.tmp.dirs' = '`+tmp+`';`,
		`CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');`,
		sinkDDL, insert)
}

// commitIntent reports whether tmp holds a kafka commit record with a commit intent, and whether it holds
// one at all.
func commitIntent(t *testing.T, tmp string) (intent, record bool) {
	names, _ := filepath.Glob(filepath.Join(tmp, "sluice-kafka-txn-*.json"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			continue
		}
		record = true
		var rec struct{ Commit []json.RawMessage }
		if json.Unmarshal(b, &rec) == nil && len(rec.Commit) > 0 {
			intent = true
		}
	}
	return intent, record
}

// jobStarted reports whether a batch job made its directory in tmp.
func jobStarted(tmp string) bool {
	names, _ := filepath.Glob(filepath.Join(tmp, "sluice-job-*"))
	return len(names) > 0
}

// batchKafkaKills runs sql, killing it 0-400 ms after the job started (its source stage running) or 0-100
// ms after the sink's tasks started writing (produces counts the produce requests), alternately. With
// endTxns (the EndTxn requests, each answered after 1 s), run kills-1 is killed 0-150 ms after the
// first of its commits went through with the commit intent recorded (between two commits), and the last
// run again at a random moment (the run that completes the killed commit). A run that ends before its kill
// ends the loop (the job finished). It returns the kills, the kills that left a commit intent, and the last
// client's output; the job has ended when it returns.
func batchKafkaKills(t *testing.T, addr, sql, dir, tmp string, produces, endTxns *atomic.Int64) (nkills, intents int, output string) {
	rng := rand.New(rand.NewPCG(57, uint64(time.Now().UnixNano())))
	for k := 0; k < *kills; k++ {
		// a killed run's job directory stays until the next run sweeps it: this run's is a new one
		before := map[string]bool{}
		names, _ := filepath.Glob(filepath.Join(tmp, "sluice-job-*"))
		for _, n := range names {
			before[n] = true
		}
		aim := func() bool {
			names, _ := filepath.Glob(filepath.Join(tmp, "sluice-job-*"))
			for _, n := range names {
				if !before[n] {
					return true
				}
			}
			return false
		}
		delay := 400 * time.Millisecond
		switch p0 := produces.Load(); {
		case endTxns != nil && k == *kills-2:
			e0 := endTxns.Load()
			aim = func() bool { i, _ := commitIntent(t, tmp); return i && endTxns.Load() > e0 }
			delay = 150 * time.Millisecond
		case k%2 == 1:
			aim = func() bool { return produces.Load() > p0 }
			delay = 100 * time.Millisecond
		}
		c := proctest.Start(t, clientBin, dir, sql)
		if !waitFor(60*time.Second, func() bool { return aim() || c.Exited() }) {
			t.Fatalf("run %d: the batch job did not reach its kill point in 60 s:\n%s", k+1, indent(c.Output()))
		}
		time.Sleep(randomDelay(rng, 0, delay))
		if c.Exited() {
			if strings.Contains(c.Output(), "[ERROR]") {
				t.Fatalf("run %d failed:\n%s", k+1, indent(c.Output()))
			}
			t.Logf("run %d ended before its kill: the job finished (sink produce requests so far: %d)", k+1, produces.Load())
			return nkills, intents, c.Output()
		}
		c.Kill()
		nkills++
		if endTxns != nil && k == *kills-2 {
			// the kill came between two commits: some of the 3 tasks' transactions committed, some open
			open, closed := openTxns(t, addr, "crash-batch-0-1", "crash-batch-1-1", "crash-batch-2-1")
			t.Logf("run %d killed during its commits: %d transactions committed, %d open", k+1, closed, open)
			if open == 0 || closed == 0 {
				t.Fatalf("run %d: the kill aimed between two commits found %d transactions committed and %d open", k+1, closed, open)
			}
		}
		if i, _ := commitIntent(t, tmp); i {
			intents++
		}
	}
	c := proctest.Start(t, clientBin, dir, sql)
	start := time.Now()
	defer func() { t.Logf("the last run took %s", time.Since(start).Round(time.Millisecond)) }()
	if ended, err := c.Wait(90 * time.Second); !ended || err != nil || strings.Contains(c.Output(), "[ERROR]") {
		t.Fatalf("the last run did not end well (ended %v, %v):\n%s", ended, err, indent(c.Output()))
	}
	return nkills, intents, c.Output()
}

// TestBatchKafkaExactlyOnceKill: bounded kafka → kafka with 'sink.delivery-guarantee' = 'exactly-once' at
// parallelism 3 (3 sink tasks, one transaction each), the broker answering EndTxn slowly; killed at random
// moments and once between two commits (checked: some of the 3 transactions committed, some open), then run
// until a run ends. A read_committed consumer must
// see every row exactly once: a run killed before its commit intent leaves open transactions that the next
// run aborts; one killed during its commits is completed by the next run, which writes nothing itself.
func TestBatchKafkaExactlyOnceKill(t *testing.T) {
	t.Parallel()
	const n = 200000
	addr, cluster := brokerCluster(t, 4)
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	produce(t, addr, "orders", orders(0, n, 50))
	produces := sinkProduces(cluster, 50*time.Millisecond)
	endTxns := slowEndTxn(cluster, time.Second) // the kill aimed between commits needs a window a loaded machine cannot miss
	sql := batchKafkaScript(addr, tmp, `CREATE TABLE eo (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'eo', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'properties.batch.size' = '65536',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'crash-batch');`,
		`INSERT INTO eo SELECT id, user_id, amount FROM orders;`)
	kills, intents, out := batchKafkaKills(t, addr, sql, dir, tmp, produces, endTxns)
	seen := countIDs(t, consume(t, addr, "eo", true))
	lost, dups := 0, 0
	for i := 0; i < n; i++ {
		switch c := seen[i]; {
		case c == 0:
			lost++
		case c > 1:
			dups += c - 1
		}
	}
	completed := strings.Contains(out, "this run writes nothing")
	t.Logf("%d kills, %d of them left a commit intent; the last run completed a killed commit: %v; %d rows: %d lost, %d duplicated",
		kills, intents, completed, n, lost, dups)
	if lost > 0 || dups > 0 || len(seen) != n {
		t.Fatalf("exactly-once broken after %d kills: %d of %d rows lost, %d duplicated, %d distinct ids\nlast client output:\n%s",
			kills, lost, n, dups, len(seen), indent(out))
	}
	if intents == 0 {
		t.Fatal("no kill left a commit intent: the test tested no kill during the commits")
	}
	if _, record := commitIntent(t, tmp); record {
		t.Fatal("the run that ended left its commit record in 'io.tmp.dirs'")
	}
}

// TestBatchKafkaAtLeastOnceKill: the same job with 'sink.delivery-guarantee' = 'at-least-once': killed at
// random moments, then run until a run ends; no row may be lost (the killed runs' rows stay in the topic:
// duplicates are counted and allowed).
func TestBatchKafkaAtLeastOnceKill(t *testing.T) {
	t.Parallel()
	const n = 200000
	addr, cluster := brokerCluster(t, 4)
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	produce(t, addr, "orders", orders(0, n, 50))
	produces := sinkProduces(cluster, 50*time.Millisecond)
	sql := batchKafkaScript(addr, tmp, `CREATE TABLE alo (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'alo', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'properties.batch.size' = '65536',
  'sink.delivery-guarantee' = 'at-least-once');`,
		`INSERT INTO alo SELECT id, user_id, amount FROM orders;`)
	kills, _, out := batchKafkaKills(t, addr, sql, dir, tmp, produces, nil)
	seen := countIDs(t, consume(t, addr, "alo", false))
	lost, dups := 0, 0
	for i := 0; i < n; i++ {
		switch c := seen[i]; {
		case c == 0:
			lost++
		case c > 1:
			dups += c - 1
		}
	}
	t.Logf("%d kills; %d rows: %d lost, %d duplicated (at-least-once allows duplicates)", kills, n, lost, dups)
	if lost > 0 {
		t.Fatalf("at-least-once lost %d of %d rows after %d kills\nlast client output:\n%s", lost, n, kills, indent(out))
	}
}

// TestBatchUpsertKafkaKill: GROUP BY user_id into upsert-kafka (keyed by user_id, hashed to its 3 tasks),
// killed at random moments, then run until a run ends: the compacted view of the topic (each key's last
// record) must equal every user's totals.
func TestBatchUpsertKafkaKill(t *testing.T) {
	t.Parallel()
	const n, users = 200000, 5000
	addr, cluster := brokerCluster(t, 4)
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	produce(t, addr, "orders", orders(0, n, users))
	produces := sinkProduces(cluster, 50*time.Millisecond)
	sql := batchKafkaScript(addr, tmp, `CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json', 'properties.batch.size' = '16384');`,
		`INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id;`)
	kills, _, out := batchKafkaKills(t, addr, sql, dir, tmp, produces, nil)
	cnt, sum := make([]int, users), make([]int, users)
	for i := 0; i < n; i++ {
		cnt[i%users]++
		sum[i%users] += i % 7
	}
	recs := consume(t, addr, "totals", false)
	view := map[string]string{}
	for _, r := range recs {
		k := fields(t, r.Key, []string{"user_id"})
		if r.Value == nil {
			delete(view, k)
			continue
		}
		view[k] = fields(t, r.Value, []string{"cnt", "total"})
	}
	lost, wrong, example := 0, 0, ""
	for u := 0; u < users; u++ {
		v, ok := view[fmt.Sprint(u)]
		switch {
		case !ok:
			lost++
		case v != row(cnt[u], sum[u]):
			wrong++
			example = fmt.Sprintf("user %d: %s, want %s", u, v, row(cnt[u], sum[u]))
		}
	}
	t.Logf("%d kills; %d records in the topic, %d keys: %d lost, %d wrong", kills, len(recs), len(view), lost, wrong)
	if lost > 0 || wrong > 0 || len(view) != users {
		t.Fatalf("upsert-kafka after %d kills: %d of %d users lost, %d wrong (%s), %d keys\nlast client output:\n%s",
			kills, lost, users, wrong, example, len(view), indent(out))
	}
}
