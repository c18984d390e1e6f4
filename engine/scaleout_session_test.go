package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Scale-out session window aggregates (scaleout_session.go): in-process members and a P=1 run of the same
// query, over the clicks of scaleout_window_test.go.

// sessionGap is the session gap of the tests, in seconds.
const sessionGap = 5

// sessionBurst reports whether second i of a partition has a click: bursts of 12 s every 20 s, so a user's
// sessions (the user clicks 4 seconds of 5 over the partitions) close in the 8 s between bursts.
func sessionBurst(i int) bool { return i%20 < 12 }

// produceSessionClicks writes to the partitions parts the clicks of seconds from..to-1 in bursts
// (clickRecord: user (part*7+i) % 5, amount i % 7 + part).
func produceSessionClicks(t *testing.T, addr string, parts []int, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for _, p := range parts {
		for i := from; i < to; i++ {
			if sessionBurst(i) {
				recs = append(recs, clickRecord(p, i, (p*7+i)%5, i%7+p))
			}
		}
	}
	if len(recs) > 0 {
		produceRecords(t, addr, recs)
	}
}

// sessionClick is one click of wantSessions.
type sessionClick struct{ sec, user, amount int }

// burstClicks are the clicks of seconds from..to-1 of the partitions parts, as produceSessionClicks writes.
func burstClicks(parts []int, from, to int) []sessionClick {
	var cs []sessionClick
	for _, p := range parts {
		for i := from; i < to; i++ {
			if sessionBurst(i) {
				cs = append(cs, sessionClick{i, (p*7 + i) % 5, i%7 + p})
			}
		}
	}
	return cs
}

// wantSessions computes the sessions (gap sessionGap) of clicks per user that the watermark wm (seconds,
// the minimum over the partitions of their latest click - 1 s) has fired (end - 1 ms <= wm), as
// readWindows writes them: a click starts a new session when it comes more than the gap after the user's
// previous one.
func wantSessions(clicks []sessionClick, wm int) []string {
	by := map[int][]sessionClick{}
	for _, c := range clicks {
		by[c.user] = append(by[c.user], c)
	}
	var out []string
	for u, cs := range by {
		slices.SortFunc(cs, func(a, b sessionClick) int { return a.sec - b.sec })
		for i := 0; i < len(cs); {
			j, cnt, sum := i, 0, 0
			for ; j < len(cs) && (j == i || cs[j].sec-cs[j-1].sec <= sessionGap); j++ {
				cnt++
				sum += cs[j].amount
			}
			start, end := cs[i].sec, cs[j-1].sec+sessionGap
			if end*1000-1 <= wm*1000 {
				out = append(out, fmt.Sprintf("%d-%d user %d: %d %d", start, end, u, cnt, sum))
			}
			i = j
		}
	}
	slices.Sort(out)
	return out
}

func sessionInsert(topic string) string {
	return `INSERT INTO ` + topic + ` SELECT window_start, window_end, user_id, COUNT(*), SUM(amount)
  FROM TABLE(SESSION(TABLE clicks PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '5' SECOND)) GROUP BY window_start, window_end, user_id`
}

