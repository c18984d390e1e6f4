package engine

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/sql"
	"github.com/twmb/franz-go/pkg/kgo"
)

// upsertOp is one record of an upsert topic: the key's new value, or a tombstone (del).
type upsertOp struct {
	id, v int
	del   bool
}

// produceUpserts writes ops to topic as upsert-kafka records (JSON key {"id"}, JSON value {"id","v"} or a
// tombstone), key id to partition id % 4 (so every key's records are in order).
func produceUpserts(t *testing.T, addr, topic string, ops []upsertOp) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for _, o := range ops {
		r := &kgo.Record{Topic: topic, Partition: int32(o.id % 4), Key: []byte(fmt.Sprintf(`{"id":%d}`, o.id))}
		if !o.del {
			r.Value = []byte(fmt.Sprintf(`{"id":%d,"v":%d}`, o.id, o.v))
		}
		recs = append(recs, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// upsertOps returns ops i0..i0+n-1 of a fixed sequence: key i % 300, value (i*7) % 50, every 11th a
// tombstone (some for absent keys), every 5th a duplicate of the key's current value.
func upsertOps(i0, n int) []upsertOp {
	var ops []upsertOp
	for i := i0; i < i0+n; i++ {
		o := upsertOp{id: i % 300, v: (i * 7) % 50, del: i%11 == 0}
		if i%5 == 0 && i >= 300 {
			o.v = ((i - 300) * 7) % 50 // the value written 300 ops before (unless deleted since)
		}
		ops = append(ops, o)
	}
	return ops
}

// opsTables are the tables of the exchange_ops tests; ow and ow2 read the same topic as different tables.
const opsTables = `
CREATE TABLE up (id BIGINT, v BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka',
  'topic' = 'up', 'properties.bootstrap.servers' = 'ADDR', 'key.format' = 'json', 'value.format' = 'json',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE ow (id BIGINT, user_id BIGINT, amount BIGINT,
  ts AS TO_TIMESTAMP_LTZ(id * 10 + (id % 37) * 20, 3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka',
  'topic' = 'ord', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE ow2 (id BIGINT, user_id BIGINT, amount BIGINT,
  ts AS TO_TIMESTAMP_LTZ(id * 10, 3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka',
  'topic' = 'ord', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
SET 'table.optimizer.reuse-source-enabled' = 'false';
`

// exchangeOpsQueries are the operators of exchange_ops.go over 4-partition topics.
var exchangeOpsQueries = []string{
	// ChangelogNormalize (upsert-kafka), then a filter
	`SELECT id, v FROM up WHERE v > 5`,
	// OVER aggregates: ROWS, RANGE, UNBOUNDED
	`SELECT id, user_id, SUM(amount) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM ow`,
	`SELECT id, amount, COUNT(*) OVER (PARTITION BY amount ORDER BY ts RANGE BETWEEN INTERVAL '2' SECOND PRECEDING AND CURRENT ROW) FROM ow`,
	`SELECT id, MAX(id) OVER (PARTITION BY user_id, amount ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM ow`,
	// MATCH_RECOGNIZE (event time): a pattern per user, and one WITHIN a time bound
	`SELECT * FROM ow MATCH_RECOGNIZE (PARTITION BY user_id ORDER BY ts
  MEASURES A.id AS a_id, LAST(B.id) AS b_last, SUM(B.amount) AS b_sum, C.id AS c_id
  ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW PATTERN (A B+ C)
  DEFINE A AS A.amount = 1, B AS B.amount <> 1 AND B.amount <> 6, C AS C.amount = 6)`,
	`SELECT * FROM ow MATCH_RECOGNIZE (PARTITION BY amount ORDER BY ts
  MEASURES FIRST(A.id) AS first_id, LAST(A.id) AS last_id, COUNT(A.id) AS n
  ONE ROW PER MATCH AFTER MATCH SKIP TO NEXT ROW PATTERN (A{2,4} B) WITHIN INTERVAL '3' SECOND
  DEFINE A AS A.user_id < 20, B AS B.user_id >= 20)`,
	// window joins over TVFs (inner; left with NULL-padded rows when the window fires; an anti join)
	`SELECT L.id, R.id, L.window_end FROM (SELECT * FROM TABLE(TUMBLE(TABLE ow, DESCRIPTOR(ts), INTERVAL '1' SECOND))) L
  JOIN (SELECT * FROM TABLE(TUMBLE(TABLE ow2, DESCRIPTOR(ts), INTERVAL '1' SECOND))) R
  ON L.user_id = R.user_id AND L.window_start = R.window_start AND L.window_end = R.window_end`,
	`SELECT L.id, R.id, R.amount FROM (SELECT * FROM TABLE(HOP(TABLE ow, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND))) L
  LEFT JOIN (SELECT * FROM TABLE(HOP(TABLE ow2, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND)) WHERE amount < 2) R
  ON L.user_id = R.user_id AND L.amount = R.amount AND L.window_start = R.window_start AND L.window_end = R.window_end`,
	`SELECT L.id, L.user_id FROM (SELECT * FROM TABLE(TUMBLE(TABLE ow, DESCRIPTOR(ts), INTERVAL '1' SECOND))) L
  WHERE NOT EXISTS (SELECT * FROM (SELECT * FROM TABLE(TUMBLE(TABLE ow2, DESCRIPTOR(ts), INTERVAL '1' SECOND))) R
  WHERE L.user_id = R.user_id AND R.amount = 3 AND L.window_start = R.window_start AND L.window_end = R.window_end)`,
	// interval joins: inner, and left (NULL-padded rows when the interval closes)
	`SELECT a.id, b.id FROM ow a JOIN ow2 b ON a.user_id = b.user_id AND b.ts BETWEEN a.ts - INTERVAL '0.5' SECOND AND a.ts + INTERVAL '1' SECOND`,
	`SELECT a.id, b.id, b.amount FROM ow a LEFT JOIN ow2 b ON a.user_id = b.user_id AND a.amount = b.amount AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '2' SECOND`,
}

// miniBatchSettings turn on one-phase mini-batch aggregation (a batch is applied every 1000 rows, 100 ms, at a
// watermark and at the end of input).
const miniBatchSettings = `SET 'table.exec.mini-batch.enabled' = 'true'; SET 'table.exec.mini-batch.allow-latency' = '100 ms';
SET 'table.exec.mini-batch.size' = '1000'; SET 'table.optimizer.agg-phase-strategy' = 'ONE_PHASE'; `

// exchangeMiniBatchQueries are mini-batch GROUP BYs over a 4-partition changelog and an append stream.
var exchangeMiniBatchQueries = []string{
	`SELECT v, COUNT(*), SUM(id), MAX(id) FROM up GROUP BY v`,
	`SELECT user_id, amount, COUNT(*), SUM(id) FROM ow GROUP BY user_id, amount`,
}

// TestExchangeOpsParallelismProperty runs ChangelogNormalize, OVER aggregates, MATCH_RECOGNIZE, window and
// interval joins and mini-batch GROUP BYs at
// parallelism 1 and 3 over 4-partition topics and compares the materialized results (at 3 through an
// exchange, at 1 without).
func TestExchangeOpsParallelismProperty(t *testing.T) {
	addr := exchangeBroker(t)
	rng := rand.New(rand.NewSource(17))
	var ops []upsertOp
	for range 4000 {
		ops = append(ops, upsertOp{id: rng.Intn(500), v: rng.Intn(20), del: rng.Intn(6) == 0})
	}
	produceUpserts(t, addr, "up", ops)
	produceExchangeOrders(t, addr, "ord", 0, 4000)
	tables := strings.ReplaceAll(opsTables, "ADDR", addr)
	queries := exchangeOpsQueries
	for _, q := range exchangeMiniBatchQueries {
		queries = append(queries, miniBatchSettings+q)
	}
	for _, q := range queries {
		var want string
		settings := ""
		if strings.HasPrefix(q, "SET") {
			settings, q = q[:strings.LastIndex(q, ";")+1], q[strings.LastIndex(q, ";")+2:]
		}
		for _, par := range []int{1, 3} {
			s := exchangeSession(t, par)
			execScript(t, s, tables+settings)
			built, keyed := exchangesBuilt.Load(), keyedExchangesBuilt.Load()
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
			// one exchange, and one more per upstream keyed operator (a ChangelogNormalize) sending into it
			if n, k := exchangesBuilt.Load()-built, keyedExchangesBuilt.Load()-keyed; (par > 1) != (n == 1+k) {
				t.Fatalf("%s at parallelism %d: %d exchanges built (%d keyed → keyed)", q, par, n, k)
			}
			if par > 1 {
				explainsHashExchange(t, s, q)
			}
			if par == 1 {
				want = got
				if strings.Count(want, "\n") < 5 {
					t.Fatalf("%s: too few rows to compare:\n%s", q, want)
				}
				continue
			}
			if got != want {
				t.Fatalf("%s: parallelism %d differs from parallelism 1\ngot:\n%.3000s\nwant:\n%.3000s", q, par, got, want)
			}
		}
	}
}

// explainsHashExchange checks that EXPLAIN q prints a hash exchange in front of the keyed operator (the one
// the engine built) and no single one.
func explainsHashExchange(t *testing.T, s *Session, q string) {
	t.Helper()
	st, err := sql.ParseStatement("EXPLAIN " + q)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(context.Background(), st)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", q, err)
	}
	text := res.Message
	for _, r := range res.Rows {
		for _, v := range r {
			text += v.Str()
		}
	}
	if !strings.Contains(text, "Exchange(distribution=[hash[") || strings.Contains(text, "distribution=[single]") {
		t.Fatalf("EXPLAIN %s: no hash exchange (or a single one):\n%s", q, text)
	}
}

// opsJobTables are the tables of the rescale tests.
const opsJobTables = `
CREATE TABLE up (id BIGINT, v BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka',
  'topic' = 'up', 'properties.bootstrap.servers' = 'ADDR', 'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE vcount (v BIGINT, cnt BIGINT, ids BIGINT, PRIMARY KEY (v) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'vcount', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE o (id BIGINT, user_id BIGINT, amount BIGINT, ts AS TO_TIMESTAMP_LTZ(id * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE o2 (id BIGINT, user_id BIGINT, amount BIGINT, ts AS TO_TIMESTAMP_LTZ(id * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE p (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE pairs (id BIGINT, bid BIGINT, amount BIGINT, PRIMARY KEY (id, bid) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'pairs', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
SET 'table.optimizer.reuse-source-enabled' = 'false';
`

// vcountWant replays upsertOps(0, n) and counts the live keys per value.
func vcountWant(n int) map[string]string {
	live := map[int]int{}
	for _, o := range upsertOps(0, n) {
		if o.del {
			delete(live, o.id)
		} else {
			live[o.id] = o.v
		}
	}
	cnt, ids := map[int]int{}, map[int]int{}
	for id, v := range live {
		cnt[v]++
		ids[v] += id
	}
	want := map[string]string{}
	for v := range cnt {
		want[fmt.Sprintf(`{"v":%d}`, v)] = fmt.Sprintf(`{"v":%d,"cnt":%d,"ids":%d}`, v, cnt[v], ids[v])
	}
	return want
}

// pairsWant: order a joins orders b of the same user (b ≡ a mod 37) with a.ts <= b.ts <= a.ts + 1 s (b in
// [a, a+100]: b = a, a+37, a+74) and amount < 5.
func pairsWant(n int) map[string]string {
	want := map[string]string{}
	for a := range n {
		for _, b := range []int{a, a + 37, a + 74} {
			if b < n && b%7 < 5 {
				want[fmt.Sprintf(`{"id":%d,"bid":%d}`, a, b)] = fmt.Sprintf(`{"id":%d,"bid":%d,"amount":%d}`, a, b, b%7)
			}
		}
	}
	return want
}

// startOpsJob runs insert at parallelism par (restored from savepoint when set) and checks that it runs
// behind exactly one exchange (at parallelism > 1).
func startOpsJob(t *testing.T, addr string, par int, savepoint, settings, insert string) *Job {
	t.Helper()
	s := exchangeSession(t, par)
	script := strings.ReplaceAll(opsJobTables, "ADDR", addr) + settings
	if savepoint != "" {
		script += fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", savepoint)
	}
	execScript(t, s, script)
	built, keyed := exchangesBuilt.Load(), keyedExchangesBuilt.Load()
	st, err := sql.ParseStatement(insert)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	// one exchange, and one more per upstream keyed operator (a ChangelogNormalize) sending into it
	if n, k := exchangesBuilt.Load()-built, keyedExchangesBuilt.Load()-keyed; (par > 1) != (n == 1+k) {
		t.Fatalf("parallelism %d: %d exchanges built (%d keyed → keyed)", par, n, k)
	}
	return res.Job
}

// TestExchangeOpsRescaleSavepoint runs a ChangelogNormalize (upsert-kafka into a GROUP BY), an interval
// join and a mini-batch GROUP BY behind exchanges at parallelism 2, stops them with a savepoint, restores at 3, then at 1, with more
// input each time: the outputs are exact, so the keyed subtasks' state (the normalize's last rows, the
// interval join's rows still in their intervals and its watermarks) was cut with the sources' positions and
// redistributed.
func TestExchangeOpsRescaleSavepoint(t *testing.T) {
	dir := t.TempDir()
	jobs := []struct {
		settings      string
		insert, topic string
		produce       func(t *testing.T, addr string, n0, n int)
		want          func(int) map[string]string
	}{
		{"", `INSERT INTO vcount SELECT v, COUNT(*), SUM(id) FROM up GROUP BY v`, "vcount",
			func(t *testing.T, addr string, n0, n int) { produceUpserts(t, addr, "up", upsertOps(n0, n)) }, vcountWant},
		{"", `INSERT INTO pairs SELECT a.id, b.id, b.amount FROM o a JOIN (SELECT * FROM o2 WHERE amount < 5) b
  ON a.user_id = b.user_id AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '1' SECOND`, "pairs",
			func(t *testing.T, addr string, n0, n int) { produceExchangeOrders(t, addr, "ord", n0, n) }, pairsWant},
		// the last batch of every run is applied by the mini-batch ticker (no watermark, no end of input)
		{miniBatchSettings, `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM p GROUP BY user_id`, "totals",
			func(t *testing.T, addr string, n0, n int) { produceExchangeOrders(t, addr, "ord", n0, n) }, totalsWant},
	}
	for _, jb := range jobs {
		addr := exchangeBroker(t)
		n := 0
		savepoint := ""
		for _, par := range []int{2, 3, 1} {
			jb.produce(t, addr, n, 1500)
			n += 1500
			j := startOpsJob(t, addr, par, savepoint, jb.settings, jb.insert)
			waitUpsert(t, addr, jb.topic, jb.want(n))
			var err error
			if savepoint, err = j.Stop(context.Background(), dir, false); err != nil {
				t.Fatalf("%s at parallelism %d: stop: %v", jb.topic, par, err)
			}
			if err := j.Wait(context.Background()); err != nil {
				t.Fatalf("%s at parallelism %d: %v", jb.topic, par, err)
			}
		}
	}
}
