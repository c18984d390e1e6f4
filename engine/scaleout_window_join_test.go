package engine

import (
	"context"
	"fmt"
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

// wjSpec is a test's windows: size and slide in seconds (TUMBLE: slide = size).
type wjSpec struct{ size, slide int }

// starts are the starts of the windows second sec belongs to.
func (w wjSpec) starts(sec int) []int {
	var out []int
	for s := sec - sec%w.slide; s > sec-w.size; s -= w.slide {
		out = append(out, s)
	}
	return out
}

// tvf is the window table function of table over ts.
func (w wjSpec) tvf(table string) string {
	if w.slide == w.size {
		return fmt.Sprintf("TABLE(TUMBLE(TABLE %s, DESCRIPTOR(ts), INTERVAL '%d' SECOND))", table, w.size)
	}
	return fmt.Sprintf("TABLE(HOP(TABLE %s, DESCRIPTOR(ts), INTERVAL '%d' SECOND, INTERVAL '%d' SECOND))", table, w.slide, w.size)
}

// wantWindowJoin is the join's rows ("auction/price", "-" when NULL) of the windows that fired at watermark
// wm (seconds: a window fires when wm reaches its end). kind is INNER, LEFT, FULL, SEMI or ANTI (these emit
// "auction/-"; NOTIN is ANTI: no bid names a NULL auction); late rows are dropped.
func (d *ivData) wantWindowJoin(kind string, w wjSpec, wm int, late map[int]bool) []string {
	if kind == "NOTIN" {
		kind = "ANTI"
	}
	var out []string
	for _, a := range d.auctions {
		if late[a.id] {
			continue
		}
		for _, s := range w.starts(a.sec) {
			if s+w.size > wm {
				continue
			}
			n := 0
			for _, b := range d.bids {
				if b.auction == a.id && !late[b.price] && slices.Contains(w.starts(b.sec), s) {
					n++
					if kind != "SEMI" && kind != "ANTI" {
						out = append(out, fmt.Sprintf("%d/%d", a.id, b.price))
					}
				}
			}
			if n == 0 && (kind == "LEFT" || kind == "FULL" || kind == "ANTI") || n > 0 && kind == "SEMI" {
				out = append(out, fmt.Sprintf("%d/-", a.id))
			}
		}
	}
	if kind == "FULL" {
		for _, b := range d.bids {
			if late[b.price] {
				continue
			}
			for _, s := range w.starts(b.sec) {
				if s+w.size > wm {
					continue
				}
				n := 0
				for _, a := range d.auctions {
					if b.auction == a.id && !late[a.id] && slices.Contains(w.starts(a.sec), s) {
						n++
					}
				}
				if n == 0 {
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
	w := wjSpec{10, 10}
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

// TestScaleOutWindowJoinKindsInProcess: inner, FULL OUTER (hopping windows), semi (EXISTS) and anti (NOT
// EXISTS, and NOT IN: null-aware, repartitioned by the window bounds alone) window joins run by a scale-out member give the rows of a P=1 job of the same query, each once,
// with bid partition 3 lagging (it holds the windows back) and then catching up.
func TestScaleOutWindowJoinKindsInProcess(t *testing.T) {
	for _, tc := range []struct {
		kind string
		w    wjSpec
	}{{"INNER", wjSpec{10, 10}}, {"FULL", wjSpec{10, 5}}, {"SEMI", wjSpec{10, 10}}, {"ANTI", wjSpec{10, 10}}, {"NOTIN", wjSpec{10, 10}}} {
		t.Run(tc.kind, func(t *testing.T) {
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
	member, _ := windowJoinScripts(addr, "INNER", wjSpec{10, 10})
	head := member[:strings.Index(member, "INSERT INTO")]
	session := func(table, key string) string {
		return `(SELECT * FROM TABLE(SESSION(TABLE ` + table + ` PARTITION BY ` + key + `, DESCRIPTOR(ts), INTERVAL '5' SECOND)))`
	}
	for _, c := range []struct{ name, stmts, want string }{
		{"state ttl", "SET 'table.exec.state.ttl' = '1 h';\n" + windowJoinInsert("joined", "INNER", wjSpec{10, 10}),
			"'table.exec.state.ttl' cannot be used with a scale-out window join: it does not expire the join's state (nor does the P=1 join; a window's rows are dropped when it fires); RESET 'table.exec.state.ttl'"},
		{"session windows", `INSERT INTO joined SELECT a.id, a.seller, b.price FROM ` + session("auctions", "id") + ` a JOIN ` + session("bids", "auction") + ` b
  ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.id = b.auction`,
			"a window join of SESSION windows is not supported (a key's sessions are merged before the join); use TUMBLE, HOP or CUMULATE"},
		{"window aggregate under the join", `INSERT INTO joined SELECT a.id, a.seller, b.c FROM (SELECT * FROM ` + wjSpec{10, 10}.tvf("auctions") + `) a JOIN
  (SELECT window_start, window_end, auction, COUNT(*) AS c FROM ` + wjSpec{10, 10}.tvf("bids") + ` GROUP BY window_start, window_end, auction) b
  ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.id = b.auction`,
			"the window join's right input is WindowAggregate("},
		{"window Top-N state ttl", `SET 'table.exec.state.ttl' = '1 h';
INSERT INTO joined SELECT auction, rn, price FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, auction ORDER BY price DESC) AS rn
  FROM ` + wjSpec{10, 10}.tvf("bids") + `) WHERE rn <= 2`,
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
