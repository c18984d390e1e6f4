package crashtest

import (
	"fmt"
	"testing"
)

// A scale-out window join (engine/scaleout_window_join.go) run by three sql-client processes over the interval
// join test's feed (scaleout_interval_test.go): auctions (4 partitions) LEFT JOIN bids (8 partitions) in
// 10 s tumbling windows ON the auction id.

// windowJoinWant is the LEFT window join's rows ("auction/price", "auction/-" when NULL-padded) of the first n
// seconds: the windows [w, w+10) that the final watermark, the auctions' (n-1 s) - 1 s, has passed (w+10 <=
// n-2) give every bid of the window for an auction of the window, and the window's auctions without one.
func windowJoinWant(n int) map[string]int {
	want := map[string]int{}
	matched := map[int]bool{}
	fired := func(s int) bool { return s/10*10+10 <= n-2 }
	for s := range n {
		for bp := range ivBidParts {
			a, price, k := ivBidOf(s, bp)
			if s-k >= 0 && (s-k)/10 == s/10 && fired(s) {
				want[fmt.Sprintf("%d/%d", a, price)]++
				matched[a] = true
			}
		}
	}
	for s := range n {
		for p := range ivAuctionParts {
			if a := s*ivAuctionParts + p; !matched[a] && fired(s) {
				want[fmt.Sprintf("%d/-", a)]++
			}
		}
	}
	return want
}

// TestScaleOutWindowJoinKill: three processes run a LEFT tumbling window join over topics fed during the run
// (watermarks cross the processes through the repartition topic); one is killed with SIGKILL. The survivors
// restore its partitions' open windows and source watermarks from the join's changelog, and read_committed
// the sink holds every row of every window the final watermark closed exactly once: none lost, none
// duplicated, none wrong.
func TestScaleOutWindowJoinKill(t *testing.T) {
	addr := auctionBidsBroker(t)
	dir := t.TempDir()
	f := feedIntervalJoin(t, addr)
	sql := script(addr,
		`SET 'sluice.scale-out.enabled' = 'true';`,
		`SET 'pipeline.name' = 'wjoin-job';`,
		`SET 'sluice.scale-out.session-timeout' = '2 s';`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s';`,
		auctionBidsTables,
		`INSERT INTO joined SELECT a.id, b.price
  FROM (SELECT * FROM TABLE(TUMBLE(TABLE auctions, DESCRIPTOR(ts), INTERVAL '10' SECOND))) a
  LEFT JOIN (SELECT * FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))) b
  ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.id = b.auction;`)
	killMemberJoined(t, dir, addr, sql, f, joinKill{"joined", 100, windowJoinWant, intervalJoinDiff, "auction without a bid"})
}
