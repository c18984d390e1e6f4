package engine

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/sql"
)

// reuseQueries read one table in several branches (source reuse): self-joins of a reused scan into one
// exchange (q3, q9/q20 shapes), a window aggregate joined with its own input by an interval join (q7's shape:
// one branch exchanged, one through the graph lock), a window join of two windowed branches, and a union of
// two branches into a GROUP BY.
var reuseQueries = []string{
	`SELECT p.id, p.name, q.name FROM person p JOIN person q ON p.id = q.id + 1 WHERE p.city <> 'Oslo'`,
	`SELECT p.city, q.id FROM person p LEFT JOIN (SELECT id, city FROM person WHERE name < 'n3') q ON p.id = q.id + 7`,
	`SELECT a.id, a.price, b.id FROM auction a JOIN auction b ON a.seller = b.seller AND a.price > b.price`,
	`SELECT o.id, o.amount, m.maxa FROM ow o JOIN (SELECT MAX(amount) AS maxa, window_start, window_end FROM TABLE(TUMBLE(TABLE ow, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end) m
  ON o.amount = m.maxa WHERE o.ts >= m.window_start AND o.ts < m.window_end`,
	`SELECT o.id, o.user_id, q.amount FROM ow o JOIN (SELECT id, user_id, amount FROM ow WHERE amount < 5) q ON o.user_id = q.user_id AND o.id = q.id + 37`,
	`SELECT L.user_id, L.window_start, L.c, R.s FROM
  (SELECT user_id, window_start, window_end, COUNT(*) AS c FROM TABLE(TUMBLE(TABLE ow, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY user_id, window_start, window_end) L
  JOIN (SELECT user_id, window_start, window_end, SUM(amount) AS s FROM TABLE(TUMBLE(TABLE ow, DESCRIPTOR(ts), INTERVAL '1' SECOND)) WHERE amount > 2 GROUP BY user_id, window_start, window_end) R
  ON L.user_id = R.user_id AND L.window_start = R.window_start AND L.window_end = R.window_end`,
	`SELECT user_id, COUNT(*), SUM(amount) FROM (SELECT user_id, amount FROM ow WHERE amount < 3 UNION ALL SELECT user_id, id FROM ow WHERE amount > 4) GROUP BY user_id`,
}

// reuseResult runs q at parallelism par and returns its materialized result and how many reused scans ran as
// subtasks.
func reuseResult(t *testing.T, tables, q string, par int) (string, int64) {
	t.Helper()
	dt := strings.NewReplacer("{dt}", "`dateTime`") // nexmark's column, quoted
	tables, q = dt.Replace(tables), dt.Replace(q)
	s := exchangeSession(t, par)
	execScript(t, s, tables)
	built := reusedBuilt.Load()
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
	return sortedLines(m.Rows()), reusedBuilt.Load() - built
}

// TestReusedScanParallelismProperty runs queries reading a reused 4-partition Kafka scan at parallelism 1
// and 3 and compares the materialized results; at 3 the reused scan runs as source subtasks.
func TestReusedScanParallelismProperty(t *testing.T) {
	addr := exchangeBroker(t)
	rng := rand.New(rand.NewSource(17))
	cities := []string{"Berlin", "Paris", "Oslo", "Rome", "Lima"}
	produceChangelog(t, addr, "person", rng, 2000, 300, func(id int) map[string]any {
		return map[string]any{"id": id, "name": fmt.Sprintf("n%d", rng.Intn(50)), "city": cities[rng.Intn(len(cities))]}
	})
	produceChangelog(t, addr, "auction", rng, 1500, 400, func(id int) map[string]any {
		return map[string]any{"id": id, "seller": rng.Intn(60), "price": rng.Intn(100)}
	})
	produceExchangeOrders(t, addr, "ord", 0, 4000)
	tables := strings.ReplaceAll(exchangeTables, "ADDR", addr) + strings.ReplaceAll(`CREATE TABLE ow (id BIGINT, user_id BIGINT, amount BIGINT,
  ts AS TO_TIMESTAMP_LTZ(id * 10 + (id % 37) * 20, 3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka',
  'topic' = 'ord', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');`, "ADDR", addr)
	for _, q := range reuseQueries {
		want, n := reuseResult(t, tables, q, 1)
		if n != 0 {
			t.Fatalf("%s at parallelism 1: %d reused scans as subtasks", q, n)
		}
		if strings.Count(want, "\n") < 5 {
			t.Fatalf("%s: too few rows to compare:\n%s", q, want)
		}
		got, n := reuseResult(t, tables, q, 3)
		if n != 1 {
			t.Fatalf("%s at parallelism 3: %d reused scans as subtasks, want 1", q, n)
		}
		if got != want {
			t.Fatalf("%s: parallelism 3 differs from parallelism 1\ngot:\n%.3000s\nwant:\n%.3000s", q, got, want)
		}
	}
}

