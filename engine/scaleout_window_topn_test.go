package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Scale-out window Top-N (scaleout_window_topn.go) over the interval join tests' bids (4 partitions): the two
// highest bids per auction and 10 s window.

// wantWindowTopN is the Top-2's rows ("auction/price") of the windows that fired at watermark wm (seconds).
func (d *ivData) wantWindowTopN(wm int) []string {
	byKey := map[[2]int][]int{}
	for _, b := range d.bids {
		if w := b.sec / 10 * 10; w+10 <= wm {
			byKey[[2]int{w, b.auction}] = append(byKey[[2]int{w, b.auction}], b.price)
		}
	}
	var out []string
	for k, ps := range byKey {
		slices.Sort(ps)
		slices.Reverse(ps)
		for _, p := range ps[:min(2, len(ps))] {
			out = append(out, fmt.Sprintf("%d/%d", k[1], p))
		}
	}
	slices.Sort(out)
	return out
}

// windowTopNScripts are a scale-out member's and a P=1 job's scripts of the Top-2.
func windowTopNScripts(addr string) (member, single string) {
	insert := func(topic string) string {
		return `INSERT INTO ` + topic + ` SELECT auction, rn, price FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, auction ORDER BY price DESC) AS rn
  FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))) WHERE rn <= 2`
	}
	member = strings.ReplaceAll(strings.Join([]string{
		`SET 'sluice.scale-out.enabled' = 'true'`,
		`SET 'pipeline.name' = 'topn-job'`,
		`SET 'sluice.scale-out.session-timeout' = '2 s'`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s'`,
		auctionsBidsDDL, joinedDDL("joined"), insert("joined")}, ";\n")+";\n", "ADDR", addr)
	single = strings.ReplaceAll(strings.Join([]string{auctionsBidsDDL, joinedDDL("joined1"), insert("joined1")}, ";\n")+";\n", "ADDR", addr)
	return member, single
}

// TestScaleOutWindowTopNMembersInProcess: a window Top-2 run by in-process members (the second joins mid-run,
// then leaves while a window is open and the first restores its partitions) and by a P=1 job: at every phase
// both give exactly the expected rows, each once.
func TestScaleOutWindowTopNMembersInProcess(t *testing.T) {
	addr := intervalCluster(t)
	d := &ivData{}
	var recs = d.bidsTo(3, 0, 30)
	for p := range 3 {
		recs = append(recs, d.bidsTo(p, 0, 60)...)
	}
	produceRecords(t, addr, recs)
	script, single := windowTopNScripts(addr)
	a, aOut := startTestMember(t, script)
	startTestMember(t, single)
	checkWindowJoin(t, addr, "phase 1", d.wantWindowTopN(28), aOut)
	b, bOut := startTestMember(t, script)
	produceRecords(t, addr, d.bidsTo(3, 30, 60))
	for to := 60; to < 120; to += 5 {
		var recs = d.bidsTo(0, to, to+5)
		for p := 1; p < 4; p++ {
			recs = append(recs, d.bidsTo(p, to, to+5)...)
		}
		produceRecords(t, addr, recs)
		if !strings.Contains(bOut.String(), "restored partitions") {
			time.Sleep(500 * time.Millisecond)
		}
	}
	checkWindowJoin(t, addr, "phase 2", d.wantWindowTopN(118), aOut, bOut)
	if a.Metrics().RowsOut == 0 || b.Metrics().RowsOut == 0 {
		t.Fatalf("rows out %d and %d: both members should have ranked rows\n%s\n---\n%s", a.Metrics().RowsOut, b.Metrics().RowsOut, aOut, bOut)
	}
	produceRecords(t, addr, d.bidsTo(1, 120, 140))
	time.Sleep(time.Second)
	restores := strings.Count(aOut.String(), "restored partitions")
	b.Cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = b.Wait(ctx)
	recs = nil
	for _, p := range []int{0, 2, 3} {
		recs = append(recs, d.bidsTo(p, 120, 140)...)
	}
	produceRecords(t, addr, recs)
	checkWindowJoin(t, addr, "phase 3", d.wantWindowTopN(138), aOut)
	if strings.Count(aOut.String(), "restored partitions") == restores {
		t.Fatalf("the first member did not take the second's partitions:\n%s", aOut)
	}
}
