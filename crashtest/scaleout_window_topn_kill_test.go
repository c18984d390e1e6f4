package crashtest

import (
	"fmt"
	"slices"
	"testing"
)

// A scale-out window Top-N (engine/scaleout_window_topn.go) run by three sql-client processes over the interval
// join test's bids (scaleout_interval_test.go: 8 partitions, one bid a second in each): the two highest bids
// per auction and 10 s tumbling window.

// windowTopNWant is the Top-2's rows ("auction/price") of the first n seconds of bids: the windows [w, w+10)
// that the final watermark, the bids' (n-1 s + 500 ms) - 1 s, has passed (w+10 <= n-2). An auction gets up to
// 13 bids from each of two partitions over one or two windows, so most groups hold more rows than they keep:
// a group whose earlier rows a restore lost ranks later ones in their place.
func windowTopNWant(n int) map[string]int {
	prices := map[[2]int][]int{}
	for s := range n {
		if w := s / 10 * 10; w+10 <= n-2 {
			for bp := range ivBidParts {
				a, price, _ := ivBidOf(s, bp)
				prices[[2]int{w, a}] = append(prices[[2]int{w, a}], price)
			}
		}
	}
	want := map[string]int{}
	for k, ps := range prices {
		slices.Sort(ps)
		slices.Reverse(ps)
		for _, p := range ps[:min(2, len(ps))] {
			want[fmt.Sprintf("%d/%d", k[1], p)]++
		}
	}
	return want
}

// TestScaleOutWindowTopNKill: three processes run a window Top-2 over bids fed during the run (the watermark,
// the minimum over the 8 source partitions, crosses the processes through the repartition topic); one is
// killed with SIGKILL. The survivors restore its partitions' open windows' kept rows and the source
// watermarks from the rank changelog, and read_committed the sink holds the true Top-2 of every window the
// final watermark closed, each row once: none lost, none duplicated, none wrong.
func TestScaleOutWindowTopNKill(t *testing.T) {
	addr := auctionBidsBroker(t)
	dir := t.TempDir()
	f := feedIntervalJoin(t, addr)
	sql := script(addr,
		`SET 'sluice.scale-out.enabled' = 'true';`,
		`SET 'pipeline.name' = 'wtopn-job';`,
		`SET 'sluice.scale-out.session-timeout' = '2 s';`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s';`,
		auctionBidsTables,
		`INSERT INTO joined SELECT auction, price FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, auction ORDER BY price DESC) AS rn
  FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))) WHERE rn <= 2;`)
	killMemberJoined(t, dir, addr, sql, f, joinKill{"joined", 60, windowTopNWant, intervalJoinDiff, ""})
}
