package engine

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Scale-out window joins (scaleout_window_join.go) against a P=1 job of the same query: NULL keys under NOT IN
// and NOT EXISTS, and an idle source partition under either idle timeout.

// nullAuction writes an auction with a NULL id at second sec into partition part.
func (d *ivData) nullAuction(part, sec int) *kgo.Record {
	d.auctions = append(d.auctions, ivAuction{nullID, sec})
	ts := windowTestBase.Add(time.Duration(sec) * time.Second).Format("2006-01-02 15:04:05.000")
	return &kgo.Record{Topic: "auctions", Partition: int32(part), Value: fmt.Appendf(nil, `{"id":null,"seller":7,"ts":"%s"}`, ts)}
}

// nullBid writes a bid naming a NULL auction at second sec into partition part.
func (d *ivData) nullBid(part, price, sec int) *kgo.Record {
	d.bids = append(d.bids, ivBid{nullID, price, sec})
	ts := windowTestBase.Add(time.Duration(sec) * time.Second).Format("2006-01-02 15:04:05.000")
	return &kgo.Record{Topic: "bids", Partition: int32(part), Value: fmt.Appendf(nil, `{"auction":null,"price":%d,"ts":"%s"}`, price, ts)}
}

// TestScaleOutWindowJoinNullInProcess: NOT IN and NOT EXISTS window joins with NULLs on both sides, run by a
// scale-out member and a P=1 job. A bid naming a NULL auction in [10, 20) makes NOT IN unknown for every
// auction of that window (none is kept; NOT EXISTS keeps those without a bid); an auction with a NULL id is
// kept by NOT IN only in [20, 30), which has no bids (NOT IN of an empty list is true), by NOT EXISTS in
// both windows it is in. Both jobs give exactly the expected rows.
func TestScaleOutWindowJoinNullInProcess(t *testing.T) {
	for _, kind := range []string{"NOTIN", "ANTI"} {
		t.Run(kind, func(t *testing.T) {
			addr := intervalCluster(t)
			d := &ivData{}
			w := wjSpec{10, 10, false}
			recs := d.auctionsTo(0, 40)
			recs = append(recs, d.nullAuction(1, 3), d.nullAuction(0, 23), d.nullBid(1, 777, 15))
			for p := range 4 {
				recs = append(recs, d.bidsTo(p, 0, 20)...)
				recs = append(recs, d.bidsTo(p, 30, 40)...)
			}
			produceRecords(t, addr, recs)
			script, single := windowJoinScripts(addr, kind, w)
			_, out := startTestMember(t, script)
			startTestMember(t, single)
			want := d.wantWindowJoin(kind, w, 38, nil)
			// The data tests NULLs: the NULL-id auctions kept (NOT IN: one, NOT EXISTS: two), and NOT IN keeps
			// none of [10, 20) where NOT EXISTS keeps some.
			nulls, mid := 0, 0
			for _, r := range want {
				var id int
				if r == "-/-" {
					nulls++
				} else if _, err := fmt.Sscanf(r, "%d/", &id); err == nil && id%10000 >= 10 && id%10000 < 20 {
					mid++
				}
			}
			anti := 0
			for _, r := range d.wantWindowJoin("ANTI", w, 38, nil) {
				var id int
				if _, err := fmt.Sscanf(r, "%d/", &id); err == nil && id%10000 >= 10 && id%10000 < 20 {
					anti++
				}
			}
			if wantNulls := map[string]int{"NOTIN": 1, "ANTI": 2}[kind]; nulls != wantNulls || kind == "NOTIN" && mid != 0 || anti == 0 {
				t.Fatalf("want %d rows, %d with a NULL id (want %d), %d of [10, 20) (NOT EXISTS: %d): the data does not test NULLs", len(want), nulls, wantNulls, mid, anti)
			}
			checkWindowJoin(t, addr, "NULLs", want, out)
		})
	}
}

// TestScaleOutWindowJoinIdleInProcess: bid partition 3 never gets a row. With an idle timeout (the bids
// table's 'scan.watermark.idle-timeout', or the session's 'table.exec.source.idle-timeout') its stage-1
// owner marks it idle and the watermark of the other source partitions fires the windows; without one no
// window would fire. The others are fed a second more at every check, so they stay active (were all idle at
// once, the watermark would not move: Flink's combined watermark skips idle outputs). Two scale-out members
// and a P=1 job of the same script both give every row of the windows up to [20, 30) and none but the
// expected rows, each once.
func TestScaleOutWindowJoinIdleInProcess(t *testing.T) {
	for _, c := range []struct{ name, set, table string }{
		{"table option", "", "'scan.watermark.idle-timeout' = '1 s', "},
		{"session option", "SET 'table.exec.source.idle-timeout' = '1 s';\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := intervalCluster(t)
			d := &ivData{}
			w := wjSpec{10, 10, false}
			feed := func(from, to int) {
				recs := d.auctionsTo(from, to)
				for p := range 3 {
					recs = append(recs, d.bidsTo(p, from, to)...)
				}
				produceRecords(t, addr, recs)
			}
			feed(0, 40)
			script, single := windowJoinScripts(addr, "LEFT", w)
			opt := func(s string) string {
				return c.set + strings.Replace(s, "'topic' = 'bids', ", "'topic' = 'bids', "+c.table, 1)
			}
			_, aOut := startTestMember(t, opt(script))
			_, bOut := startTestMember(t, opt(script))
			startTestMember(t, opt(single))
			want := d.wantWindowJoin("LEFT", w, 30, nil)
			var got, got1 []string
			to := 40
			if !waitUntil(40*time.Second, func() bool {
				feed(to, to+1)
				to++
				got, got1 = readJoined(t, addr, "joined"), readJoined(t, addr, "joined1")
				all := d.wantWindowJoin("LEFT", w, math.MaxInt32, nil)
				return len(minus(want, got)) == 0 && len(minus(want, got1)) == 0 && len(minus(got, all)) == 0 && len(minus(got1, all)) == 0
			}) {
				all := d.wantWindowJoin("LEFT", w, math.MaxInt32, nil)
				t.Fatalf("scale-out %d rows, P=1 %d rows, want at least %d\nscale-out unexpected %v\nmissing %v\nP=1 unexpected %v\nP=1 missing %v\n%s\n---\n%s",
					len(got), len(got1), len(want), minus(got, all), minus(want, got), minus(got1, all), minus(want, got1), aOut, bOut)
			}
		})
	}
}
