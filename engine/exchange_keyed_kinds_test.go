package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
)

// keyedKindQueries have a window aggregate or an interval join as the upstream keyed operator of a keyed →
// keyed exchange (exchange_keyed.go), and as the keyed operator feeding upsert-kafka.
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
}

// TestKeyedExchangeUpstreamKinds runs keyedKindQueries at parallelism 1 and 3 over a 4-partition topic: at 3
// the upstream operator's keyed subtasks send into the next exchange (keyedExchangesBuilt), and the
// materialized results equal those at 1.
func TestKeyedExchangeUpstreamKinds(t *testing.T) {
	addr := exchangeBroker(t)
	produceExchangeOrders(t, addr, "ord", 0, 4000)
	tables := strings.ReplaceAll(`
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
		for _, par := range []int{1, 3} {
			s := exchangeSession(t, par)
			execScript(t, s, tables)
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
