package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/sql"
)

// Scale-out window joins (scaleout_window_join.go): in-process members and a P=1 run of the same query over
// the interval join tests' data (scaleout_interval_test.go: auctions on 2 partitions, bids on 4), joined per
// 10 s window on the auction id.

// wjSpec is a test's windows: size and slide in seconds (TUMBLE: slide = size); cum: CUMULATE windows of
// step slide and max size size.
type wjSpec struct {
	size, slide int
	cum         bool
}

// windows are the windows ([start, end) in seconds) second sec belongs to.
func (w wjSpec) windows(sec int) [][2]int {
	var out [][2]int
	if w.cum {
		start := sec - sec%w.size
		for end := start + (sec-start)/w.slide*w.slide + w.slide; end <= start+w.size; end += w.slide {
			out = append(out, [2]int{start, end})
		}
		return out
	}
	for s := sec - sec%w.slide; s > sec-w.size; s -= w.slide {
		out = append(out, [2]int{s, s + w.size})
	}
	return out
}

// tvf is the window table function of table over ts.
func (w wjSpec) tvf(table string) string {
	switch {
	case w.cum:
		return fmt.Sprintf("TABLE(CUMULATE(TABLE %s, DESCRIPTOR(ts), INTERVAL '%d' SECOND, INTERVAL '%d' SECOND))", table, w.slide, w.size)
	case w.slide == w.size:
		return fmt.Sprintf("TABLE(TUMBLE(TABLE %s, DESCRIPTOR(ts), INTERVAL '%d' SECOND))", table, w.size)
	}
	return fmt.Sprintf("TABLE(HOP(TABLE %s, DESCRIPTOR(ts), INTERVAL '%d' SECOND, INTERVAL '%d' SECOND))", table, w.slide, w.size)
}

// nullID stands for a NULL auction id (of an auction, or named by a bid) in ivData: it equals nothing.
const nullID = math.MinInt32

