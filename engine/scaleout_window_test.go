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

// Scale-out window aggregates (scaleout_window.go): in-process members and a P=1 run of the same query.

// windowTestBase is the event time of the first click.
var windowTestBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// produceClicks writes to every partition of 'clicks' the events from..to-1 of that partition: event i has
// the time base + i s (ascending per partition), user (part*7+i) % 5 and amount i % 7 + part.
func produceClicks(t *testing.T, addr string, parts, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for p := range parts {
		for i := from; i < to; i++ {
			recs = append(recs, clickRecord(p, i, (p*7+i)%5, i%7+p))
		}
	}
	produceRecords(t, addr, recs)
}

func clickRecord(part, sec, user, amount int) *kgo.Record {
	ts := windowTestBase.Add(time.Duration(sec) * time.Second).Format("2006-01-02 15:04:05.000")
	return &kgo.Record{Topic: "clicks", Partition: int32(part),
		Value: fmt.Appendf(nil, `{"user_id":%d,"amount":%d,"ts":"%s"}`, user, amount, ts)}
}

// wantClickWindows are the 10-second tumbling windows (start second, user -> count, sum) of the clicks
// 0..to-1 of every partition that end at or before end seconds.
func wantClickWindows(parts, to, end int) []string {
	type agg struct{ cnt, sum int }
	got := map[[2]int]agg{}
	for p := range parts {
		for i := range to {
			w := i / 10 * 10
			if w+10 > end {
				continue
			}
			k := [2]int{w, (p*7 + i) % 5}
			a := got[k]
			a.cnt++
			a.sum += i%7 + p
			got[k] = a
		}
	}
	var out []string
	for k, a := range got {
		out = append(out, fmt.Sprintf("%d-%d user %d: %d %d", k[0], k[0]+10, k[1], a.cnt, a.sum))
	}
	slices.Sort(out)
	return out
}

// readWindows reads the window results of the kafka topic (read_committed), as wantClickWindows writes them.
func readWindows(t *testing.T, addr, topic string) []string {
	var out []string
	for _, r := range readCommitted(t, addr, topic) {
		var v struct {
			WindowStart string `json:"window_start"`
			WindowEnd   string `json:"window_end"`
			UserID      int64  `json:"user_id"`
			Cnt, Total  int64
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable window %q", r.Value)
		}
		sec := func(s string) int {
			ts, err := time.Parse("2006-01-02 15:04:05", s)
			if err != nil {
				t.Fatalf("window %q: %v", r.Value, err)
			}
			return int(ts.Sub(windowTestBase) / time.Second)
		}
		out = append(out, fmt.Sprintf("%d-%d user %d: %d %d", sec(v.WindowStart), sec(v.WindowEnd), v.UserID, v.Cnt, v.Total))
	}
	slices.Sort(out)
	return out
}

const clicksDDL = `CREATE TABLE clicks (user_id BIGINT, amount BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'clicks', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json')`

func windowsDDL(topic string) string {
	return `CREATE TABLE ` + topic + ` (window_start TIMESTAMP(3), window_end TIMESTAMP(3), user_id BIGINT, cnt BIGINT, total BIGINT) WITH (
  'connector' = 'kafka', 'topic' = '` + topic + `', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json')`
}

func windowsInsert(topic string) string {
	return `INSERT INTO ` + topic + ` SELECT window_start, window_end, user_id, COUNT(*), SUM(amount)
  FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, user_id`
}

