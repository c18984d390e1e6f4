package kafka_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

// Helpers of the tests that run whole jobs through the engine against a broker (batch savepoints, restarts).

// startJob runs script in a new session (notices and print output to out, io.Discard when nil) and returns
// the job of its last INSERT.
func startJob(ctx context.Context, t *testing.T, out io.Writer, script string) *engine.Job {
	t.Helper()
	if out == nil {
		out = io.Discard
	}
	s, err := engine.NewSession(engine.Config{Stdout: out, Stderr: out, Notice: out, TempDir: t.TempDir(),
		Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	var job *engine.Job
	for _, st := range stmts {
		res, err := s.Execute(ctx, st)
		if err != nil {
			t.Fatalf("%v\nscript:\n%s", err, script)
		}
		if res.Job != nil {
			job = res.Job
		}
	}
	return job
}

// produceValues writes one record per value to topic and waits for the acknowledgements.
func produceValues(ctx context.Context, t *testing.T, addr, topic string, vals []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(vals))
	for i, v := range vals {
		recs[i] = &kgo.Record{Value: []byte(v)}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// orderValues returns the JSON orders from..from+n-1: user i%users, amount i%mod, and a timestamp of i seconds.
func orderValues(from, n, users, mod int) []string {
	vals := make([]string, n)
	for k := range vals {
		i := from + k
		vals[k] = fmt.Sprintf(`{"user_id":%d,"amount":%d,"ts":"2024-01-01 00:%02d:%02d"}`, i%users, i%mod, i/60%60, i%60)
	}
	return vals
}

// orderTotals is the COUNT(*) and SUM(amount) per user of orderValues(0, n, users, mod).
func orderTotals(n, users, mod int) map[int64][2]int64 {
	want := map[int64][2]int64{}
	for i := 0; i < n; i++ {
		w := want[int64(i%users)]
		want[int64(i%users)] = [2]int64{w[0] + 1, w[1] + int64(i%mod)}
	}
	return want
}

// waitTotals polls the compacted totals topic until it equals want or the timeout passes; it returns the
// last table read and the number of records in the topic.
func waitTotals(t *testing.T, addr string, want map[int64][2]int64, timeout time.Duration) (map[int64][2]int64, int, bool) {
	deadline := time.Now().Add(timeout)
	for {
		got, records := compactedTotals(t, addr)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return got, records, true
		}
		if time.Now().After(deadline) {
			return got, records, false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ordersTotalsScript is the GROUP BY job of these tests: orders (JSON, from ordersAddr) → COUNT/SUM per user
// → upsert-kafka totals (at sinkAddr). pre is put first (SET statements); ordersExtra goes into the orders
// table's columns, ordersWith and totalsWith into their WITH clauses.
func ordersTotalsScript(ordersAddr, sinkAddr, pre, ordersExtra, ordersWith, totalsWith string) string {
	return strings.NewReplacer("ORDERS", ordersAddr, "SINK", sinkAddr).Replace(pre + `
CREATE TABLE orders (user_id BIGINT, amount BIGINT` + ordersExtra + `) WITH ('connector' = 'kafka', 'topic' = 'orders',
  'properties.bootstrap.servers' = 'ORDERS', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json'` + ordersWith + `);
CREATE TABLE totals (user_id BIGINT, n BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = 'SINK',
  'key.format' = 'json', 'value.format' = 'json'` + totalsWith + `);
INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id;`)
}

// lockedWriter collects output written from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
