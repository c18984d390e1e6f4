package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/engine"
)

// TestBatchSavepointBootstrapsStreaming: a BATCH run over the orders topic so far (bounded read) writes a
// savepoint ('sluice.batch.savepoint-dir'); more orders arrive; a STREAMING run of the same query restored
// from the savepoint continues from the batch run's end offsets. The compacted totals topic then equals the
// totals over every order, as one streaming run over the whole topic would give.
func TestBatchSavepointBootstrapsStreaming(t *testing.T) {
	for _, wm := range []bool{false, true} {
		t.Run(fmt.Sprintf("watermark=%v", wm), func(t *testing.T) { batchSavepointGroupBy(t, wm) })
	}
}

// batchSavepointGroupBy runs the test; with watermark the orders table declares one (the batch plan has no
// watermark assigner, its streaming twin has).
func batchSavepointGroupBy(t *testing.T, watermark bool) {
	_, addr := startBroker(t, kfake.DefaultNumPartitions(3))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wmDecl := ""
	if watermark {
		wmDecl = ", ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND"
	}
	produceValues(ctx, t, addr, "orders", orderValues(0, 3000, 37, 11))
	bj := startJob(ctx, t, nil, ordersTotalsScript(addr, addr,
		fmt.Sprintf("SET 'execution.runtime-mode' = 'batch';\nSET 'sluice.batch.savepoint-dir' = '%s';", t.TempDir()),
		wmDecl, ", 'scan.bounded.mode' = 'latest-offset'", ""))
	if err := bj.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	sp := bj.Savepoint()
	if sp == "" {
		t.Fatal("the batch run wrote no savepoint")
	}
	produceValues(ctx, t, addr, "orders", orderValues(3000, 2000, 37, 11))
	sj := startJob(ctx, t, nil, ordersTotalsScript(addr, addr, fmt.Sprintf("SET 'execution.savepoint.path' = '%s';", sp), wmDecl, "", ""))
	defer sj.Cancel()

	want := orderTotals(5000, 37, 11)
	got, records, ok := waitTotals(t, addr, want, 30*time.Second)
	if !ok {
		t.Fatalf("batch then streaming:\n%v\nwant (all orders):\n%v", got, want)
	}
	// The batch run wrote one row per user; the streaming run one update per new order, so it started at
	// the batch run's end offsets instead of reading the topic again.
	if records != 37+2000 {
		t.Fatalf("the totals topic has %d records, want 37 from the batch run + 2000 from the streaming run", records)
	}
}

func compactedTotals(t *testing.T, addr string) (map[int64][2]int64, int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("totals"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[int64][2]int64{}
	records := 0
	for idle := 0; idle < 2; {
		pctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			records++
			var k struct {
				UserID int64 `json:"user_id"`
			}
			_ = json.Unmarshal(r.Key, &k)
			if r.Value == nil {
				delete(out, k.UserID)
				return
			}
			var v struct{ N, Total int64 }
			_ = json.Unmarshal(r.Value, &v)
			out[k.UserID] = [2]int64{v.N, v.Total}
		})
		if n == 0 {
			idle++
		}
	}
	return out, records
}