// TestScaleOutSessionMembersInProcess: a SESSION window aggregate run by two in-process members, the second
// joining while every user's session is open (so the partitions it takes are restored with open sessions,
// which then grow by the rows after the rebalance), then leaving (the first restores them again), and by a
// P=1 job of the same query. Each partition's clicks ascend in time; one click is written late on purpose
// after the rebalance, behind a session that fired before it. The members' sessions (read_committed) are
// exactly the expected ones (computed here from the clicks), each once, and equal the P=1 job's; the late
// click is dropped by both.
func TestScaleOutSessionMembersInProcess(t *testing.T) {
	const nparts = 4
	all := []int{0, 1, 2, 3}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(nparts),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(nparts, "clicks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	// Phase 1: to 46 s, in the third burst (40..51 s): its sessions are open, the first two bursts' fired.
	produceSessionClicks(t, addr, all, 0, 46)
	clicks := burstClicks(all, 0, 46)
	// User 7 clicks once: its session fires in phase 2 and must then leave the changelog (a restore in
	// phase 3 would bring it back, to fire again).
	produceRecords(t, addr, []*kgo.Record{clickRecord(0, 45, 7, 3)})
	clicks = append(clicks, sessionClick{45, 7, 3})
	script := scaleOutScriptNamed(addr, "sessions-job", windowsDDL("sess"), sessionInsert("sess"))
	single := strings.ReplaceAll(strings.Join([]string{clicksDDL, windowsDDL("sess1"), sessionInsert("sess1")}, ";\n")+";\n", "ADDR", addr)
	a, aOut := startTestMember(t, script)
	startTestMember(t, single)
	check := func(phase string, wm int, outs ...*syncBuffer) {
		t.Helper()
		want := wantSessions(clicks, wm)
		var got, got1 []string
		if !waitUntil(40*time.Second, func() bool {
			got, got1 = readWindows(t, addr, "sess"), readWindows(t, addr, "sess1")
			return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
		}) {
			var notices []string
			for _, o := range outs {
				notices = append(notices, o.String())
			}
			t.Fatalf("%s: scale-out %d sessions %v\nP=1 %d sessions %v\nwant %d sessions %v\n%s", phase, len(got), got,
				len(got1), got1, len(want), want, strings.Join(notices, "\n---\n"))
		}
	}
	check("phase 1", 44, aOut)
	if n := len(wantSessions(clicks, 44)); n != 10 {
		t.Fatalf("phase 1 has %d sessions, want 10 (two bursts of 5 users)", n)
	}
	// The second member joins; the third burst goes on in steps until it has restored partitions; a late
	// click (user 1 at 5 s: its session [5, 10) is over, and the watermark passed 9 s) goes to partition 0.
	b, bOut := startTestMember(t, script)
	produceRecords(t, addr, []*kgo.Record{clickRecord(0, 5, 1, 1000)})
	to := 46
	for ; to < 100; to += 2 {
		produceSessionClicks(t, addr, all, to, to+2)
		if !strings.Contains(bOut.String(), "restored partitions") {
			time.Sleep(500 * time.Millisecond)
		}
	}
	clicks = append(clicks, burstClicks(all, 46, to)...)
	if !waitUntil(20*time.Second, func() bool { return strings.Contains(bOut.String(), "restored partitions") }) {
		t.Fatalf("the second member did not take partitions:\n%s", bOut)
	}
	// The last click is at 91 s (the burst 80..91 s): the watermark is 90 s, the sessions of 80 s are open.
	check("phase 2", 90, aOut, bOut)
	if wantOut := int64(len(wantSessions(clicks, 90))); a.Metrics().RowsOut+b.Metrics().RowsOut != wantOut {
		t.Fatalf("rows out %d+%d, want %d", a.Metrics().RowsOut, b.Metrics().RowsOut, wantOut)
	}
	// The second member leaves while the sessions of 80 s are open; the first restores its partitions and
	// goes on to 140 s.
	restores := strings.Count(aOut.String(), "restored partitions")
	b.Cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = b.Wait(ctx)
	for ; to < 140; to += 5 {
		produceSessionClicks(t, addr, all, to, to+5)
	}
	clicks = append(clicks, burstClicks(all, 100, to)...)
	// The last click is at 131 s: the watermark is 130 s.
	check("phase 3", 130, aOut)
	if strings.Count(aOut.String(), "restored partitions") == restores {
		t.Fatalf("the first member did not take the second's partitions:\n%s", aOut)
	}
}

// TestScaleOutSessionLegacyUpsert: the legacy GROUP BY SESSION(...) into an upsert-kafka table keyed by the
// user and the session's bounds, by a scale-out member and a P=1 job: the same sessions, each once.
func TestScaleOutSessionLegacyUpsert(t *testing.T) {
	const nparts = 4
	all := []int{0, 1, 2, 3}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(nparts),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(nparts, "clicks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	produceSessionClicks(t, addr, all, 0, 70)
	ddl := func(topic string) string {
		return `CREATE TABLE ` + topic + ` (window_start TIMESTAMP(3), window_end TIMESTAMP(3), user_id BIGINT, cnt BIGINT, total BIGINT,
  PRIMARY KEY (user_id, window_start, window_end) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = '` + topic + `', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json')`
	}
	insert := func(topic string) string {
		return `INSERT INTO ` + topic + ` SELECT SESSION_START(ts, INTERVAL '5' SECOND), SESSION_END(ts, INTERVAL '5' SECOND),
  user_id, COUNT(*), SUM(amount) FROM clicks GROUP BY SESSION(ts, INTERVAL '5' SECOND), user_id`
	}
	_, out := startTestMember(t, scaleOutScriptNamed(addr, "legacy-sessions", ddl("sess"), insert("sess")))
	startTestMember(t, strings.ReplaceAll(strings.Join([]string{clicksDDL, ddl("sess1"), insert("sess1")}, ";\n")+";\n", "ADDR", addr))
	// The last click is at 69 s: the watermark is 68 s (the sessions of 60 s are open).
	want := wantSessions(burstClicks(all, 0, 70), 68)
	var got, got1 []string
	if !waitUntil(30*time.Second, func() bool {
		got, got1 = readWindows(t, addr, "sess"), readWindows(t, addr, "sess1")
		return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
	}) {
		t.Fatalf("scale-out %d sessions %v\nP=1 %d sessions %v\nwant %d sessions %v\n%s", len(got), got, len(got1), got1, len(want), want, out)
	}
}

// TestScaleOutSessionRefused: session aggregates that hold the sessions' rows at P=1 are refused at submit,
// saying why.
func TestScaleOutSessionRefused(t *testing.T) {
	for _, tc := range []struct{ name, sel, want string }{
		{"distinct", `SELECT window_start, window_end, user_id, COUNT(DISTINCT amount), SUM(amount)
  FROM TABLE(SESSION(TABLE clicks PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '5' SECOND)) GROUP BY window_start, window_end, user_id`,
			"calls that need the sessions' rows (COUNT(DISTINCT ...))"},
		{"no partition", `SELECT window_start, window_end, CAST(0 AS BIGINT), COUNT(*), SUM(amount)
  FROM TABLE(SESSION(TABLE clicks, DESCRIPTOR(ts), INTERVAL '5' SECOND)) GROUP BY window_start, window_end`,
			"without a partition key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := scaleOutScriptNamed("127.0.0.1:1", "refused", windowsDDL("sess"), `INSERT INTO sess `+tc.sel)
			out, err := runScript(t, script)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q\n%s", err, tc.want, out)
			}
		})
	}
}