// nexmarkReuseTables is a nexmark source with a fixed number of event generators (the same events at any
// parallelism) and the benchmark's bid/person/auction views over it (abridged to the columns used); {dt} is
// the column `dateTime`.
const nexmarkReuseTables = `
CREATE TABLE datagen (event_type INT,
  person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR, {dt} TIMESTAMP(3), extra VARCHAR>,
  auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, {dt} TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,
  bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, {dt} TIMESTAMP(3), extra VARCHAR>,
  {dt} AS CASE WHEN event_type = 0 THEN person.{dt} WHEN event_type = 1 THEN auction.{dt} ELSE bid.{dt} END,
  WATERMARK FOR {dt} AS {dt} - INTERVAL '4' SECOND
) WITH ('connector' = 'nexmark', 'events.num' = '30000', 'num-event-generators' = '4', 'seed' = '7', 'base-time' = '1436918400000');
CREATE VIEW person AS SELECT person.id, person.name, person.city, person.state, {dt} FROM datagen WHERE event_type = 0;
CREATE VIEW auction AS SELECT auction.id, auction.seller, auction.category, auction.initialBid, {dt} FROM datagen WHERE event_type = 1;
CREATE VIEW bid AS SELECT bid.auction, bid.bidder, bid.price, {dt} FROM datagen WHERE event_type = 2;
`

// nexmarkReuseQueries are Nexmark q3, q20 (abridged to a few columns) and q7 (windows of 100 ms: the events
// span 3 s) over the views of one nexmark
// table: each reads it once through source reuse.
var nexmarkReuseQueries = []string{
	`SELECT P.name, P.city, P.state, A.id FROM auction AS A INNER JOIN person AS P on A.seller = P.id WHERE A.category = 10 and (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')`,
	`SELECT auction, bidder, price, A.category FROM bid AS B INNER JOIN auction AS A on B.auction = A.id WHERE A.category = 10`,
	`SELECT B.auction, B.price, B.bidder, B.{dt} FROM bid B JOIN (
  SELECT MAX(price) AS maxprice, window_end as {dt} FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR({dt}), INTERVAL '0.1' SECOND)) GROUP BY window_start, window_end
) B1 ON B.price = B1.maxprice WHERE B.{dt} BETWEEN B1.{dt} - INTERVAL '0.1' SECOND AND B1.{dt}`,
}

// TestReusedNexmarkParallelismProperty runs q3, q20 and q7 over the views of one nexmark table at parallelism
// 1 and 3: equal results, and at 3 the shared source runs as subtasks.
func TestReusedNexmarkParallelismProperty(t *testing.T) {
	for _, q := range nexmarkReuseQueries {
		want, n := reuseResult(t, nexmarkReuseTables, q, 1)
		if n != 0 {
			t.Fatalf("%s at parallelism 1: %d reused scans as subtasks", q, n)
		}
		if strings.Count(want, "\n") < 5 {
			t.Fatalf("%s: too few rows to compare:\n%s", q, want)
		}
		got, n := reuseResult(t, nexmarkReuseTables, q, 3)
		if n != 1 {
			t.Fatalf("%s at parallelism 3: %d reused scans as subtasks, want 1", q, n)
		}
		if got != want {
			t.Fatalf("%s: parallelism 3 differs from parallelism 1\ngot:\n%.3000s\nwant:\n%.3000s", q, got, want)
		}
	}
}

// TestReusedScanRescaleSavepoint runs a self-join of a reused scan (a LEFT JOIN with retractions, behind one
// exchange fed by both branches of every subtask) at parallelism 2, stops it with a savepoint, restores at 3,
// then at 1, with more input each time: the output is exact.
func TestReusedScanRescaleSavepoint(t *testing.T) {
	dir := t.TempDir()
	addr := exchangeBroker(t)
	tables := strings.ReplaceAll(strings.Replace(exchangeJobTables, "SET 'table.optimizer.reuse-source-enabled' = 'false';", "", 1), "ADDR", addr)
	insert := `INSERT INTO joined SELECT o.id, o.user_id, q.amount FROM o LEFT JOIN (SELECT id, amount FROM o WHERE amount < 5) q ON o.id = q.id + 1500`
	n := 0
	savepoint := ""
	for _, par := range []int{2, 3, 1} {
		produceExchangeOrders(t, addr, "ord", n, 1500)
		n += 1500
		s := exchangeSession(t, par)
		script := tables
		if savepoint != "" {
			script += fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", savepoint)
		}
		execScript(t, s, script)
		built, reused, mats := exchangesBuilt.Load(), reusedBuilt.Load(), sinkMaterializersBuilt.Load()
		st, err := sql.ParseStatement(insert)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Execute(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		// the join's exchange, and the SinkUpsertMaterializer's (the join's changes are not keyed by id)
		if x, r, m := exchangesBuilt.Load()-built, reusedBuilt.Load()-reused, sinkMaterializersBuilt.Load()-mats; (par > 1) != (x == 2 && r == 1 && m == 1) {
			t.Fatalf("parallelism %d: %d exchanges, %d reused scans as subtasks, %d sink materializers built", par, x, r, m)
		}
		if got := res.Job.SourceSubtasks()["o"]; par > 1 && got != par {
			t.Fatalf("parallelism %d: source o runs as %d subtasks", par, got)
		}
		waitUpsert(t, addr, "joined", joinedWant(n))
		// at parallelism 3 with --drain: the maximum watermark goes through the exchange first
		if savepoint, err = res.Job.Stop(context.Background(), dir, par == 3); err != nil {
			t.Fatalf("parallelism %d: stop: %v", par, err)
		}
		if err := res.Job.Wait(context.Background()); err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
	}
}
