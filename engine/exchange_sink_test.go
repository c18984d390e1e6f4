package engine

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/sql"
)

// exchangeSinkTables are upsert-kafka and kafka sinks for the keyed-sink tests; SUFFIX makes one set of
// output topics per parallelism.
const exchangeSinkTables = `
CREATE TABLE agg_SUFFIX (seller BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (seller) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'agg_SUFFIX', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE jn_SUFFIX (id BIGINT, price BIGINT, city STRING, PRIMARY KEY (id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'jn_SUFFIX', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE ins_SUFFIX (id BIGINT, user_id BIGINT, p_amount BIGINT) WITH ('connector' = 'kafka',
  'topic' = 'ins_SUFFIX', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json');
CREATE TABLE ob (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE obw (id BIGINT, user_id BIGINT, amount BIGINT, ts AS TO_TIMESTAMP_LTZ(id * 10 + (id % 37) * 20, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE win_SUFFIX (user_id BIGINT, ws TIMESTAMP(3), cnt BIGINT, total BIGINT, PRIMARY KEY (user_id, ws) NOT ENFORCED)
  WITH ('connector' = 'upsert-kafka', 'topic' = 'win_SUFFIX', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
SET 'table.optimizer.reuse-source-enabled' = 'false';
`

// TestExchangeSinkParallelismProperty writes keyed operators' changelogs (retractions included) over
// 4-partition inputs into upsert-kafka (GROUP BY, regular joins, a HOP window aggregate; and insert-only
// regular and interval joins into kafka) at parallelism 1 and 3: at 3 the keyed subtasks encode for the sink
// themselves (sinkEncodersBuilt), and the compacted outputs equal those at 1. The insert-only jobs' rows out
// equal the records in their topics and the expected count.
func TestExchangeSinkParallelismProperty(t *testing.T) {
	addr := exchangeBroker(t)
	rng := rand.New(rand.NewSource(31))
	cities := []string{"Berlin", "Paris", "Oslo", "Rome", "Lima"}
	produceChangelog(t, addr, "person", rng, 2000, 300, func(id int) map[string]any {
		return map[string]any{"id": id, "name": fmt.Sprintf("n%d", rng.Intn(50)), "city": cities[rng.Intn(len(cities))]}
	})
	produceChangelog(t, addr, "auction", rng, 4000, 700, func(id int) map[string]any {
		// an auction keeps its seller here: all changes of one id go to one keyed subtask of the join
		// (TestSinkMaterializeJoinParallelism changes sellers: the SinkUpsertMaterializer orders them)
		return map[string]any{"id": id, "seller": id % 350, "price": rng.Intn(100)}
	})
	produceExchangeOrders(t, addr, "ord", 0, 3000)
	jobs := []struct{ topic, insert string }{
		// directly from the keyed subtasks
		{"agg", `INSERT INTO agg_SUFFIX SELECT seller, COUNT(*), SUM(price) FROM auction WHERE seller IS NOT NULL GROUP BY seller`},
		// through a forward Calc (HAVING: deletes when a count drops)
		{"agg", `INSERT INTO agg_SUFFIX SELECT seller, COUNT(*), SUM(price) * 2 FROM auction WHERE seller IS NOT NULL GROUP BY seller HAVING COUNT(*) > 1`},
		{"jn", `INSERT INTO jn_SUFFIX SELECT a.id, a.price, p.city FROM auction a JOIN person p ON a.seller = p.id`},
		{"jn", `INSERT INTO jn_SUFFIX SELECT a.id, a.price, UPPER(p.city) FROM auction a LEFT JOIN person p ON a.seller = p.id WHERE a.price > 20`},
		{"ins", `INSERT INTO ins_SUFFIX SELECT o.id, o.user_id, q.amount FROM ob o JOIN (SELECT id, amount FROM ob WHERE amount < 5) q ON o.id = q.id + 1000`},
		// a window aggregate (slices) and an interval join feeding the sink
		{"win", `INSERT INTO win_SUFFIX SELECT user_id, window_start, COUNT(*), SUM(amount) FROM TABLE(HOP(TABLE obw, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND)) GROUP BY user_id, window_start, window_end`},
		{"ins", `INSERT INTO ins_SUFFIX SELECT o.id, o.user_id, q.amount FROM obw o JOIN (SELECT id, amount, ts FROM obw WHERE amount < 5) q ON o.id = q.id + 1000 AND q.ts BETWEEN o.ts - INTERVAL '20' SECOND AND o.ts`},
	}
	for qi, jb := range jobs {
		var want map[string]string
		for _, par := range []int{1, 3} {
			suffix := fmt.Sprintf("q%dp%d", qi, par)
			s := exchangeSession(t, par)
			execScript(t, s, strings.ReplaceAll(strings.ReplaceAll(exchangeTables+exchangeSinkTables, "ADDR", addr), "SUFFIX", suffix))
			built := sinkEncodersBuilt.Load()
			st, err := sql.ParseStatement(strings.ReplaceAll(jb.insert, "SUFFIX", suffix))
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Execute(context.Background(), st)
			if err != nil {
				t.Fatalf("%s at parallelism %d: %v", jb.insert, par, err)
			}
			if err := res.Job.Wait(context.Background()); err != nil {
				t.Fatalf("%s at parallelism %d: %v", jb.insert, par, err)
			}
			if n := sinkEncodersBuilt.Load() - built; (par > 1) != (n == 1) {
				t.Fatalf("%s at parallelism %d: %d keyed sink encoders built", jb.insert, par, n)
			}
			topic := jb.topic + "_" + suffix
			if jb.topic == "ins" {
				n := topicRecords(t, addr, topic)
				if out := res.Job.Metrics().RowsOut; out != n || n != 1430 {
					t.Fatalf("%s at parallelism %d: rows out %d, %d records in %s, want 1430", jb.insert, par, out, n, topic)
				}
				continue
			}
			got := upsertTable(t, addr, topic)
			if par == 1 {
				want = got
				if len(want) < 50 {
					t.Fatalf("%s: too few rows to compare: %d", jb.insert, len(want))
				}
				continue
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: parallelism %d differs from parallelism 1\ngot:  %.800v\nwant: %.800v", jb.insert, par, got, want)
			}
		}
	}
}

// topicRecords returns the number of records in topic (the sum of its partitions' end offsets).
func topicRecords(t *testing.T, addr, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadmEnds(ctx, cl, topic)
	if err != nil {
		t.Fatalf("%s: %v", topic, err)
	}
	var n int64
	for _, e := range ends {
		n += e
	}
	return n
}
