package engine

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/exec"
)

// A keyless batch GROUP BY reads its stage's input as columns (batch_input_vec.go, exec groupagg_batch.go)
// and gives the totals the keyed path (sort, rows) gives: the totals of per-auction totals, with a FILTER,
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
