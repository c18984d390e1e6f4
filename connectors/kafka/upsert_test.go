package kafka_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// TestUpsertGolden runs the upsert-kafka source and sink files under testdata/upsert/golden (commands as
// TestGolden's).
func TestUpsertGolden(t *testing.T) { runGolden(t, "testdata/upsert/golden") }

// TestUpsertEngine runs upsert-kafka through the engine, files under testdata/upsert/engine (commands as
// TestEngine's).
func TestUpsertEngine(t *testing.T) { runEngine(t, "testdata/upsert/engine") }

// compacted is a topic's compacted view: the last value of every key (tombstones remove the key), and the
// partition the key was found in.
type compacted struct {
	value     map[string][]byte
	partition map[string]int32
	split     []string // keys found in more than one partition (must not happen for upsert-kafka)
}

func compactTopic(t testing.TB, addr, topic string) compacted {
	c := compacted{value: map[string][]byte{}, partition: map[string]int32{}}
	for _, r := range consumeAll(t, addr, topic) {
		k := string(r.Key)
		if r.Key == nil {
			k = "<null>"
		}
		if p, ok := c.partition[k]; ok && p != r.Partition {
			c.split = append(c.split, k)
		}
		c.partition[k] = r.Partition
		if r.Value == nil {
			delete(c.value, k)
		} else {
			c.value[k] = r.Value
		}
	}
	return c
}

// compactedView renders the compacted view of a topic, sorted by key.
func compactedView(t testing.TB, addr, topic string) string {
	c := compactTopic(t, addr, topic)
	keys := make([]string, 0, len(c.value))
	for k := range c.value {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "p=%d key=%s value=%s\n", c.partition[k], k, c.value[k])
	}
	for _, k := range c.split {
		fmt.Fprintf(&b, "ERROR: key %s is in more than one partition\n", k)
	}
	if b.Len() == 0 {
		b.WriteString("(empty)\n")
	}
	return b.String()
}

// sqlSession is an engine session with the kafka and upsert-kafka connectors.
type sqlSession struct {
	t   testing.TB
	s   *engine.Session
	out bytes.Buffer
}

func newSQLSession(t testing.TB) *sqlSession {
	ss := &sqlSession{t: t}
	s, err := engine.NewSession(engine.Config{Stdout: &ss.out, Stderr: &ss.out, TempDir: t.TempDir(),
		Options: map[string]string{"table.local-time-zone": "UTC"},
		Connectors: connbuiltin.Registry().With(kafka.NewFactory(kafka.WithConnectTimeout(2*time.Second)),
			kafka.NewUpsertFactory(kafka.WithConnectTimeout(2*time.Second)))})
	if err != nil {
		t.Fatal(err)
	}
	ss.s = s
	t.Cleanup(s.CancelJobs)
	return ss
}

// exec runs a script and waits for its jobs.
func (ss *sqlSession) exec(ctx context.Context, script string) {
	ss.t.Helper()
	stmts, err := sql.ParseScript(script)
	if err != nil {
		ss.t.Fatal(err)
	}
	for _, st := range stmts {
		if _, err := ss.s.Execute(ctx, st); err != nil {
			ss.t.Fatalf("%s: %v", st, err)
		}
	}
	if err := ss.s.WaitJobs(ctx); err != nil {
		ss.t.Fatal(err)
	}
}

// query runs a SELECT to its end and returns its changelog.
func (ss *sqlSession) query(ctx context.Context, q string) ([]changelog.Row, []types.Type) {
	ss.t.Helper()
	st, err := sql.ParseStatement(q)
	if err != nil {
		ss.t.Fatal(err)
	}
	res, err := ss.s.Execute(ctx, st)
	if err != nil {
		ss.t.Fatalf("%s: %v", q, err)
	}
	var rows []changelog.Row
	for {
		r, ok := res.Query.Next(ctx)
		if !ok {
			break
		}
		rows = append(rows, changelog.Row{Kind: r.Kind, Vals: changelog.CopyVals(r.Vals)})
	}
	if err := res.Query.Err(); err != nil {
		ss.t.Fatalf("%s: %v", q, err)
	}
	var ts []types.Type
	for _, c := range res.Columns {
		ts = append(ts, c.Type)
	}
	return rows, ts
}

