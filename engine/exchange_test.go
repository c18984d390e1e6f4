package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/sql"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// exchangeBroker starts an in-process broker with 4 partitions per topic.
func exchangeBroker(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// produceChangelog writes a random debezium-json changelog of n rows with ids below ids to topic: inserts,
// updates and deletes of each id, every id's changes in one partition (so in order). row builds a row's
// fields for an id.
func produceChangelog(t *testing.T, addr, topic string, rng *rand.Rand, n, ids int, row func(id int) map[string]any) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	live := map[int]map[string]any{}
	var recs []*kgo.Record
	for range n {
		id := rng.Intn(ids)
		before := live[id]
		var msg map[string]any
		switch {
		case before == nil:
			after := row(id)
			live[id] = after
			msg = map[string]any{"before": nil, "after": after, "op": "c"}
		case rng.Intn(4) == 0:
			delete(live, id)
			msg = map[string]any{"before": before, "after": nil, "op": "d"}
		default:
			after := row(id)
			live[id] = after
			msg = map[string]any{"before": before, "after": after, "op": "u"}
		}
		v, err := json.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(id % 4), Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func exchangeSession(t *testing.T, par int) *Session {
	t.Helper()
	var out bytes.Buffer
	s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(),
		Options: map[string]string{"table.local-time-zone": "UTC", "parallelism.default": fmt.Sprint(par)}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func execScript(t *testing.T, s *Session, script string) {
	t.Helper()
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if _, err := s.Execute(context.Background(), st); err != nil {
			t.Fatal(err)
		}
	}
}

const exchangeTables = `
CREATE TABLE person (id BIGINT, name STRING, city STRING) WITH ('connector' = 'kafka', 'topic' = 'person',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'debezium-json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE auction (id BIGINT, seller BIGINT, price BIGINT) WITH ('connector' = 'kafka', 'topic' = 'auction',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'debezium-json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
`

// exchangeWindowQueries are window aggregates over a 4-partition topic with event time (per-partition
// watermarks: no row is late at any parallelism).
var exchangeWindowQueries = []string{
	`SELECT user_id, window_start, COUNT(*), SUM(amount) FROM TABLE(TUMBLE(TABLE ow, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY user_id, window_start, window_end`,
	`SELECT user_id, window_end, COUNT(*), MAX(id) FROM TABLE(HOP(TABLE ow, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '3' SECOND)) GROUP BY user_id, window_start, window_end`,
	`SELECT user_id, window_start, window_end, SUM(amount) FROM TABLE(CUMULATE(TABLE ow, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '4' SECOND)) GROUP BY user_id, window_start, window_end`,
	`SELECT id, user_id, amount FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id, amount ORDER BY ts) AS rn FROM ow) WHERE rn = 1`,
	`SELECT user_id, window_start, window_end, COUNT(*) FROM TABLE(SESSION(TABLE ow PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY user_id, window_start, window_end`,
}

// exchangeQueries are keyed operators fed by multi-partition Kafka changelogs (retractions included).
var exchangeQueries = []string{
	`SELECT city, COUNT(*), SUM(id), MAX(name) FROM person GROUP BY city`,
	`SELECT seller, COUNT(*), SUM(price), MIN(price) FROM auction WHERE price > 10 GROUP BY seller`,
	`SELECT p.name, p.city, a.id, a.price FROM auction a JOIN person p ON a.seller = p.id`,
	`SELECT p.id, p.name, a.id FROM person p LEFT JOIN auction a ON a.seller = p.id AND a.price > 50`,
	`SELECT a.id, a.price, p.city FROM auction a FULL JOIN person p ON a.seller = p.id`,
	`SELECT * FROM (SELECT id, name, city, ROW_NUMBER() OVER (PARTITION BY city ORDER BY id DESC) AS rn FROM person) WHERE rn <= 3`,
	`SELECT * FROM (SELECT id, seller, price, RANK() OVER (PARTITION BY seller ORDER BY price) AS r FROM auction) WHERE r <= 2`,
}

// TestExchangeParallelismProperty runs keyed operators over random multi-partition changelogs at
// parallelism 1 and 3 (source subtasks hash-exchanging into keyed subtasks) and compares the materialized
// results.
func TestExchangeParallelismProperty(t *testing.T) {
	addr := exchangeBroker(t)
	rng := rand.New(rand.NewSource(13))
	cities := []string{"Berlin", "Paris", "Oslo", "Rome", "Lima", "Kyiv", "Quito"}
	produceChangelog(t, addr, "person", rng, 3000, 400, func(id int) map[string]any {
		return map[string]any{"id": id, "name": fmt.Sprintf("n%d", rng.Intn(50)), "city": cities[rng.Intn(len(cities))]}
	})
	produceChangelog(t, addr, "auction", rng, 5000, 900, func(id int) map[string]any {
		seller := any(rng.Intn(450)) // some sellers without a person
		if rng.Intn(20) == 0 {
			seller = nil
		}
		return map[string]any{"id": id, "seller": seller, "price": rng.Intn(100)}
	})
	produceExchangeOrders(t, addr, "ord", 0, 6000)
	tables := strings.ReplaceAll(exchangeTables, "ADDR", addr) + strings.ReplaceAll(`CREATE TABLE ow (id BIGINT, user_id BIGINT, amount BIGINT,
  ts AS TO_TIMESTAMP_LTZ(id * 10 + (id % 37) * 20, 3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka',
  'topic' = 'ord', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');`, "ADDR", addr)
	for _, q := range append(exchangeQueries, exchangeWindowQueries...) {
		var want string
		for _, par := range []int{1, 3} {
			s := exchangeSession(t, par)
			execScript(t, s, tables)
			built := exchangesBuilt.Load()
			rows, _, err := queryRows(context.Background(), s, q, ModeStreaming)
			if err != nil {
				t.Fatalf("%s at parallelism %d: %v", q, par, err)
			}
			m := changelog.NewMaterializer(nil)
			for _, r := range rows {
				if err := m.Apply(r); err != nil {
					t.Fatalf("%s at parallelism %d: materialize: %v", q, par, err)
				}
			}
			got := sortedLines(m.Rows())
			if n := exchangesBuilt.Load() - built; (par > 1) != (n == 1) {
				t.Fatalf("%s at parallelism %d: %d exchanges built", q, par, n)
			}
			if par == 1 {
				want = got
				if strings.Count(want, "\n") < 5 {
					t.Fatalf("%s: too few rows to compare:\n%s", q, want)
				}
				continue
			}
			if got != want {
				t.Fatalf("%s: parallelism %d differs from parallelism 1\ngot:\n%s\nwant:\n%s", q, par, got, want)
			}
		}
	}
}

// produceOrders writes orders n0..n0+n-1 ({"id", "user_id": id % 37, "amount": id % 7}) to topic, order i
// to partition i % 4.
func produceExchangeOrders(t *testing.T, addr, topic string, n0, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := n0; i < n0+n; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 4), Value: []byte(fmt.Sprintf(`{"id":%d,"user_id":%d,"amount":%d}`, i, i%37, i%7))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// upsertTable reads an upsert-kafka topic (JSON key and value) as its compacted table: key → value.
func upsertTable(t *testing.T, addr, topic string) map[string]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadmEnds(ctx, cl, topic)
	if err != nil {
		return nil // not created yet
	}
	got := map[string]string{}
	seen := map[int32]int64{}
	done := func() bool {
		for p, e := range ends {
			if seen[p] < e {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen[r.Partition] = r.Offset + 1
			if r.Value == nil {
				delete(got, string(r.Key))
			} else {
				got[string(r.Key)] = string(r.Value)
			}
		})
	}
	return got
}

// kadmEnds returns the end offset of every partition of topic.
func kadmEnds(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	lo, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	var first error
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && first == nil {
			first = o.Err
		}
		out[o.Partition] = o.Offset
	})
	return out, first
}

