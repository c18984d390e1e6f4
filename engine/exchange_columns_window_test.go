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

// Columnar batches into slice-shared window aggregates and regular joins: at parallelism 1 the columnar
// chain reaches the operator as columns, and at 2 and 4 the source subtasks gather each keyed subtask's rows
// into column batches (exec.ExchangeSender.PushColumns) that the operator takes as columns; the results are
// the same at every parallelism.

// columnsResults runs q over tables at parallelism 1, 2 and 4 and fails unless the materialized results
// agree, and unless at every parallelism the operator took columnar batches (taken moves) and at 2 and 4 an
// exchange was built (unless global: the operator runs as one subtask, without one).
func columnsResults(t *testing.T, tables, q string, taken func() int64, global ...bool) {
	t.Helper()
	columnsResultsAs(t, tables, q, taken, nil, global...)
}

// columnsResultsAs is columnsResults comparing canon(result) (sorted lines) when canon is not nil: a
// result that depends on arrival order across subtasks (ties) in a way Flink leaves open compares in the
// form canon makes the same for every allowed order.
func columnsResultsAs(t *testing.T, tables, q string, taken func() int64, canon func(string) string, global ...bool) {
	t.Helper()
	var want string
	for _, par := range []int{1, 2, 4} {
		built, cols := exchangesBuilt.Load(), taken()
		got, _ := reuseResult(t, tables, q, par)
		if canon != nil {
			got = canon(got)
		}
		if taken() == cols {
			t.Fatalf("%s at parallelism %d: no columnar batch reached the operator", q, par)
		}
		if n := exchangesBuilt.Load() - built; len(global) == 0 && (par > 1) != (n >= 1) {
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

// TestExchangeColumnsWindowNexmark: TUMBLE, HOP and CUMULATE window aggregates over the nexmark source,
// compact slices (integer keys) and object slices (a string key, a string MAX, VAR_POP).
func TestExchangeColumnsWindowNexmark(t *testing.T) {
	queries := []string{
		`SELECT auction, COUNT(*) AS n, window_start, window_end
FROM TABLE(HOP(TABLE bid, DESCRIPTOR({dt}), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end`,
		`SELECT bidder, COUNT(*) AS n, MAX(price) AS hi, SUM(price) AS total, window_end
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR({dt}), INTERVAL '10' SECOND)) GROUP BY bidder, window_start, window_end`,
		`SELECT auction % 7 AS a, MIN(price) AS lo, AVG(price) AS av, window_start, window_end
FROM TABLE(CUMULATE(TABLE bid, DESCRIPTOR({dt}), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY auction % 7, window_start, window_end`,
		`SELECT city, COUNT(*) AS n, MAX(name) AS m, VAR_POP(id) AS v, window_end
FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR({dt}), INTERVAL '10' SECOND)) GROUP BY city, window_start, window_end`,
	}
	for _, q := range queries {
		columnsResults(t, nexmarkReuseTables, q, exec.WindowColumnBatches)
	}
}

// TestExchangeColumnsWindowKafkaJSON: window aggregates by a string key (NULLs included) and an integer key
// over a 4-partition Kafka topic decoded from JSON into columns.
func TestExchangeColumnsWindowKafkaJSON(t *testing.T) {
	tables := windowClicks(t)
	queries := []string{
		"SELECT `user`, COUNT(*), SUM(amount), MAX(id), window_start FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY `user`, window_start, window_end",
		"SELECT amount, COUNT(*), MIN(`user`), window_end FROM TABLE(HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '3' SECOND)) GROUP BY amount, window_start, window_end",
	}
	for _, q := range queries {
		columnsResults(t, tables, q, exec.WindowColumnBatches)
	}
}

// windowClicks produces a 4-partition topic of JSON clicks with an event time and returns its DDL.
func windowClicks(t *testing.T) string {
	t.Helper()
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
		ts := time.UnixMilli(1436918400000 + int64(i)*7).UTC().Format("2006-01-02 15:04:05.000")
		recs = append(recs, &kgo.Record{Topic: "wclicks", Partition: int32(i % 4),
			Value: []byte(fmt.Sprintf(`{"id":%d,"user":%s,"amount":%d,"ts":"%s"}`, i, user, i%7, ts))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(`CREATE TABLE clicks (id BIGINT, `+"`user`"+` STRING, amount BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'wclicks', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');`, "ADDR", addr)
}

// TestExchangeColumnsJoinNexmark: regular joins of insert-only nexmark streams (q20's bid ⋈ auction, a
// string key, an outer join, q7's bids against a window aggregate's rows) take their insert-only sides as
// columns.
func TestExchangeColumnsJoinNexmark(t *testing.T) {
	// q7's shape: the window aggregate has no key but the window's, so the join runs as one subtask
	columnsResults(t, nexmarkReuseTables, `SELECT B.auction, B.price, B.bidder FROM bid B JOIN (
  SELECT MAX(price) AS maxprice, window_end AS {dt} FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR({dt}), INTERVAL '0.1' SECOND))
  GROUP BY window_start, window_end) B1
ON B.price = B1.maxprice WHERE B.{dt} BETWEEN B1.{dt} - INTERVAL '0.1' SECOND AND B1.{dt}`, exec.JoinColumnBatches, true)
	queries := []string{
		`SELECT B.auction, B.bidder, B.price, A.seller, A.category FROM bid AS B JOIN auction AS A ON B.auction = A.id WHERE A.category = 10`,
		`SELECT P.name, P.city, A.id, A.initialBid FROM person AS P LEFT JOIN auction AS A ON P.id = A.seller AND A.initialBid > P.id`,
		`SELECT P.city, Q.name FROM person AS P JOIN person AS Q ON P.city = Q.city AND P.id = Q.id + 1`,
	}
	for _, q := range queries {
		columnsResults(t, nexmarkReuseTables, q, exec.JoinColumnBatches)
	}
}

// TestExchangeColumnsJoinKafkaJSON: a join of two Kafka JSON streams by a string key with NULLs and by an
// integer key.
func TestExchangeColumnsJoinKafkaJSON(t *testing.T) {
	tables := windowClicks(t)
	queries := []string{
		"SELECT a.id, b.id, a.`user` FROM clicks a JOIN clicks b ON a.`user` = b.`user` AND a.id = b.id + 53",
		"SELECT a.id, b.`user` FROM clicks a LEFT JOIN clicks b ON a.amount = b.amount AND b.id = a.id - 7 WHERE a.id % 5 = 0",
	}
	for _, q := range queries {
		columnsResults(t, tables, q, exec.JoinColumnBatches)
	}
}