// materialized applies a changelog keyed on key and renders the final rows, sorted.
func materialized(t testing.TB, rows []changelog.Row, ts []types.Type, key []int) []string {
	t.Helper()
	m := changelog.NewMaterializer(key)
	for _, r := range rows {
		if err := m.Apply(r); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for _, vals := range m.Rows() {
		out = append(out, string(changelog.AppendRow(nil, changelog.Row{Kind: changelog.Insert, Vals: vals}, ts, time.UTC)))
	}
	sort.Strings(out)
	return out
}

func produceAll(t testing.TB, addr string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestUpsertCompactedEqualsBatch is check (a): an updating aggregate (with deletes, from a HAVING) written to
// upsert-kafka leaves a topic whose compacted view is the batch result of the same query; every key is in
// one partition, the one Java's murmur2 picks; reading the topic back in batch mode gives the same table.
func TestUpsertCompactedEqualsBatch(t *testing.T) {
	_, addr := startBroker(t, kfake.SeedTopics(4, "orders", "totals"))
	rng := rand.New(rand.NewPCG(1, 2))
	var recs []*kgo.Record
	for i := range 3000 {
		v := fmt.Sprintf(`{"order_id":%d,"user_id":%d,"amount":%d.%02d}`, i, rng.IntN(60), rng.IntN(100), rng.IntN(100))
		recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(v)})
	}
	produceAll(t, addr, recs)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	ss := newSQLSession(t)
	const query = "SELECT user_id, COUNT(*) AS n, SUM(amount) AS total FROM orders GROUP BY user_id HAVING COUNT(*) < 55"
	ss.exec(ctx, fmt.Sprintf(`
CREATE TABLE orders (order_id BIGINT, user_id BIGINT, amount DECIMAL(10, 2)) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = '%[1]s', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
CREATE TABLE totals (user_id BIGINT, n BIGINT, total DECIMAL(38, 2), PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = '%[1]s',
  'key.format' = 'json', 'value.format' = 'json', 'value.fields-include' = 'EXCEPT_KEY',
  'scan.bounded.mode' = 'latest-offset');
INSERT INTO totals %[2]s;`, addr, query))

	c := compactTopic(t, addr, "totals")
	if len(c.split) > 0 {
		t.Fatalf("keys in more than one partition: %v", c.split)
	}
	var fromTopic []string
	for k, v := range c.value {
		var key struct {
			UserID int64 `json:"user_id"`
		}
		var val struct {
			N     int64       `json:"n"`
			Total json.Number `json:"total"`
		}
		if err := json.Unmarshal([]byte(k), &key); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(v, &val); err != nil {
			t.Fatal(err)
		}
		if want := int32(javaPartition([]byte(k), 4)); c.partition[k] != want {
			t.Errorf("key %s in partition %d, Java's murmur2 picks %d", k, c.partition[k], want)
		}
		fromTopic = append(fromTopic, fmt.Sprintf("+I[%d, %d, %s]", key.UserID, val.N, val.Total))
	}
	sort.Strings(fromTopic)

	ss.exec(ctx, "SET 'execution.runtime-mode' = 'batch';")
	rows, ts := ss.query(ctx, query)
	batch := materialized(t, rows, ts, []int{0})
	t.Logf("%d users in the batch result, %d in the compacted topic", len(batch), len(fromTopic))
	if len(batch) < 10 || len(batch) > 55 {
		t.Fatalf("the test data should leave some users and delete others; the batch result has %d rows", len(batch))
	}
	if strings.Join(fromTopic, "\n") != strings.Join(batch, "\n") {
		t.Fatalf("compacted topic:\n%s\nbatch result:\n%s", strings.Join(fromTopic, "\n"), strings.Join(batch, "\n"))
	}
	rows, ts = ss.query(ctx, "SELECT * FROM totals")
	if got := materialized(t, rows, ts, []int{0}); strings.Join(got, "\n") != strings.Join(batch, "\n") {
		t.Fatalf("batch read of the upsert topic:\n%s\nbatch result:\n%s", strings.Join(got, "\n"), strings.Join(batch, "\n"))
	}
}