const exchangeJobTables = `
CREATE TABLE o (id BIGINT, user_id BIGINT, amount BIGINT, ts AS TO_TIMESTAMP_LTZ(id * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE p (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE joined (id BIGINT, user_id BIGINT, p_amount BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'joined', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
SET 'table.optimizer.reuse-source-enabled' = 'false';
`

// startExchangeJob runs insert in a new session at parallelism par (restored from savepoint when set) and
// checks that it runs behind an exchange.
func startExchangeJob(t *testing.T, addr string, par int, savepoint, insert string) *Job {
	t.Helper()
	s := exchangeSession(t, par)
	script := strings.ReplaceAll(exchangeJobTables, "ADDR", addr)
	if savepoint != "" {
		script += fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", savepoint)
	}
	execScript(t, s, script)
	built, encs, mats := exchangesBuilt.Load(), sinkEncodersBuilt.Load(), sinkMaterializersBuilt.Load()
	st, err := sql.ParseStatement(insert)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	// one for the keyed operator, and one for a SinkUpsertMaterializer when the planner put one in front of
	// the sink (sink_materialize.go)
	if n, m := exchangesBuilt.Load()-built, sinkMaterializersBuilt.Load()-mats; (par > 1) != (n == 1+m && m <= 1) {
		t.Fatalf("parallelism %d: %d exchanges built (%d for sink materializers)", par, n, m)
	}
	// the keyed subtasks encode for upsert-kafka themselves (exchange_sink.go)
	if n := sinkEncodersBuilt.Load() - encs; (par > 1) != (n == 1) {
		t.Fatalf("parallelism %d: %d keyed sink encoders built", par, n)
	}
	return res.Job
}

