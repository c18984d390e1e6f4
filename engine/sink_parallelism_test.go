package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/expr"
)

// Sinks with a parallelism of their own ('sink.parallelism', planner/sink_parallelism.go, exchange_sink.go)
// over Kafka inputs; the print goldens are engine/testdata/sink/parallelism.

// sinkParTables are upsert-kafka and exactly-once kafka sinks with 'sink.parallelism' = 'N'.
const sinkParTables = `
CREATE TABLE totals_n (user_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json', 'sink.parallelism' = 'N');
CREATE TABLE pairs_n (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'pairs',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'sinkpar-pairs', 'sink.parallelism' = 'N');
`

// TestSinkParallelismUpsertKafka: a GROUP BY over a 4-partition topic at parallelism 2 and 3 into an
// upsert-kafka sink of 'sink.parallelism' 3 and 2: the sink runs as its own subtasks behind a hash exchange
// on the primary key (the GROUP BY's keyed subtasks route into it), which encode for the sink; the compacted
// table is exact, and every key's records, in offset order, have strictly increasing counts (its changes
// went through one sink subtask, in order).
func TestSinkParallelismUpsertKafka(t *testing.T) {
	const n = 6000
	for _, tc := range []struct{ par, sinkPar int }{{2, 3}, {3, 2}} {
		t.Run(fmt.Sprintf("P%d-sink%d", tc.par, tc.sinkPar), func(t *testing.T) {
			addr := exchangeBroker(t)
			produceExchangeOrders(t, addr, "ord", 0, n)
			s := exchangeSession(t, tc.par)
			execScript(t, s, strings.NewReplacer("ADDR", addr, "'N'", fmt.Sprintf("'%d'", tc.sinkPar)).Replace(exchangeJobTables+sinkParTables)+
				"SET 'execution.checkpointing.interval' = '50 ms';\n")
			built, encs := exchangesBuilt.Load(), sinkEncodersBuilt.Load()
			j := startInsert(t, s, `INSERT INTO totals_n SELECT user_id, COUNT(*), SUM(amount) FROM p GROUP BY user_id`)
			defer func() {
				j.Cancel()
				_ = j.Wait(context.Background())
			}()
			if x, e := exchangesBuilt.Load()-built, sinkEncodersBuilt.Load()-encs; x != 2 || e != 1 {
				t.Fatalf("%d exchanges and %d keyed sink encoders built, want 2 (GROUP BY, sink) and 1", x, e)
			}
			waitUpsert(t, addr, "totals", totalsWant(n))
			last := map[string]int64{}
			for _, r := range readAll(t, addr, "totals") {
				var v struct{ Cnt int64 }
				if err := json.Unmarshal(r.Value, &v); err != nil {
					t.Fatalf("record %q: %v", r.Value, err)
				}
				if v.Cnt <= last[string(r.Key)] {
					t.Fatalf("key %s: count %d after %d: its changes out of order", r.Key, v.Cnt, last[string(r.Key)])
				}
				last[string(r.Key)] = v.Cnt
			}
		})
	}
}

// readAll returns every record of topic, each partition in offset order.
func readAll(t *testing.T, addr, topic string) []*kgo.Record {
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
		t.Fatal(err)
	}
	var recs []*kgo.Record
	seen := map[int32]int64{}
	for {
		done := true
		for p, e := range ends {
			done = done && seen[p] >= e
		}
		if done {
			return recs
		}
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen[r.Partition] = r.Offset + 1
			recs = append(recs, r)
		})
	}
}

// TestSinkParallelismRestart: at parallelism 2, an exactly-once kafka sink of 'sink.parallelism' 3 fed by
// the source subtasks through a rebalance exchange, and an upsert-kafka sink of 'sink.parallelism' 3 over a
// GROUP BY through a hash exchange, with checkpoints every 20 ms while the input keeps arriving; a function
// fails once, three quarters into the input, and the job restarts from its latest checkpoint. The committed
// (read_committed) kafka records hold every order exactly once; the upsert table is exact. Checkpoints before
// the failure were cut with barriers through the sink's exchange.
func TestSinkParallelismRestart(t *testing.T) {
	const n, chunk = 9000, 300
	for _, tc := range []struct{ name, insert string }{
		{"kafka-eo-rebalance", `INSERT INTO pairs_n SELECT id, user_id, pace(amount) FROM p`},
		{"upsert-hash", `INSERT INTO totals_n SELECT user_id, pace(cnt), total FROM (SELECT user_id, COUNT(*) AS cnt, SUM(amount) AS total FROM p GROUP BY user_id)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := exchangeBroker(t)
			var failed atomic.Int32
			var calls, cutsBefore atomic.Int64
			cuts := barrierCutsTaken.Load()
			pace, err := expr.NewUDF("pace", func(v int64) (int64, error) {
				time.Sleep(10 * time.Microsecond)
				if calls.Add(1) == n*3/4 && failed.CompareAndSwap(0, 1) {
					cutsBefore.Store(barrierCutsTaken.Load() - cuts)
					return 0, fmt.Errorf("injected failure after %d rows", n*3/4)
				}
				return v, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			produceExchangeOrders(t, addr, "ord", 0, chunk)
			s, notice := barrierSession(t, addr, 2, "20 ms", pace)
			execScript(t, s, strings.NewReplacer("ADDR", addr, "'N'", "'3'").Replace(sinkParTables))
			encs := sinkEncodersBuilt.Load()
			j := startInsert(t, s, tc.insert)
			defer func() {
				j.Cancel()
				_ = j.Wait(context.Background())
			}()
			if e := sinkEncodersBuilt.Load() - encs; e != 1 {
				t.Fatalf("%d keyed sink encoders built, want 1 (the sink's own subtasks)", e)
			}
			for c := chunk; c < n; c += chunk {
				time.Sleep(10 * time.Millisecond)
				produceExchangeOrders(t, addr, "ord", c, chunk)
			}
			if tc.name == "upsert-hash" {
				waitUpsert(t, addr, "totals", totalsWant(n))
			} else {
				waitPairs(t, addr, n)
			}
			if failed.Load() != 1 || j.Metrics().Restarts != 1 {
				t.Fatalf("failures injected %d, restarts %d; want 1 and 1\n%s", failed.Load(), j.Metrics().Restarts, notice)
			}
			// the sink's subtasks are cut by the barriers (exchange_barrier.go), not only by the quiesce
			if got := cutsBefore.Load(); got < 1 {
				t.Fatalf("%d checkpoints cut with barriers before the failure, want at least 1", got)
			}
		})
	}
}