// TestUpsertAggregateEqualsInserts is check (b): a random changelog of upserts and tombstones (repeated and
// unknown-key deletes, duplicate upserts) read by upsert-kafka and aggregated in streaming mode
// materializes to the same table as the batch aggregate over the final rows written as plain inserts.
func TestUpsertAggregateEqualsInserts(t *testing.T) {
	_, addr := startBroker(t, kfake.SeedTopics(3, "changes", "final"))
	rng := rand.New(rand.NewPCG(3, 4))
	final := map[int]string{}
	var recs []*kgo.Record
	for range 4000 {
		k := rng.IntN(300)
		key := []byte(fmt.Sprintf(`{"k":%d}`, k))
		if rng.IntN(5) == 0 {
			delete(final, k)
			recs = append(recs, &kgo.Record{Topic: "changes", Key: key})
			continue
		}
		v := fmt.Sprintf(`{"g":"g%d","v":%d}`, rng.IntN(7), rng.IntN(3))
		final[k] = v
		recs = append(recs, &kgo.Record{Topic: "changes", Key: key, Value: []byte(v)})
	}
	for k, v := range final {
		recs = append(recs, &kgo.Record{Topic: "final", Value: []byte(fmt.Sprintf(`{"k":%d,%s`, k, v[1:]))})
	}
	produceAll(t, addr, recs)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	ss := newSQLSession(t)
	ss.exec(ctx, fmt.Sprintf(`
CREATE TABLE changes (k INT, g STRING, v BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'changes', 'properties.bootstrap.servers' = '%[1]s',
  'key.format' = 'json', 'value.format' = 'json', 'value.fields-include' = 'EXCEPT_KEY',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE final_rows (k INT, g STRING, v BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'final', 'properties.bootstrap.servers' = '%[1]s', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');`, addr))
	const agg = "SELECT g, COUNT(*) AS n, SUM(v) AS s, MAX(k) AS mk FROM %s GROUP BY g"
	rows, ts := ss.query(ctx, fmt.Sprintf(agg, "changes"))
	var retractions int
	for _, r := range rows {
		if r.Kind == changelog.UpdateBefore || r.Kind == changelog.Delete {
			retractions++
		}
	}
	if retractions == 0 {
		t.Fatal("the streaming aggregate retracted nothing; the test data should update and delete keys")
	}
	streaming := materialized(t, rows, ts, []int{0})
	t.Logf("%d changelog rows (%d retractions), %d groups", len(rows), retractions, len(streaming))
	ss.exec(ctx, "SET 'execution.runtime-mode' = 'batch';")
	rows, ts = ss.query(ctx, fmt.Sprintf(agg, "final_rows"))
	batch := materialized(t, rows, ts, []int{0})
	if strings.Join(streaming, "\n") != strings.Join(batch, "\n") {
		t.Fatalf("streaming over upsert-kafka:\n%s\nbatch over the final inserts:\n%s", strings.Join(streaming, "\n"), strings.Join(batch, "\n"))
	}
	rows, ts = ss.query(ctx, fmt.Sprintf(agg, "changes"))
	if got := materialized(t, rows, ts, []int{0}); strings.Join(got, "\n") != strings.Join(batch, "\n") {
		t.Fatalf("batch over upsert-kafka:\n%s\nbatch over the final inserts:\n%s", strings.Join(got, "\n"), strings.Join(batch, "\n"))
	}
}