// waitUpsert waits until topic's compacted table equals want (while it changes: waitProgress).
func waitUpsert(t *testing.T, addr, topic string, want map[string]string) {
	t.Helper()
	var got map[string]string
	wantS := fmt.Sprint(want)
	// as long as the table changes (restart_helpers_test.go; a loaded machine:
	// TestUnalignedExactlyOnceRestart/twolevel-upsert has needed more than 30 s)
	ok, waited := waitProgress(func() (string, bool) {
		got = upsertTable(t, addr, topic)
		g := fmt.Sprint(got)
		return g, g == wantS
	})
	if !ok {
		t.Fatalf("%s after %v (unchanged for %v): %d rows, want %d\ngot:  %.600v\nwant: %.600v", topic, waited.Round(time.Second), outputStall, len(got), len(want), got, want)
	}
}

func totalsWant(n int) map[string]string {
	cnt, sum := map[int]int{}, map[int]int{}
	for i := range n {
		cnt[i%37]++
		sum[i%37] += i % 7
	}
	want := map[string]string{}
	for u := range cnt {
		want[fmt.Sprintf(`{"user_id":%d}`, u)] = fmt.Sprintf(`{"user_id":%d,"cnt":%d,"total":%d}`, u, cnt[u], sum[u])
	}
	return want
}

func joinedWant(n int) map[string]string {
	want := map[string]string{}
	for i := range n {
		amount := "null" // partner: order i - 1500 with amount < 5 (read in the run before: held in the join's state)
		if j := i - 1500; j >= 0 && j%7 < 5 {
			amount = fmt.Sprint(j % 7)
		}
		want[fmt.Sprintf(`{"id":%d}`, i)] = fmt.Sprintf(`{"id":%d,"user_id":%d,"p_amount":%s}`, i, i%37, amount)
	}
	return want
}

// TestExchangeRescaleSavepoint runs a GROUP BY and a regular LEFT JOIN (retractions) behind exchanges at
// parallelism 2, stops them with a savepoint, restores at 3, then at 1, with more input each time: the
// outputs are exact, so the keyed subtasks' state was cut with the sources' positions and redistributed.
func TestExchangeRescaleSavepoint(t *testing.T) {
	dir := t.TempDir()
	jobs := []struct {
		insert, topic string
		want          func(int) map[string]string
	}{
		{`INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM o GROUP BY user_id`, "totals", totalsWant},
		{`INSERT INTO joined SELECT o.id, o.user_id, q.amount FROM o LEFT JOIN (SELECT id, amount FROM p WHERE amount < 5) q ON o.id = q.id + 1500`, "joined", joinedWant},
	}
	for _, jb := range jobs {
		addr := exchangeBroker(t) // a topic of its own
		n := 0
		savepoint := ""
		for _, par := range []int{2, 3, 1} {
			produceExchangeOrders(t, addr, "ord", n, 1500)
			n += 1500
			j := startExchangeJob(t, addr, par, savepoint, jb.insert)
			waitUpsert(t, addr, jb.topic, jb.want(n))
			var err error
			// at parallelism 3 with --drain: the maximum watermark goes through the exchange first
			if savepoint, err = j.Stop(context.Background(), dir, par == 3); err != nil {
				t.Fatalf("%s at parallelism %d: stop: %v", jb.topic, par, err)
			}
			if err := j.Wait(context.Background()); err != nil {
				t.Fatalf("%s at parallelism %d: %v", jb.topic, par, err)
			}
		}
	}
}

// settledGoroutines waits until the number of goroutines is at most want and returns it.
func settledGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

// TestExchangeNoLeak cancels a running job behind an exchange and fails another in a keyed subtask's
// output (an integer division by zero after the aggregate): no goroutine of either is left.
func TestExchangeNoLeak(t *testing.T) {
	addr := exchangeBroker(t)
	produceExchangeOrders(t, addr, "ord", 0, 2000)
	s := exchangeSession(t, 3)
	execScript(t, s, strings.ReplaceAll(exchangeJobTables, "ADDR", addr))
	base := runtime.NumGoroutine()
	// cancelled
	j := startExchangeJob(t, addr, 3, "", `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM o GROUP BY user_id`)
	waitUpsert(t, addr, "totals", totalsWant(2000))
	j.Cancel()
	if err := j.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := settledGoroutines(base); n > base {
		t.Fatalf("%d goroutines after the cancelled job, %d before:\n%s", n, base, goroutines())
	}
	// failed in a keyed subtask's output
	j = startExchangeJob(t, addr, 3, "", `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) / (COUNT(*) - 20) FROM o GROUP BY user_id`)
	err := j.Wait(context.Background())
	if err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("the job ended with %v, want a division by zero", err)
	}
	if n := settledGoroutines(base); n > base {
		t.Fatalf("%d goroutines after the failed job, %d before:\n%s", n, base, goroutines())
	}
}

func goroutines() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
