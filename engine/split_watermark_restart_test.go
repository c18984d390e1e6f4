package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/expr"
)

// Per-split watermarks across a restore for the sources other than Kafka (connectors.SplitNamer: nexmark
// generators, datagen ranges, files). Each test runs a TUMBLE window aggregate at parallelism 2 twice: once
// uninterrupted into topic ref, once into topic got with a function in the subtasks' chains (pace, after
// the watermark assigner) that sleeps per row and fails once, after one split has ended and while another
// still runs; the job restarts from its latest checkpoint (every 20 ms). The windows after the restart fire
// without an idle timeout, and got equals ref.

// splitRestartPace returns the function pace(v) = v that sleeps per row (slow: longer) and, once armed, fails
// at its failAt-th call after arming.
type splitRestartPace struct {
	armed, failed atomic.Bool
	calls         atomic.Int64
	failAt        int64
}

func (p *splitRestartPace) udf(t *testing.T) *expr.UDF {
	t.Helper()
	u, err := expr.NewUDF("pace", func(v int64) (int64, error) {
		time.Sleep(20 * time.Microsecond)
		if p.armed.Load() && p.calls.Add(1) >= p.failAt && p.failed.CompareAndSwap(false, true) {
			return 0, fmt.Errorf("injected failure at call %d", p.calls.Load())
		}
		return v, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// runSplitRestart runs insert (with TOPIC for the sink's table) uninterrupted into ref until it ends, or,
// when refInsert is set, runs that instead (a bounded variant of the same job), then runs insert into got
// with the failure armed and waits until got equals ref (and has at least minRows rows).
func runSplitRestart(t *testing.T, s *Session, addr string, p *splitRestartPace, notice fmt.Stringer, refInsert, insert string, minRows int) {
	t.Helper()
	if refInsert == "" {
		refInsert = insert
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ref := startInsert(t, s, strings.ReplaceAll(refInsert, "TOPIC", "ref"))
	if err := ref.Wait(ctx); err != nil {
		t.Fatalf("the uninterrupted run: %v\n%s", err, notice)
	}
	want := upsertTable(t, addr, "ref")
	if len(want) < minRows {
		t.Fatalf("the uninterrupted run wrote %d windows, want at least %d\n%s", len(want), minRows, notice)
	}
	p.armed.Store(true)
	j := startInsert(t, s, strings.ReplaceAll(insert, "TOPIC", "got"))
	defer func() {
		j.Cancel()
		_ = j.Wait(context.Background())
	}()
	var got map[string]string
	if !waitUntil(30*time.Second, func() bool {
		got = upsertTable(t, addr, "got")
		return fmt.Sprint(got) == fmt.Sprint(want)
	}) {
		var missing []string
		for k := range want {
			if _, ok := got[k]; !ok {
				missing = append(missing, k)
			}
		}
		slices.Sort(missing)
		t.Fatalf("after the restart: %d windows, want %d; %d missing: %.400v\n%s", len(got), len(want), len(missing), missing, notice)
	}
	if !p.failed.Load() || j.Metrics().Restarts != 1 {
		t.Fatalf("failure injected %v, restarts %d; want true and 1\n%s", p.failed.Load(), j.Metrics().Restarts, notice)
	}
}

// TestSplitWatermarkRestartNexmark: three generators at parallelism 2 (subtask 0 runs generators 0 and 2,
// subtask 1 generator 1, which so ends first) with keep-alive: a generator that has made all its events is
// not finished and holds the watermark at its last event's. The failure comes after generator 1 has ended
// (two thirds of the events) and before the others have. Restored, generator 1 starts from its checkpointed
// watermark; from the lowest one (before SplitNamer) it held the watermark back for good, and no window after
// the checkpoint fired. The windows are of the events before 2.9 s (they span 3 s), so the bounded
// uninterrupted run (which ends with the highest watermark) and the kept-alive one fire the same.
func TestSplitWatermarkRestartNexmark(t *testing.T) {
	const events = 30000
	addr := exchangeBroker(t)
	p := &splitRestartPace{failAt: events * 4 / 5}
	s, notice := barrierSession(t, addr, 2, "20 ms", p.udf(t))
	nx := func(name, keepAlive string) string {
		return strings.NewReplacer("NAME", name, "KEEP", keepAlive, "EVENTS", fmt.Sprint(events)).Replace(`
CREATE TABLE NAME (event_type INT,
  person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR, {dt} TIMESTAMP(3), extra VARCHAR>,
  auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, {dt} TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,
  bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, {dt} TIMESTAMP(3), extra VARCHAR>,
  {dt} AS CASE WHEN event_type = 0 THEN person.{dt} WHEN event_type = 1 THEN auction.{dt} ELSE bid.{dt} END,
  WATERMARK FOR {dt} AS {dt}
) WITH ('connector' = 'nexmark', 'events.num' = 'EVENTS', 'num-event-generators' = '3', 'seed' = '7',
  'base-time' = '1436918400000', 'keep-alive' = 'KEEP');
CREATE TEMPORARY VIEW NAME_v AS SELECT pace(CAST(event_type AS BIGINT)) AS et, {dt} FROM NAME;
`)
	}
	dt := strings.NewReplacer("{dt}", "`dateTime`", "ADDR", addr)
	execScript(t, s, dt.Replace(nx("nx", "true")+nx("nxb", "false")+windowSinks))
	q := dt.Replace(`INSERT INTO TOPIC SELECT window_start, et, COUNT(*) FROM TABLE(TUMBLE(TABLE VIEW, DESCRIPTOR({dt}),
  INTERVAL '0.1' SECOND)) WHERE {dt} < TIMESTAMP '2015-07-15 00:00:02.900' GROUP BY window_start, window_end, et`)
	runSplitRestart(t, s, addr, p, notice, strings.ReplaceAll(q, "VIEW", "nxb_v"), strings.ReplaceAll(q, "VIEW", "nx_v"), 50)
}

// windowSinks are the upsert tables ref and got of the window counts (window start, a key).
const windowSinks = `
CREATE TABLE ref (ws TIMESTAMP(3), k BIGINT, cnt BIGINT, PRIMARY KEY (ws, k) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'ref', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE got (ws TIMESTAMP(3), k BIGINT, cnt BIGINT, PRIMARY KEY (ws, k) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'got', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
`