// wantWindowJoin is the join's rows ("auction/price", "-" when NULL) of the windows that fired at watermark
// wm (seconds: a window fires when wm reaches its end). kind is INNER, LEFT, RIGHT, FULL, SEMI or ANTI (these
// emit "auction/-"), or NOTIN: ANTI but for NULLs (a NULL id is in no non-empty list; a window whose bids
// name a NULL auction keeps no auction); late rows are dropped.
func (d *ivData) wantWindowJoin(kind string, w wjSpec, wm int, late map[int]bool) []string {
	id := func(a int) string {
		if a == nullID {
			return "-"
		}
		return fmt.Sprint(a)
	}
	// bids[window] are the window's bids that are not late.
	bids := map[[2]int][]ivBid{}
	for _, b := range d.bids {
		if !late[b.price] {
			for _, win := range w.windows(b.sec) {
				bids[win] = append(bids[win], b)
			}
		}
	}
	var out []string
	matched := map[[3]int]bool{} // window and bid price
	for _, a := range d.auctions {
		if late[a.id] {
			continue
		}
		for _, win := range w.windows(a.sec) {
			if win[1] > wm {
				continue
			}
			n, null := 0, false
			for _, b := range bids[win] {
				null = null || b.auction == nullID
				if b.auction == a.id && a.id != nullID {
					n++
					matched[[3]int{win[0], win[1], b.price}] = true
					if kind != "SEMI" && kind != "ANTI" && kind != "NOTIN" {
						out = append(out, fmt.Sprintf("%s/%d", id(a.id), b.price))
					}
				}
			}
			switch {
			case kind == "NOTIN":
				if len(bids[win]) == 0 || n == 0 && !null && a.id != nullID {
					out = append(out, id(a.id)+"/-")
				}
			case n == 0 && (kind == "LEFT" || kind == "FULL" || kind == "ANTI") || n > 0 && kind == "SEMI":
				out = append(out, id(a.id)+"/-")
			}
		}
	}
	if kind == "FULL" || kind == "RIGHT" {
		for win, bs := range bids {
			for _, b := range bs {
				if win[1] <= wm && !matched[[3]int{win[0], win[1], b.price}] {
					out = append(out, fmt.Sprintf("-/%d", b.price))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// windowJoinInsert is the INSERT of the window join of the given kind into topic.
func windowJoinInsert(topic, kind string, w wjSpec) string {
	cond := `a.window_start = b.window_start AND a.window_end = b.window_end AND a.id = b.auction`
	switch kind {
	case "NOTIN":
		return `INSERT INTO ` + topic + ` SELECT a.id, a.seller, CAST(NULL AS BIGINT) FROM (SELECT * FROM ` + w.tvf("auctions") + `) a
  WHERE a.id NOT IN (SELECT b.auction FROM (SELECT * FROM ` + w.tvf("bids") + `) b
  WHERE a.window_start = b.window_start AND a.window_end = b.window_end)`
	case "SEMI", "ANTI":
		not := map[bool]string{true: "NOT "}[kind == "ANTI"]
		return `INSERT INTO ` + topic + ` SELECT a.id, a.seller, CAST(NULL AS BIGINT) FROM (SELECT * FROM ` + w.tvf("auctions") + `) a
  WHERE ` + not + `EXISTS (SELECT * FROM (SELECT * FROM ` + w.tvf("bids") + `) b WHERE ` + cond + `)`
	}
	return `INSERT INTO ` + topic + ` SELECT a.id, a.seller, b.price FROM (SELECT * FROM ` + w.tvf("auctions") + `) a
  ` + kind + ` JOIN (SELECT * FROM ` + w.tvf("bids") + `) b ON ` + cond
}

// windowJoinScripts are a scale-out member's and a P=1 job's scripts of the window join of the given kind.
func windowJoinScripts(addr, kind string, w wjSpec) (member, single string) {
	member = strings.ReplaceAll(strings.Join([]string{
		`SET 'sluice.scale-out.enabled' = 'true'`,
		`SET 'pipeline.name' = 'wjoin-job'`,
		`SET 'sluice.scale-out.session-timeout' = '2 s'`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s'`,
		auctionsBidsDDL, joinedDDL("joined"), windowJoinInsert("joined", kind, w)}, ";\n")+";\n", "ADDR", addr)
	single = strings.ReplaceAll(strings.Join([]string{auctionsBidsDDL, joinedDDL("joined1"), windowJoinInsert("joined1", kind, w)}, ";\n")+";\n", "ADDR", addr)
	return member, single
}

// checkWindowJoin waits until the scale-out job's and the P=1 job's rows (read_committed) are want.
func checkWindowJoin(t *testing.T, addr, what string, want []string, outs ...*syncBuffer) {
	t.Helper()
	var got, got1 []string
	if !waitUntil(40*time.Second, func() bool {
		got, got1 = readJoined(t, addr, "joined"), readJoined(t, addr, "joined1")
		return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
	}) {
		var texts []string
		for _, o := range outs {
			texts = append(texts, o.String())
		}
		t.Fatalf("%s: scale-out %d rows, P=1 %d rows, want %d\nscale-out only %v\nmissing %v\nP=1 only %v\nP=1 missing %v\n%s",
			what, len(got), len(got1), len(want), minus(got, want), minus(want, got), minus(got1, want), minus(want, got1), strings.Join(texts, "\n---\n"))
	}
}

// TestScaleOutWindowJoinMembersInProcess: a LEFT tumbling window join run by in-process members (the second
// joins mid-run, then leaves and the first restores its partitions from the changelog) and by a P=1 job of
// the same query. Bid partition 3 lags: its watermark holds the windows back until it catches up. A late bid
// and a late auction (their window fired) are dropped by both. At every phase both jobs' rows are exactly
// the expected ones, each once.
func TestScaleOutWindowJoinMembersInProcess(t *testing.T) {
	addr := intervalCluster(t)
	d := &ivData{}
	w := wjSpec{10, 10, false}
	// Phase 1: auctions 0..59, bids 0..59 on partitions 0-2, 0..29 on partition 3: the watermark is 28 s, the
	// windows ending at 10 and 20 s fire.
	recs := d.auctionsTo(0, 60)
	for p := range 4 {
		to := 60
		if p == 3 {
			to = 30
		}
		recs = append(recs, d.bidsTo(p, 0, to)...)
	}
	produceRecords(t, addr, recs)
	script, single := windowJoinScripts(addr, "LEFT", w)
	a, aOut := startTestMember(t, script)
	startTestMember(t, single)
	late := map[int]bool{}
	checkWindowJoin(t, addr, "phase 1", d.wantWindowJoin("LEFT", w, 28, late), aOut)
	// Late rows: a bid for auction 3 at 5 s and auction 1000 at 2 s (the window [0, 10) fired).
	late[3000005] = true
	late[1000] = true
	produceRecords(t, addr, []*kgo.Record{d.bid(0, 3, 3000005, 5), d.auction(1, 1000, 2)})
	// The second member joins; partition 3 catches up, then every partition goes on to 120 s in steps.
	b, bOut := startTestMember(t, script)
	produceRecords(t, addr, d.bidsTo(3, 30, 60))
	for to := 60; to < 120; to += 5 {
		recs := d.auctionsTo(to, to+5)
		for p := range 4 {
			recs = append(recs, d.bidsTo(p, to, to+5)...)
		}
		produceRecords(t, addr, recs)
		if !strings.Contains(bOut.String(), "restored partitions") {
			time.Sleep(500 * time.Millisecond)
		}
	}
	checkWindowJoin(t, addr, "phase 2", d.wantWindowJoin("LEFT", w, 117, late), aOut, bOut)
	if !strings.Contains(bOut.String(), "restored partitions") {
		t.Fatalf("the second member did not take partitions:\n%s", bOut)
	}
	if a.Metrics().RowsOut == 0 || b.Metrics().RowsOut == 0 {
		t.Fatalf("rows out %d and %d: both members should have joined rows\n%s\n---\n%s", a.Metrics().RowsOut, b.Metrics().RowsOut, aOut, bOut)
	}
	// Bid partition 1 goes on alone to 140 s (the window [110, 120) stays open: the others hold it back);
	// the second member leaves and the first restores its partitions: the open windows' rows and the
	// watermarks. Then the others go on to 140 s.
	produceRecords(t, addr, d.bidsTo(1, 120, 140))
	time.Sleep(time.Second)
	restores := strings.Count(aOut.String(), "restored partitions")
	b.Cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = b.Wait(ctx)
	recs = d.auctionsTo(120, 140)
	for _, p := range []int{0, 2, 3} {
		recs = append(recs, d.bidsTo(p, 120, 140)...)
	}
	produceRecords(t, addr, recs)
	checkWindowJoin(t, addr, "phase 3", d.wantWindowJoin("LEFT", w, 137, late), aOut)
	if strings.Count(aOut.String(), "restored partitions") == restores {
		t.Fatalf("the first member did not take the second's partitions:\n%s", aOut)
	}
}

// TestScaleOutWindowJoinKindsInProcess: inner, RIGHT OUTER (tumbling and hopping windows), FULL OUTER
// (hopping windows), semi (EXISTS) and anti (NOT EXISTS, and NOT IN: null-aware, repartitioned by the window
// bounds alone) window joins, and LEFT, FULL and anti joins of CUMULATE windows, run by a scale-out member
// give the rows of a P=1 job of the same query, each once, with bid partition 3 lagging (it holds the
// windows back) and then catching up.
func TestScaleOutWindowJoinKindsInProcess(t *testing.T) {
	for _, tc := range []struct {
		kind string
		w    wjSpec
	}{{"INNER", wjSpec{10, 10, false}}, {"FULL", wjSpec{10, 5, false}}, {"SEMI", wjSpec{10, 10, false}}, {"ANTI", wjSpec{10, 10, false}}, {"NOTIN", wjSpec{10, 10, false}},
		{"RIGHT", wjSpec{10, 10, false}}, {"RIGHT", wjSpec{10, 5, false}}, {"LEFT", wjSpec{20, 5, true}}, {"FULL", wjSpec{20, 5, true}}, {"ANTI", wjSpec{20, 5, true}}} {
		fn, _, _ := strings.Cut(strings.TrimPrefix(tc.w.tvf("t"), "TABLE("), "(")
		t.Run(tc.kind+"/"+fn, func(t *testing.T) {
			addr := intervalCluster(t)
			d := &ivData{}
			recs := d.auctionsTo(0, 40)
			for p := range 3 {
				recs = append(recs, d.bidsTo(p, 0, 40)...)
			}
			recs = append(recs, d.bidsTo(3, 0, 20)...)
			produceRecords(t, addr, recs)
			script, single := windowJoinScripts(addr, tc.kind, tc.w)
			_, out := startTestMember(t, script)
			startTestMember(t, single)
			checkWindowJoin(t, addr, "partition 3 lags", d.wantWindowJoin(tc.kind, tc.w, 18, nil), out)
			produceRecords(t, addr, d.bidsTo(3, 20, 40))
			checkWindowJoin(t, addr, "partition 3 caught up", d.wantWindowJoin(tc.kind, tc.w, 37, nil), out)
		})
	}
}

// TestScaleOutWindowJoinRefused: what a scale-out window join does not run is refused at submit, saying what
// and how to fix it.
func TestScaleOutWindowJoinRefused(t *testing.T) {
	addr := intervalCluster(t)
	member, _ := windowJoinScripts(addr, "INNER", wjSpec{10, 10, false})
	head := member[:strings.Index(member, "INSERT INTO")]
	session := func(table, key string) string {
		return `(SELECT * FROM TABLE(SESSION(TABLE ` + table + ` PARTITION BY ` + key + `, DESCRIPTOR(ts), INTERVAL '5' SECOND)))`
	}
	for _, c := range []struct{ name, stmts, want string }{
		{"state ttl", "SET 'table.exec.state.ttl' = '1 h';\n" + windowJoinInsert("joined", "INNER", wjSpec{10, 10, false}),
			"'table.exec.state.ttl' cannot be used with a scale-out window join: it does not expire the join's state (nor does the P=1 join; a window's rows are dropped when it fires); RESET 'table.exec.state.ttl'"},
		{"session windows", `INSERT INTO joined SELECT a.id, a.seller, b.price FROM ` + session("auctions", "id") + ` a JOIN ` + session("bids", "auction") + ` b
  ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.id = b.auction`,
			"a window join of SESSION windows is not supported (a key's sessions are merged before the join); use TUMBLE, HOP or CUMULATE"},
		{"window aggregate under the join", `INSERT INTO joined SELECT a.id, a.seller, b.c FROM (SELECT * FROM ` + wjSpec{10, 10, false}.tvf("auctions") + `) a JOIN
  (SELECT window_start, window_end, auction, COUNT(*) AS c FROM ` + wjSpec{10, 10, false}.tvf("bids") + ` GROUP BY window_start, window_end, auction) b
  ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.id = b.auction`,
			"the window join's right input is WindowAggregate("},
		{"window Top-N state ttl", `SET 'table.exec.state.ttl' = '1 h';
INSERT INTO joined SELECT auction, rn, price FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, auction ORDER BY price DESC) AS rn
  FROM ` + wjSpec{10, 10, false}.tvf("bids") + `) WHERE rn <= 2`,
			"'table.exec.state.ttl' cannot be used with a scale-out window Top-N"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := &syncBuffer{}
			s, err := NewSession(Config{Stdout: out, Stderr: out, Notice: out, TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			stmts, err := sql.ParseScript(head + c.stmts + ";\n")
			if err != nil {
				t.Fatal(err)
			}
			var last error
			for _, st := range stmts {
				res, err := s.Execute(context.Background(), st)
				if res != nil && res.Job != nil {
					res.Job.Cancel()
				}
				last = err
				if err != nil {
					break
				}
			}
			if last == nil || !strings.Contains(last.Error(), c.want) {
				t.Fatalf("got %v\nwant an error containing %q", last, c.want)
			}
			t.Log(last)
		})
	}
}