// TestBatchSavepointJoin: the same for a regular join: a batch run joins the clicks and users so far and
// saves both inputs; a streaming run restored from it joins the new clicks with old users and the new users
// with old clicks. The output topic then holds every joined row exactly once.
func TestBatchSavepointJoin(t *testing.T) {
	_, addr := startBroker(t, kfake.DefaultNumPartitions(2))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(topic string, vals ...string) {
		var recs []*kgo.Record
		for _, v := range vals {
			recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(v)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	clicks := func(from, to int) (vs []string) {
		for i := from; i < to; i++ {
			vs = append(vs, fmt.Sprintf(`{"id":%d,"user_id":%d}`, i, i%30))
		}
		return vs
	}
	users := func(from, to int) (vs []string) {
		for i := from; i < to; i++ {
			vs = append(vs, fmt.Sprintf(`{"user_id":%d,"name":"u%d"}`, i, i))
		}
		return vs
	}
	run := func(pre string, bounded bool) *engine.Job {
		bound := ""
		if bounded {
			bound = ", 'scan.bounded.mode' = 'latest-offset'"
		}
		return startJob(ctx, t, nil, strings.ReplaceAll(pre+fmt.Sprintf(`
CREATE TABLE clicks (id BIGINT, user_id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'clicks',
  'properties.bootstrap.servers' = 'ADDR', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json'%[1]s);
CREATE TABLE users (user_id BIGINT, name STRING) WITH ('connector' = 'kafka', 'topic' = 'users',
  'properties.bootstrap.servers' = 'ADDR', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json'%[1]s);
CREATE TABLE enriched (id BIGINT, name STRING) WITH ('connector' = 'kafka', 'topic' = 'enriched',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json');
INSERT INTO enriched SELECT c.id, u.name FROM clicks c JOIN users u ON c.user_id = u.user_id;`, bound), "ADDR", addr))
	}
	produce("clicks", clicks(0, 300)...)
	produce("users", users(0, 20)...)
	bj := run(fmt.Sprintf("SET 'execution.runtime-mode' = 'batch';\nSET 'sluice.batch.savepoint-dir' = '%s';", t.TempDir()), true)
	if err := bj.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	produce("clicks", clicks(300, 500)...)
	produce("users", users(20, 30)...)
	sj := run(fmt.Sprintf("SET 'execution.savepoint.path' = '%s';", bj.Savepoint()), false)
	defer sj.Cancel()
	deadline := time.Now().Add(30 * time.Second)
	var seen map[string]int
	for time.Now().Before(deadline) {
		seen = map[string]int{}
		rc, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("enriched"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		for idle := 0; idle < 2; {
			pctx, pcancel := context.WithTimeout(ctx, 300*time.Millisecond)
			fs := rc.PollFetches(pctx)
			pcancel()
			n := 0
			fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++; n++ })
			if n == 0 {
				idle++
			}
		}
		rc.Close()
		if len(seen) >= 500 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for i := 0; i < 500; i++ {
		v := fmt.Sprintf(`{"id":%d,"name":"u%d"}`, i, i%30)
		if seen[v] != 1 {
			t.Fatalf("joined row %s seen %d times, want once (%d distinct rows in all)", v, seen[v], len(seen))
		}
	}
	if len(seen) != 500 {
		t.Fatalf("%d distinct joined rows, want 500", len(seen))
	}
}

// TestBatchSavepointWindow: a TUMBLE window aggregate. The batch run fires only the windows that the
// streaming run's watermark would have closed by the end of its input and saves the others; the streaming
// run restored from it fires them as its watermark passes. The windows written by both runs equal those of
// one streaming run over the whole topic (which runs alongside into another topic).
func TestBatchSavepointWindow(t *testing.T) {
	_, addr := startBroker(t, kfake.DefaultNumPartitions(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("events"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ { // one event every 7 seconds, 3 keys
			sec := i * 7
			recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf(`{"k":%d,"ts":"2024-01-01 %02d:%02d:%02d"}`, i%3, sec/3600, sec/60%60, sec%60))})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	run := func(pre, sink string, bounded bool) *engine.Job {
		bound := ""
		if bounded {
			bound = ", 'scan.bounded.mode' = 'latest-offset'"
		}
		return startJob(ctx, t, nil, strings.ReplaceAll(pre+fmt.Sprintf(`
CREATE TABLE events (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'events', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json'%s);
CREATE TABLE counts (k BIGINT, window_start TIMESTAMP(3), n BIGINT) WITH ('connector' = 'kafka', 'topic' = '%s',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json');
INSERT INTO counts SELECT k, window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  GROUP BY k, window_start, window_end;`, bound, sink), "ADDR", addr))
	}
	read := func(topic string) map[string]int {
		seen := map[string]int{}
		rc, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		for idle := 0; idle < 2; {
			pctx, pcancel := context.WithTimeout(ctx, 300*time.Millisecond)
			fs := rc.PollFetches(pctx)
			pcancel()
			n := 0
			fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++; n++ })
			if n == 0 {
				idle++
			}
		}
		return seen
	}
	produce(0, 100)
	bj := run(fmt.Sprintf("SET 'execution.runtime-mode' = 'batch';\nSET 'sluice.batch.savepoint-dir' = '%s';", t.TempDir()), "counts_bs", true)
	if err := bj.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	batchOut := len(read("counts_bs"))
	produce(100, 200)
	sj := run(fmt.Sprintf("SET 'execution.savepoint.path' = '%s';", bj.Savepoint()), "counts_bs", false)
	defer sj.Cancel()
	one := run("", "counts_one", false)
	defer one.Cancel()
	var got, want map[string]int
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		got, want = read("counts_bs"), read("counts_one")
		if len(want) > 0 && fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("batch then streaming wrote %d window rows, one streaming run %d:\n%v\nwant\n%v", len(got), len(want), got, want)
	}
	if batchOut == 0 || batchOut >= len(want) {
		t.Fatalf("the batch run wrote %d of %d window rows; want some (closed windows) but not all (open ones are the streaming run's)", batchOut, len(want))
	}
	for v, n := range got {
		if n != 1 {
			t.Fatalf("window row %s written %d times", v, n)
		}
	}
}
