package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
)

// Columnar batches through the hash exchange (exec.ExchangeSender.PushColumns): the source subtasks of a
// columnar source (nexmark, Kafka JSON) gather each keyed subtask's rows into column batches, and a one-phase
// GROUP BY behind the exchange aggregates them as columns (exec.GroupAggColumnBatches moves at parallelism 2
// and 4; without the gather it got rows). The results are the same at parallelism 1, 2 and 4.

// exchangeColumnsResults runs q over tables at parallelism 1, 2 and 4 and fails unless the materialized
// results agree, and unless at 2 and 4 an exchange was built and its keyed subtasks took columnar batches.
func exchangeColumnsResults(t *testing.T, tables, q string) {
	t.Helper()
	var want string
	for _, par := range []int{1, 2, 4} {
		built, cols := exchangesBuilt.Load(), exec.GroupAggColumnBatches()
		got, _ := reuseResult(t, tables, q, par)
		if exec.GroupAggColumnBatches() == cols {
			t.Fatalf("%s at parallelism %d: no columnar batch reached the group aggregate", q, par)
		}
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
			t.Fatalf("%s: parallelism %d differs from parallelism 1\ngot:\n%.3000s\nwant:\n%.3000s", q, par, got, want)
		}
	}
}

// TestExchangeColumnsNexmark: Nexmark GROUP BY shapes (q15, q17 and a string MAX with a DOUBLE sum) over the
// columnar nexmark source.
func TestExchangeColumnsNexmark(t *testing.T) {
	queries := []string{
		`SELECT DATE_FORMAT({dt}, 'yyyy-MM-dd HH:mm:ss') AS m, auction % 4 AS a, COUNT(*) AS n,
  COUNT(*) FILTER (WHERE price < 10000) AS cheap, COUNT(DISTINCT bidder) AS bidders,
  COUNT(DISTINCT bidder) FILTER (WHERE price >= 10000) AS rich, COUNT(DISTINCT auction) AS auctions
FROM bid GROUP BY DATE_FORMAT({dt}, 'yyyy-MM-dd HH:mm:ss'), auction % 4`,
		`SELECT auction, COUNT(*) AS n, COUNT(*) FILTER (WHERE price < 1000) AS low, MIN(price) AS lo, MAX(price) AS hi,
  AVG(price) AS av, SUM(price) AS total FROM bid GROUP BY auction`,
		`SELECT bidder % 11 AS b, MAX(CAST(price AS VARCHAR)) AS m, SUM(CAST(price AS DOUBLE) / 4) AS s, COUNT(DISTINCT auction) AS a
FROM bid GROUP BY bidder % 11`,
	}
	for _, q := range queries {
		exchangeColumnsResults(t, nexmarkReuseTables, q)
	}
}

// TestExchangeColumnsKafkaJSON: GROUP BYs by a string key, an integer key and a computed key over a
// 4-partition Kafka topic decoded from JSON into columns (NULLs included).
func TestExchangeColumnsKafkaJSON(t *testing.T) {
	addr := exchangeBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range 6000 {
		user := fmt.Sprintf(`"u%d"`, i%53)
		if i%29 == 0 {
			user = "null"
		}
		recs = append(recs, &kgo.Record{Topic: "clicks", Partition: int32(i % 4),
			Value: []byte(fmt.Sprintf(`{"id":%d,"user":%s,"amount":%d,"price":%d.25}`, i, user, i%7, i%13))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tables := strings.ReplaceAll(`CREATE TABLE clicks (id BIGINT, `+"`user`"+` STRING, amount BIGINT, price DOUBLE) WITH (
  'connector' = 'kafka', 'topic' = 'clicks', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');`, "ADDR", addr)
	queries := []string{
		"SELECT `user`, COUNT(*), SUM(amount), MAX(id), SUM(price) FROM clicks GROUP BY `user`",
		"SELECT amount, COUNT(DISTINCT `user`), MIN(id), AVG(price) FROM clicks WHERE id % 3 <> 1 GROUP BY amount",
		"SELECT id % 101 AS k, COUNT(*), MAX(`user`) FROM clicks GROUP BY id % 101",
	}
	for _, q := range queries {
		exchangeColumnsResults(t, tables, q)
	}
}