// TestScaleOutWindowMembersInProcess: a TUMBLE window aggregate run by two in-process members, the second
// joining mid-run, and by a P=1 job of the same query. Each partition's events ascend in time, so no row is
// late but the one written late on purpose, after its window fired; windows fire at the minimum of the four
// source partitions' watermarks. The members' windows (read_committed) are exactly the expected ones, each
// once, and equal the P=1 job's; the late row is dropped by both.
func TestScaleOutWindowMembersInProcess(t *testing.T) {
	const parts = 4
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(parts),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(parts, "clicks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	// Phase 1: 60 s of events per partition, but partition 3 stops at 35 s: its watermark (34 s) holds the
	// windows after [20, 30) back.
	var recs []*kgo.Record
	for p := range parts {
		to := 60
		if p == 3 {
			to = 35
		}
		for i := range to {
			recs = append(recs, clickRecord(p, i, (p*7+i)%5, i%7+p))
		}
	}
	produceRecords(t, addr, recs)
	script := scaleOutScriptNamed(addr, "windows-job", windowsDDL("wins"), windowsInsert("wins"))
	single := strings.ReplaceAll(strings.Join([]string{clicksDDL, windowsDDL("wins1"), windowsInsert("wins1")}, ";\n")+";\n", "ADDR", addr)
	a, aOut := startTestMember(t, script)
	startTestMember(t, single)
	want := wantPhase1(parts)
	var got, got1 []string
	if !waitUntil(30*time.Second, func() bool {
		got, got1 = readWindows(t, addr, "wins"), readWindows(t, addr, "wins1")
		return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
	}) {
		t.Fatalf("phase 1: scale-out %v\nP=1 %v\nwant %v\n%s", got, got1, want, aOut)
	}
	// The second member joins; the late row (window [0, 10) fired) goes to partition 0, then partition 3
	// catches up and every partition goes on to 120 s, in steps until the second member has restored state.
	b, bOut := startTestMember(t, script)
	produceRecords(t, addr, []*kgo.Record{clickRecord(0, 5, 1, 1000)})
	var rest []*kgo.Record
	for i := 35; i < 60; i++ {
		rest = append(rest, clickRecord(3, i, (3*7+i)%5, i%7+3))
	}
	produceRecords(t, addr, rest)
	to := 60
	for ; to < 120; to += 5 {
		produceClicks(t, addr, parts, to, to+5)
		if !strings.Contains(bOut.String(), "restored partitions") {
			time.Sleep(500 * time.Millisecond)
		}
	}
	if !strings.Contains(bOut.String(), "restored partitions") {
		waitUntil(20*time.Second, func() bool { return strings.Contains(bOut.String(), "restored partitions") })
	}
	// The watermark is 118 s: windows up to [100, 110) fire.
	want = wantClickWindows(parts, 120, 110)
	if !waitUntil(40*time.Second, func() bool {
		got, got1 = readWindows(t, addr, "wins"), readWindows(t, addr, "wins1")
		return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
	}) {
		t.Fatalf("phase 2: scale-out %d windows %v\nP=1 %d windows %v\nwant %d windows %v\n%s\n---\n%s", len(got), got, len(got1), got1, len(want), want, aOut, bOut)
	}
	if !strings.Contains(bOut.String(), "restored partitions") {
		t.Fatalf("the second member did not take partitions:\n%s", bOut)
	}
	if wantOut := int64(len(want)); a.Metrics().RowsOut+b.Metrics().RowsOut != wantOut {
		t.Fatalf("rows out %d+%d, want %d", a.Metrics().RowsOut, b.Metrics().RowsOut, wantOut)
	}
	// Partition 3 goes on to 140 s alone (its watermark, 138 s, fires nothing yet); then the second member
	// leaves and the first restores every partition: its changelog must not hold the windows that fired
	// (they would fire again) and must hold partition 3's watermark (partition 3 gets no row after the
	// rebalance, so nothing else would send it). The other partitions go on to 140 s.
	var p3 []*kgo.Record
	for i := 120; i < 140; i++ {
		p3 = append(p3, clickRecord(3, i, (3*7+i)%5, i%7+3))
	}
	produceRecords(t, addr, p3)
	total := int64(parts*120 + 1 + len(p3))
	if !waitUntil(20*time.Second, func() bool { return a.Metrics().RowsIn+b.Metrics().RowsIn == total }) {
		t.Fatalf("rows in %d+%d, want %d", a.Metrics().RowsIn, b.Metrics().RowsIn, total)
	}
	time.Sleep(time.Second) // the watermark records of partition 3 are consumed by stage 2
	restores := strings.Count(aOut.String(), "restored partitions")
	b.Cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = b.Wait(ctx)
	var rest3 []*kgo.Record
	for p := range parts - 1 {
		for i := 120; i < 140; i++ {
			rest3 = append(rest3, clickRecord(p, i, (p*7+i)%5, i%7+p))
		}
	}
	produceRecords(t, addr, rest3)
	want = wantClickWindows(parts, 140, 130)
	if !waitUntil(30*time.Second, func() bool {
		got, got1 = readWindows(t, addr, "wins"), readWindows(t, addr, "wins1")
		return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
	}) {
		t.Fatalf("phase 3: scale-out %d windows %v\nP=1 %d windows %v\nwant %d windows %v\n%s", len(got), got, len(got1), got1, len(want), want, aOut)
	}
	if strings.Count(aOut.String(), "restored partitions") == restores {
		t.Fatalf("the first member did not take the second's partitions:\n%s", aOut)
	}
}

// wantPhase1 are the windows of phase 1: every partition to 60 s but partition 3 to 35 s; the watermark is
// 34 s, so the windows up to [20, 30) fire.
func wantPhase1(parts int) []string {
	return wantClickWindows(parts, 35, 30)
}

// scaleOutScriptNamed is a member's script with the job name and statements, without the orders table.
func scaleOutScriptNamed(addr, name string, stmts ...string) string {
	all := append([]string{
		`SET 'sluice.scale-out.enabled' = 'true'`,
		`SET 'pipeline.name' = '` + name + `'`,
		`SET 'sluice.scale-out.session-timeout' = '2 s'`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s'`,
		clicksDDL,
	}, stmts...)
	return strings.ReplaceAll(strings.Join(all, ";\n")+";\n", "ADDR", addr)
}

// TestScaleOutWindowKindsInProcess: HOP, CUMULATE and the legacy GROUP BY TUMBLE(...) run by a scale-out
// member (per-window aggregation after the window TVF) give the windows of a P=1 job of the same query
// (slice-shared at P=1), each once.
func TestScaleOutWindowKindsInProcess(t *testing.T) {
	for _, tc := range []struct{ name, from string }{
		{"hop", `FROM TABLE(HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND)) GROUP BY window_start, window_end, user_id`},
		{"cumulate", `FROM TABLE(CUMULATE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND)) GROUP BY window_start, window_end, user_id`},
		{"legacy tumble", `FROM clicks GROUP BY TUMBLE(ts, INTERVAL '10' SECOND), user_id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const parts = 4
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(parts),
				kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(parts, "clicks"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			addr := c.ListenAddrs()[0]
			produceClicks(t, addr, parts, 0, 60)
			sel := `SELECT window_start, window_end, user_id, COUNT(*), SUM(amount) `
			if strings.HasPrefix(tc.name, "legacy") {
				sel = `SELECT TUMBLE_START(ts, INTERVAL '10' SECOND), TUMBLE_END(ts, INTERVAL '10' SECOND), user_id, COUNT(*), SUM(amount) `
			}
			insert := func(topic string) string { return `INSERT INTO ` + topic + ` ` + sel + tc.from }
			_, out := startTestMember(t, scaleOutScriptNamed(addr, "kinds-job", windowsDDL("wins"), insert("wins")))
			startTestMember(t, strings.ReplaceAll(strings.Join([]string{clicksDDL, windowsDDL("wins1"), insert("wins1")}, ";\n")+";\n", "ADDR", addr))
			var got, got1 []string
			// The watermark is 58 s: the last windows to fire end at 55 s (50 s for TUMBLE).
			last := "-55 user"
			if strings.HasPrefix(tc.name, "legacy") {
				last = "-50 user"
			}
			if !waitUntil(30*time.Second, func() bool {
				got, got1 = readWindows(t, addr, "wins"), readWindows(t, addr, "wins1")
				return fmt.Sprint(got) == fmt.Sprint(got1) && strings.Contains(fmt.Sprint(got1), last)
			}) {
				t.Fatalf("scale-out %d windows %v\nP=1 %d windows %v\n%s", len(got), got, len(got1), got1, out)
			}
			if strings.HasPrefix(tc.name, "legacy") && fmt.Sprint(got) != fmt.Sprint(wantClickWindows(parts, 60, 50)) {
				t.Fatalf("got %v, want %v", got, wantClickWindows(parts, 60, 50))
			}
		})
	}
}
