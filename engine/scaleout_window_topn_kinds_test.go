package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Scale-out window Top-N with RANK and DENSE_RANK (ties) and window deduplication (first and last row of a
// window), run by two in-process members and by a P=1 job of the same query over the interval join tests'
// bids (4 partitions), per 10 s window and group of auctions (auction % 7: about five bids a group).

// windowRankKind is one query of the test: its ranking function and ORDER BY, its limit, and how the
// expected rank of a bid among its group (the bids of its window and auction group) is computed.
type windowRankKind struct {
	name, over string
	limit      int
	rank       func(b ivBid, group []ivBid) int
}

// bidClass is the value the RANK and DENSE_RANK queries order by: MOD(price, 3), so that a group's bids tie.
func bidClass(b ivBid) int { return b.price % 3 }

var windowRankKinds = []windowRankKind{
	{"RANK", "RANK() OVER (PARTITION BY window_start, window_end, grp ORDER BY cls DESC)", 2, func(b ivBid, g []ivBid) int {
		r := 1
		for _, o := range g {
			if bidClass(o) > bidClass(b) {
				r++
			}
		}
		return r
	}},
	{"DENSE_RANK", "DENSE_RANK() OVER (PARTITION BY window_start, window_end, grp ORDER BY cls DESC)", 2, func(b ivBid, g []ivBid) int {
		higher := map[int]bool{}
		for _, o := range g {
			if bidClass(o) > bidClass(b) {
				higher[bidClass(o)] = true
			}
		}
		return 1 + len(higher)
	}},
	// Window deduplication: no two bids of an auction group share a second (bidsTo: a second's bids name
	// auctions 1 to 3 apart), so first and last are unique.
	{"DEDUP_FIRST", "ROW_NUMBER() OVER (PARTITION BY window_start, window_end, grp ORDER BY ts ASC)", 1, func(b ivBid, g []ivBid) int {
		r := 1
		for _, o := range g {
			if o.sec < b.sec {
				r++
			}
		}
		return r
	}},
	{"DEDUP_LAST", "ROW_NUMBER() OVER (PARTITION BY window_start, window_end, grp ORDER BY ts DESC)", 1, func(b ivBid, g []ivBid) int {
		r := 1
		for _, o := range g {
			if o.sec > b.sec {
				r++
			}
		}
		return r
	}},
}

// insert is the kind's INSERT into topic: the row "auction/price*10+rank" (readJoined) of every kept bid.
func (k windowRankKind) insert(topic string) string {
	return fmt.Sprintf(`INSERT INTO %s SELECT auction, rn, price * 10 + rn FROM (
  SELECT *, %s AS rn FROM (
    SELECT auction, MOD(auction, 7) AS grp, price, MOD(price, 3) AS cls, ts, window_start, window_end
    FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)))) WHERE rn <= %d`, topic, k.over, k.limit)
}

// want is the kind's rows of the windows that fired at watermark wm (seconds), and how many of them share
// their rank with another row of their group (ties) and how many bids of the fired windows were dropped.
func (k windowRankKind) want(d *ivData, wm int) (out []string, ties, dropped int) {
	groups := map[[2]int][]ivBid{}
	for _, b := range d.bids {
		if w := b.sec / 10 * 10; w+10 <= wm {
			groups[[2]int{w, b.auction % 7}] = append(groups[[2]int{w, b.auction % 7}], b)
		}
	}
	for _, g := range groups {
		ranks := map[int]int{}
		for _, b := range g {
			ranks[k.rank(b, g)]++
		}
		for _, b := range g {
			r := k.rank(b, g)
			if r > k.limit {
				dropped++
				continue
			}
			if ranks[r] > 1 {
				ties++
			}
			out = append(out, fmt.Sprintf("%d/%d", b.auction, b.price*10+r))
		}
	}
	slices.Sort(out)
	return out, ties, dropped
}

// TestScaleOutWindowRankKindsInProcess: RANK and DENSE_RANK Top-2 (with ties) and window deduplication
// (first and last row) run by two scale-out members and by a P=1 job: with bid partition 3 lagging (it holds
// the windows back) and after it caught up, both jobs give exactly the expected rows, ranks included, each
// once, and both members rank rows.
func TestScaleOutWindowRankKindsInProcess(t *testing.T) {
	for _, k := range windowRankKinds {
		t.Run(k.name, func(t *testing.T) {
			addr := intervalCluster(t)
			d := &ivData{}
			var recs = d.bidsTo(3, 0, 20)
			for p := range 3 {
				recs = append(recs, d.bidsTo(p, 0, 60)...)
			}
			produceRecords(t, addr, recs)
			member := strings.ReplaceAll(strings.Join([]string{
				`SET 'sluice.scale-out.enabled' = 'true'`,
				`SET 'pipeline.name' = 'wrank-job'`,
				`SET 'sluice.scale-out.session-timeout' = '2 s'`,
				`SET 'sluice.scale-out.transaction-timeout' = '3 s'`,
				auctionsBidsDDL, joinedDDL("joined"), k.insert("joined")}, ";\n")+";\n", "ADDR", addr)
			single := strings.ReplaceAll(strings.Join([]string{auctionsBidsDDL, joinedDDL("joined1"), k.insert("joined1")}, ";\n")+";\n", "ADDR", addr)
			a, aOut := startTestMember(t, member)
			b, bOut := startTestMember(t, member)
			startTestMember(t, single)
			want, _, _ := k.want(d, 18)
			checkWindowJoin(t, addr, "partition 3 lags", want, aOut, bOut)
			produceRecords(t, addr, d.bidsTo(3, 20, 60))
			want, ties, dropped := k.want(d, 58)
			if strings.Contains(k.name, "RANK") && ties == 0 || dropped == 0 {
				t.Fatalf("%d rows, %d tied, %d bids dropped: the data does not test ties or the limit", len(want), ties, dropped)
			}
			checkWindowJoin(t, addr, "partition 3 caught up", want, aOut, bOut)
			if a.Metrics().RowsOut == 0 || b.Metrics().RowsOut == 0 {
				t.Fatalf("rows out %d and %d: both members should have ranked rows\n%s\n---\n%s", a.Metrics().RowsOut, b.Metrics().RowsOut, aOut, bOut)
			}
			t.Logf("%d rows, %d tied, %d bids dropped", len(want), ties, dropped)
		})
	}
}
