package engine

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/exec"
)

// A keyless batch GROUP BY reads its stage's input as columns (batch_input_vec.go, exec groupagg_batch.go)
// and gives the totals the keyed path (sort, columns since batchsortcols) gives: the totals of per-auction totals, with a FILTER,
// NULLs from a CASE and an AVG, at parallelism 1 and 2.
func TestBatchKeylessAggregateColumns(t *testing.T) {
	ddl := `CREATE TABLE nx (event_type INT,
  person ROW<id BIGINT, name STRING, emailAddress STRING, creditCard STRING, city STRING, state STRING, dateTime TIMESTAMP(3), extra STRING>,
  auction ROW<id BIGINT, itemName STRING, description STRING, initialBid BIGINT, reserve BIGINT, dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra STRING>,
  bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, dateTime TIMESTAMP(3), extra STRING>) WITH ('connector' = 'nexmark', 'events.num' = '30000',
  'num-event-generators' = '2', 'seed' = '7', 'base-time' = '1436918400000');
CREATE VIEW b AS SELECT bid.auction AS auction, bid.price AS price, CASE WHEN bid.price > 5000 THEN bid.bidder END AS big FROM nx WHERE event_type = 2;
`
	keyless := ddl + `SELECT COUNT(*), SUM(price), MIN(price), MAX(price), COUNT(big), SUM(big), COUNT(*) FILTER (WHERE price < 1000), AVG(price) FROM b;`
	keyed := ddl + `SELECT SUM(c), SUM(s), MIN(mn), MAX(mx), SUM(cb), SUM(sb), SUM(f), SUM(s) / SUM(c) FROM (
  SELECT auction, COUNT(*) AS c, SUM(price) AS s, MIN(price) AS mn, MAX(price) AS mx, COUNT(big) AS cb, SUM(big) AS sb,
    COUNT(*) FILTER (WHERE price < 1000) AS f FROM b GROUP BY auction);`
	for _, p := range []string{"1", "2"} {
		opts := map[string]string{"parallelism.default": p}
		want, notice, _, err := queryRun(t, keyed, opts)
		if err != nil || len(want) != 1 {
			t.Fatalf("keyed: %v %q\n%s", err, want, notice)
		}
		before := exec.GroupAggBatchColumnBatches()
		got, notice, _, err := queryRun(t, keyless, opts)
		if err != nil {
			t.Fatalf("keyless: %v\n%s", err, notice)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("parallelism %s: the keyless aggregate gave %q, the totals of the keyed one %q", p, got, want)
		}
		if exec.GroupAggBatchColumnBatches() == before {
			t.Fatalf("parallelism %s: the keyless aggregate took no columnar batch", p)
		}
	}
}

// A keyed batch GROUP BY runs on columns: its sort emits columnar batches (exec sort_vec.go) and the aggregate
// takes them, giving the rows the sort's row output gives (batchSortRows). q17- and q15-shaped queries (GROUP BY
// auction and day with FILTERs, MIN/MAX/AVG/SUM; COUNT(DISTINCT) by day and channel; a DECIMAL key), at
// parallelism 1 and 2, with the sort in memory and spilling (a 1 mb sort memory).
func TestBatchKeyedAggregateColumns(t *testing.T) {
	ddl := `CREATE TABLE nx (event_type INT,
  person ROW<id BIGINT, name STRING, emailAddress STRING, creditCard STRING, city STRING, state STRING, dateTime TIMESTAMP(3), extra STRING>,
  auction ROW<id BIGINT, itemName STRING, description STRING, initialBid BIGINT, reserve BIGINT, dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra STRING>,
  bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, dateTime TIMESTAMP(3), extra STRING>) WITH ('connector' = 'nexmark', 'events.num' = '30000',
  'num-event-generators' = '2', 'seed' = '7', 'base-time' = '1436918400000');
CREATE VIEW b AS SELECT bid.auction AS auction, bid.bidder AS bidder, bid.price AS price, bid.channel AS channel,
  DATE_FORMAT(bid.dateTime, 'yyyy-MM-dd HH') AS d, CAST(bid.price AS DECIMAL(10, 2)) / 7 AS dp FROM nx WHERE event_type = 2;
`
	queries := []string{
		`SELECT auction, d, COUNT(*), COUNT(*) FILTER (WHERE price < 10000), COUNT(*) FILTER (WHERE price >= 1000000),
  MIN(price), MAX(price), AVG(price), SUM(price), SUM(dp) FROM b GROUP BY auction, d;`,
		`SELECT d, channel, COUNT(*), COUNT(DISTINCT bidder), COUNT(DISTINCT bidder) FILTER (WHERE price < 10000),
  COUNT(DISTINCT auction), MAX(dp) FROM b GROUP BY d, channel;`,
		`SELECT dp, COUNT(*), MIN(channel), SUM(bidder) FROM b GROUP BY dp;`,
	}
	run := func(q string, opts map[string]string, rows bool) []string {
		t.Helper()
		batchSortRows = rows
		defer func() { batchSortRows = false }()
		got, notice, _, err := queryRun(t, ddl+q, opts)
		if err != nil {
			t.Fatalf("%v\n%s", err, notice)
		}
		slices.Sort(got) // at parallelism 2 the tasks' rows interleave
		return got
	}
	for _, p := range []string{"1", "2"} {
		for _, mem := range []string{"128 mb", "1 mb"} {
			opts := map[string]string{"parallelism.default": p, "table.exec.resource.sort.memory": mem}
			for _, q := range queries {
				want := run(q, opts, true)
				sorts, aggs, spills := exec.SortColumnBatches(), exec.GroupAggBatchColumnBatches(), exec.SortRunsSpilled()
				got := run(q, opts, false)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("parallelism %s, sort memory %s: %s\ncolumns gave %d rows\n%s\nrows gave %d\n%s", p, mem, q, len(got),
						strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
				}
				if len(want) < 20 || exec.SortColumnBatches() == sorts || exec.GroupAggBatchColumnBatches() == aggs {
					t.Fatalf("parallelism %s, sort memory %s: %s: %d rows, the sort emitted %d columnar batches, the aggregate took %d", p, mem, q,
						len(want), exec.SortColumnBatches()-sorts, exec.GroupAggBatchColumnBatches()-aggs)
				}
				if mem == "1 mb" && exec.SortRunsSpilled() == spills {
					t.Fatalf("parallelism %s: %s: the sort did not spill with 1 mb", p, q)
				}
			}
		}
	}
}
