package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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
			built, encs, own := exchangesBuilt.Load(), sinkEncodersBuilt.Load(), sinkOwnSubtasksBuilt.Load()
			j := startInsert(t, s, `INSERT INTO totals_n SELECT user_id, COUNT(*), SUM(amount) FROM p GROUP BY user_id`)
			defer func() {
				j.Cancel()
				_ = j.Wait(context.Background())
			}()
			if x, e, o := exchangesBuilt.Load()-built, sinkEncodersBuilt.Load()-encs, sinkOwnSubtasksBuilt.Load()-own; x != 2 || e != 1 || o != int64(tc.sinkPar) {
				t.Fatalf("%d exchanges, %d keyed sink encoders, %d sink subtasks built, want 2 (GROUP BY, sink), 1 and %d", x, e, o, tc.sinkPar)
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
			fail, pace := newFailOnce(t, 10*time.Microsecond, n*3/4)
			produceExchangeOrders(t, addr, "ord", 0, chunk)
			s, notice := barrierSession(t, addr, 2, "20 ms", pace)
			execScript(t, s, strings.NewReplacer("ADDR", addr, "'N'", "'3'").Replace(sinkParTables))
			encs, own := sinkEncodersBuilt.Load(), sinkOwnSubtasksBuilt.Load()
			j := startInsert(t, s, tc.insert)
			defer func() {
				j.Cancel()
				_ = j.Wait(context.Background())
			}()
			if e, o := sinkEncodersBuilt.Load()-encs, sinkOwnSubtasksBuilt.Load()-own; e != 1 || o != 3 {
				t.Fatalf("%d keyed sink encoders, %d sink subtasks built, want 1 and 3 (the sink's own subtasks)", e, o)
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
			fail.checkOneRestart(t, j, notice)
			// the sink's subtasks are cut by the barriers (exchange_barrier.go), not only by the quiesce
			if got := fail.cutsBefore.Load(); got < 1 {
				t.Fatalf("%d checkpoints cut with barriers before the failure, want at least 1", got)
			}
		})
	}
}

// TestSinkParallelismMaterialize: a join on seller into an upsert-kafka sink keyed by auction id whose
// seller changes, at parallelism 2 with 'sink.parallelism' 3: the SinkUpsertMaterializer runs as the sink's
// 3 subtasks behind the hash exchange on id, and the compacted table equals the join of the final rows.
func TestSinkParallelismMaterialize(t *testing.T) {
	addr := exchangeBroker(t)
	rng := rand.New(rand.NewSource(17))
	cities := []string{"Berlin", "Paris", "Oslo", "Rome", "Lima"}
	persons := produceLiveChangelog(t, addr, "person", rng, 2000, 300, func(id int) map[string]any {
		return map[string]any{"id": id, "name": fmt.Sprintf("n%d", rng.Intn(50)), "city": cities[rng.Intn(len(cities))]}
	})
	auctions := produceLiveChangelog(t, addr, "auction", rng, 4000, 700, func(id int) map[string]any {
		return map[string]any{"id": id, "seller": rng.Intn(350), "price": rng.Intn(100)} // the seller changes
	})
	want := map[string]string{}
	for id, a := range auctions {
		if p := persons[a["seller"].(int)]; p != nil {
			want[fmt.Sprintf(`{"id":%d}`, id)] = fmt.Sprintf(`{"id":%d,"price":%d,"city":%q}`, id, a["price"], p["city"])
		}
	}
	if len(want) < 200 {
		t.Fatalf("too few rows to compare: %d", len(want))
	}
	s := exchangeSession(t, 2)
	execScript(t, s, strings.ReplaceAll(exchangeTables+`
CREATE TABLE jn3 (id BIGINT, price BIGINT, city STRING, PRIMARY KEY (id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'jn3', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json', 'sink.parallelism' = '3');
`, "ADDR", addr))
	mats, encs, own := sinkMaterializersBuilt.Load(), sinkEncodersBuilt.Load(), sinkOwnSubtasksBuilt.Load()
	j := startInsert(t, s, `INSERT INTO jn3 SELECT a.id, a.price, p.city FROM auction a JOIN person p ON a.seller = p.id`)
	if err := j.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m, e, o := sinkMaterializersBuilt.Load()-mats, sinkEncodersBuilt.Load()-encs, sinkOwnSubtasksBuilt.Load()-own; m != 1 || e != 1 || o != 3 {
		t.Fatalf("%d materializers behind an exchange, %d keyed sink encoders, %d sink subtasks built, want 1, 1 and 3", m, e, o)
	}
	if got := upsertTable(t, addr, "jn3"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("jn3: %d rows, want %d\ngot:  %.600v\nwant: %.600v", len(got), len(want), got, want)
	}
}

// TestSinkParallelismFilesystem: a filter over a 4-partition topic (with and without a WATERMARK) into a
// filesystem sink of 'sink.parallelism' 3 at parallelism 1 and 2: the sink's 3 subtasks write part files of their own (subtask
// numbers 0, 1, 2 in the names), the files hold exactly the filtered rows, and the rows out count them.
func TestSinkParallelismFilesystem(t *testing.T) {
	addr := exchangeBroker(t)
	const n = 3000
	produceExchangeOrders(t, addr, "ord", 0, n)
	var want []string
	for i := range n {
		if i%7 < 5 {
			want = append(want, fmt.Sprintf("%d,%d,%d", i, i%37, 2*(i%7)))
		}
	}
	slices.Sort(want)
	for _, run := range []struct {
		par   int
		table string
	}{{1, "ob"}, {2, "ob"}, {1, "obw"}, {2, "obw"}} { // obw: a WATERMARK chained into the source subtasks
		par := run.par
		dir := t.TempDir()
		s := exchangeSession(t, par)
		execScript(t, s, strings.NewReplacer("ADDR", addr, "DIR", dir).Replace(concurrentSinkTables)+
			"CREATE TABLE fs3 (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'filesystem', 'path' = '"+filepath.Join(dir, "fs3")+"', 'format' = 'csv', 'sink.parallelism' = '3');\n")
		built, own := concurrentSinksBuilt.Load(), sinkOwnSubtasksBuilt.Load()
		j := startInsert(t, s, `INSERT INTO fs3 SELECT id, user_id, amount * 2 FROM `+run.table+` WHERE amount < 5`)
		if err := j.Wait(context.Background()); err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
		if c, o := concurrentSinksBuilt.Load()-built, sinkOwnSubtasksBuilt.Load()-own; c != 1 || o != 3 {
			t.Fatalf("parallelism %d: %d concurrent sinks, %d sink subtasks built, want 1 and 3", par, c, o)
		}
		lines, subs, hidden := sinkFiles(t, filepath.Join(dir, "fs3"))
		if len(hidden) > 0 || len(subs) != 3 || !subs["0"] || !subs["1"] || !subs["2"] {
			t.Fatalf("parallelism %d: files of subtasks %v, hidden %v; want subtasks 0, 1, 2", par, subs, hidden)
		}
		if !slices.Equal(lines, want) {
			t.Fatalf("parallelism %d: %d lines, want %d\ngot:  %.300v\nwant: %.300v", par, len(lines), len(want), lines, want)
		}
		if out := j.Metrics().RowsOut; out != int64(len(want)) {
			t.Fatalf("parallelism %d: rows out %d, want %d", par, out, len(want))
		}
	}
}
