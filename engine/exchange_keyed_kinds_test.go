package engine

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
)

// keyedKindQueries have each kind of keyed operator other than GROUP BY and rank (window aggregates, interval
// and window joins, ChangelogNormalize, mini-batch GROUP BY, OVER, MATCH_RECOGNIZE) as the upstream keyed
// operator of a keyed → keyed exchange (exchange_keyed.go).
var keyedKindQueries = []string{
	// TUMBLE (slices) → GROUP BY
	`SELECT cnt, COUNT(*), SUM(total) FROM (SELECT user_id, window_start, COUNT(*) AS cnt, SUM(amount) AS total
	 FROM TABLE(TUMBLE(TABLE ow, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY user_id, window_start, window_end) GROUP BY cnt`,
	// HOP (slices shared by windows) → Calc → GROUP BY
	`SELECT b, COUNT(*) FROM (SELECT user_id, window_end, MAX(id) % 5 AS b
	 FROM TABLE(HOP(TABLE ow, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '3' SECOND)) GROUP BY user_id, window_start, window_end) GROUP BY b`,
	// interval join → GROUP BY (by another key than the join's)
	`SELECT a.user_id, COUNT(*), SUM(b.amount) FROM ow a JOIN ow2 b ON a.id = b.id + 3
	 AND b.ts BETWEEN a.ts - INTERVAL '1' SECOND AND a.ts + INTERVAL '1' SECOND GROUP BY a.user_id`,
	// ChangelogNormalize (upsert-kafka) → GROUP BY: updates and deletes cross the second exchange
	`SELECT v, COUNT(*), SUM(id) FROM up GROUP BY v`,
	// SESSION (running accumulators) → GROUP BY
	`SELECT cnt, COUNT(*) FROM (SELECT amount, window_start, COUNT(*) AS cnt
	 FROM TABLE(SESSION(TABLE ow PARTITION BY amount, DESCRIPTOR(ts), INTERVAL '0.1' SECOND))
	 GROUP BY amount, window_start, window_end) GROUP BY cnt`,
	// mini-batch GROUP BY → mini-batch GROUP BY (both exchanges ticked)
	miniBatchSettings + `SELECT total % 10, COUNT(*), SUM(cnt) FROM (SELECT user_id, amount, COUNT(*) AS cnt, SUM(id) AS total
	 FROM ow GROUP BY user_id, amount) GROUP BY total % 10`,
	// OVER → Calc → GROUP BY
	`SELECT s % 7, COUNT(*), MAX(id) FROM (SELECT id, SUM(amount) OVER (PARTITION BY user_id ORDER BY ts
	 ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s FROM ow) GROUP BY s % 7`,
	// MATCH_RECOGNIZE → GROUP BY
	`SELECT a_id % 9, COUNT(*), SUM(b_sum) FROM (SELECT * FROM ow MATCH_RECOGNIZE (PARTITION BY user_id ORDER BY ts
	 MEASURES A.id AS a_id, SUM(B.amount) AS b_sum ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW PATTERN (A B+ C)
	 DEFINE A AS A.amount = 1, B AS B.amount <> 1 AND B.amount <> 6, C AS C.amount = 6)) GROUP BY a_id % 9`,
	// window join → GROUP BY (by another key than the join's)
	`SELECT L.amount, COUNT(*), SUM(R.id) FROM (SELECT * FROM TABLE(TUMBLE(TABLE ow, DESCRIPTOR(ts), INTERVAL '1' SECOND))) L
	 JOIN (SELECT * FROM TABLE(TUMBLE(TABLE ow2, DESCRIPTOR(ts), INTERVAL '1' SECOND))) R
	 ON L.user_id = R.user_id AND L.window_start = R.window_start AND L.window_end = R.window_end GROUP BY L.amount`,
}

// TestKeyedExchangeUpstreamKinds runs keyedKindQueries at parallelism 1 and 3 over a 4-partition topic: at 3
// the upstream operator's keyed subtasks send into the next exchange (keyedExchangesBuilt), and the
// materialized results equal those at 1.
func TestKeyedExchangeUpstreamKinds(t *testing.T) {
	addr := exchangeBroker(t)
	produceExchangeOrders(t, addr, "ord", 0, 4000)
	rng := rand.New(rand.NewSource(23))
	var ops []upsertOp
	for range 3000 {
		ops = append(ops, upsertOp{id: rng.Intn(400), v: rng.Intn(15), del: rng.Intn(6) == 0})
	}
	produceUpserts(t, addr, "up", ops)
	tables := strings.ReplaceAll(`
CREATE TABLE up (id BIGINT, v BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka',
  'topic' = 'up', 'properties.bootstrap.servers' = 'ADDR', 'key.format' = 'json', 'value.format' = 'json',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE ow (id BIGINT, user_id BIGINT, amount BIGINT, ts AS TO_TIMESTAMP_LTZ(id * 10 + (id % 37) * 20, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE ow2 (id BIGINT, user_id BIGINT, amount BIGINT, ts AS TO_TIMESTAMP_LTZ(id * 10 + (id % 37) * 20, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
SET 'table.optimizer.reuse-source-enabled' = 'false';
`, "ADDR", addr)
	for _, q := range keyedKindQueries {
		var want string
		settings := ""
		if strings.HasPrefix(q, "SET") {
			settings, q = q[:strings.LastIndex(q, ";")+1], q[strings.LastIndex(q, ";")+2:]
		}
		for _, par := range []int{1, 3} {
			s := exchangeSession(t, par)
			execScript(t, s, tables+settings)
			built := keyedExchangesBuilt.Load()
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
			got := sortedLines(m.Rows())
			if n := keyedExchangesBuilt.Load() - built; (par > 1) != (n == 1) {
				t.Fatalf("%s at parallelism %d: %d keyed → keyed exchanges built", q, par, n)
			}
			if par == 1 {
				want = got
				if strings.Count(want, "\n") < 2 {
					t.Fatalf("%s: too few rows to compare:\n%s", q, want)
				}
				continue
			}
			if got != want {
				t.Fatalf("%s: parallelism %d differs from parallelism 1\ngot:\n%.2000s\nwant:\n%.2000s", q, par, got, want)
			}
		}
	}
}

// TestKeyedExchangeMiniBatchTicks: a mini-batch GROUP BY into a mini-batch GROUP BY, unbounded and without
// watermarks, at parallelism 3: the downstream exchange's last batch is applied by the mini-batch ticker,
// so both exchanges get its ticks (the downstream one is not the exchange built last).
func TestKeyedExchangeMiniBatchTicks(t *testing.T) {
	addr := exchangeBroker(t)
	const n = 1500
	produceExchangeOrders(t, addr, "ord", 0, n)
	j := startOpsJob(t, addr, 3, "", miniBatchSettings, `INSERT INTO totals SELECT cnt, COUNT(*), SUM(s)
  FROM (SELECT user_id, COUNT(*) AS cnt, SUM(amount) AS s FROM p GROUP BY user_id) GROUP BY cnt`)
	cnt, sum := map[int]int{}, map[int]int{}
	for i := range n {
		cnt[i%37]++
		sum[i%37] += i % 7
	}
	users, total := map[int]int{}, map[int]int{}
	for u, c := range cnt {
		users[c]++
		total[c] += sum[u]
	}
	want := map[string]string{}
	for c := range users {
		want[fmt.Sprintf(`{"user_id":%d}`, c)] = fmt.Sprintf(`{"user_id":%d,"cnt":%d,"total":%d}`, c, users[c], total[c])
	}
	waitUpsert(t, addr, "totals", want)
	j.Cancel()
	_ = j.Wait(context.Background())
}