// TestScaleOutSessionNexmarkQ11: Nexmark q11's statement as written (GROUP BY B.bidder, SESSION(B.`dateTime`,
// INTERVAL '10' SECOND) with SESSION_START and SESSION_END) over a view that filters bids out of an event
// table with a WATERMARK, run by two members and by a P=1 job: the same sessions, each once.
func TestScaleOutSessionNexmarkQ11(t *testing.T) {
	const nparts = 4
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(nparts),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(nparts, "events"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	// Per partition, an event every second for 200 s: every third one is not a bid; bidder (p*3+i) % 17 bids
	// in bursts of 30 s every 45 s.
	var recs []*kgo.Record
	bids := map[int][]int{} // bidder -> seconds of its bids
	for p := range nparts {
		for i := range 200 {
			typ := 2
			if i%3 == 0 || i%45 >= 30 {
				typ = 1
			} else {
				bids[(p*3+i)%17] = append(bids[(p*3+i)%17], i)
			}
			ts := windowTestBase.Add(time.Duration(i) * time.Second).Format("2006-01-02 15:04:05.000")
			recs = append(recs, &kgo.Record{Topic: "events", Partition: int32(p),
				Value: fmt.Appendf(nil, `{"event_type":%d,"bidder":%d,"ts":"%s"}`, typ, (p*3+i)%17, ts)})
		}
	}
	produceRecords(t, addr, recs)
	ddl := `CREATE TABLE events (event_type INT, bidder BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '4' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'events', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE VIEW bid AS SELECT bidder, ts AS ` + "`dateTime`" + ` FROM events WHERE event_type = 2`
	sink := func(topic string) string {
		return `CREATE TABLE ` + topic + ` (bidder BIGINT, bid_count BIGINT, starttime TIMESTAMP(3), endtime TIMESTAMP(3)) WITH (
  'connector' = 'kafka', 'topic' = '` + topic + `', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json')`
	}
	q11 := func(topic string) string {
		return `INSERT INTO ` + topic + `
SELECT
    B.bidder,
    count(*) as bid_count,
    SESSION_START(B.` + "`dateTime`" + `, INTERVAL '10' SECOND) as starttime,
    SESSION_END(B.` + "`dateTime`" + `, INTERVAL '10' SECOND) as endtime
FROM bid B
GROUP BY B.bidder, SESSION(B.` + "`dateTime`" + `, INTERVAL '10' SECOND)`
	}
	member := strings.ReplaceAll(strings.Join([]string{`SET 'sluice.scale-out.enabled' = 'true'`, `SET 'pipeline.name' = 'q11'`,
		`SET 'sluice.scale-out.session-timeout' = '2 s'`, `SET 'sluice.scale-out.transaction-timeout' = '3 s'`,
		ddl, sink("q11"), q11("q11")}, ";\n")+";\n", "ADDR", addr)
	_, aOut := startTestMember(t, member)
	_, bOut := startTestMember(t, member)
	startTestMember(t, strings.ReplaceAll(strings.Join([]string{ddl, sink("q11_p1"), q11("q11_p1")}, ";\n")+";\n", "ADDR", addr))
	// The sessions (gap 10 s) that the watermark, 195 s, fired: "bidder count start end" (seconds).
	var want []string
	for b, secs := range bids {
		slices.Sort(secs)
		for i := 0; i < len(secs); {
			j := i + 1
			for ; j < len(secs) && secs[j]-secs[j-1] <= 10; j++ {
			}
			if end := secs[j-1] + 10; end*1000-1 <= 195_000 {
				want = append(want, fmt.Sprintf("%d %d %d %d", b, j-i, secs[i], end))
			}
			i = j
		}
	}
	slices.Sort(want)
	read := func(topic string) []string {
		var out []string
		for _, r := range readCommitted(t, addr, topic) {
			var v struct {
				Bidder             int64
				BidCount           int64 `json:"bid_count"`
				Starttime, Endtime string
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("unreadable session %q", r.Value)
			}
			sec := func(s string) int {
				ts, err := time.Parse("2006-01-02 15:04:05", s)
				if err != nil {
					t.Fatalf("session %q: %v", r.Value, err)
				}
				return int(ts.Sub(windowTestBase) / time.Second)
			}
			out = append(out, fmt.Sprintf("%d %d %d %d", v.Bidder, v.BidCount, sec(v.Starttime), sec(v.Endtime)))
		}
		slices.Sort(out)
		return out
	}
	var got, got1 []string
	if !waitUntil(40*time.Second, func() bool {
		got, got1 = read("q11"), read("q11_p1")
		return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
	}) {
		t.Fatalf("scale-out %d sessions %v\nP=1 %d sessions %v\nwant %d sessions %v\n%s\n---\n%s", len(got), got, len(got1), got1, len(want), want, aOut, bOut)
	}
}
