package engine

import (
	"testing"

	"github.com/sluicesql/sluice/exec"
)

// TestExchangeColumnsRankNexmark: streaming deduplications over the nexmark bids (q18's keep-last by event
// time over two integer keys, a keep-first by a string key over the persons, a keep-last with a second order column) and
// q19's Top-10 per auction take
// columns: at parallelism 1 from the columnar chain, at 2 and 4 gathered by the hash exchange; the results
// are the same at every parallelism (columnsResults fails when no columnar batch reached the rank, as when
// the senders send rows).
func TestExchangeColumnsRankNexmark(t *testing.T) {
	queries := []string{
		`SELECT auction, bidder, price, {dt} FROM (SELECT *, ROW_NUMBER() OVER
  (PARTITION BY bidder, auction ORDER BY {dt} DESC) AS rank_number FROM bid) WHERE rank_number <= 1`,
		`SELECT city, id, name, state, {dt} FROM (SELECT *, ROW_NUMBER() OVER
  (PARTITION BY city ORDER BY {dt} ASC, id ASC) AS rn FROM person) WHERE rn = 1`,
		`SELECT auction, price, bidder, rn FROM (SELECT auction, price, bidder, ROW_NUMBER() OVER
  (PARTITION BY auction ORDER BY price DESC, {dt} ASC) AS rn FROM bid WHERE auction % 3 = 0) WHERE rn = 1`,
		`SELECT auction, bidder, price, rank_number FROM (SELECT *, ROW_NUMBER() OVER
  (PARTITION BY auction ORDER BY price DESC) AS rank_number FROM bid) WHERE rank_number <= 10`,
	}
	for _, q := range queries {
		columnsResults(t, nexmarkReuseTables, q, exec.RankColumnBatches)
	}
}
