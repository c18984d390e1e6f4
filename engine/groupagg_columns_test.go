package engine

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/exec"
)

// TestGroupAggColumnarInput runs one-phase GROUP BYs over the columnar nexmark source: at parallelism 1 the
// aggregate takes the source chain's columnar batches (the counter moves), and its materialized result is the
// one of parallelism 2, where the aggregate runs behind a hash exchange. (TestGroupAggColumns in exec compares
// the changelogs of the columnar and the row input row for row.)
func TestGroupAggColumnarInput(t *testing.T) {
	tables := nexmarkReuseTables
	queries := []string{
		// q15's shape: COUNT(*) and COUNT(DISTINCT) with FILTER clauses (map groups)
		`SELECT DATE_FORMAT(` + "`dateTime`" + `, 'yyyy-MM-dd HH:mm:ss') AS m, auction % 4 AS a, COUNT(*) AS n,
  COUNT(*) FILTER (WHERE price < 10000) AS cheap, COUNT(DISTINCT bidder) AS bidders,
  COUNT(DISTINCT bidder) FILTER (WHERE price >= 10000) AS rich, COUNT(DISTINCT auction) AS auctions
FROM bid GROUP BY DATE_FORMAT(` + "`dateTime`" + `, 'yyyy-MM-dd HH:mm:ss'), auction % 4`,
		// q17's shape: integer keys, COUNT, SUM, MIN, MAX, AVG (compact groups)
		`SELECT auction, COUNT(*) AS n, COUNT(*) FILTER (WHERE price < 1000) AS low, MIN(price) AS lo, MAX(price) AS hi,
  AVG(price) AS av, SUM(price) AS total FROM bid GROUP BY auction`,
		// a string MAX (value by value) and a DOUBLE sum (of quarters: exact in any order)
		`SELECT bidder % 11 AS b, MAX(CAST(price AS VARCHAR)) AS m, SUM(CAST(price AS DOUBLE) / 4) AS s, COUNT(DISTINCT auction) AS a
FROM bid GROUP BY bidder % 11`,
	}
	for i, q := range queries {
		before := exec.GroupAggColumnBatches()
		got, _ := reuseResult(t, tables, q, 1)
		if exec.GroupAggColumnBatches() == before {
			t.Fatalf("query %d: no columnar batch reached the aggregate at parallelism 1", i)
		}
		if strings.Count(got, "\n") < 7 {
			t.Fatalf("query %d: too few rows to compare:\n%s", i, got)
		}
		want, _ := reuseResult(t, tables, q, 2)
		if got != want {
			t.Fatalf("query %d: parallelism 1 (columnar input) differs from parallelism 2\ngot:\n%.3000s\nwant:\n%.3000s", i, got, want)
		}
	}
}
