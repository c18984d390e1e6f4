package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A scale-out window aggregate (engine/scaleout_window.go) run by three sql-client processes.

var clickBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const clickParts = 8

// clickOf is the event at half-second h (0 or 1) of second s in partition p: its user and amount.
func clickOf(p, s, h int) (user, amount int) { return (p*7 + s*2 + h) % 5, (s + h + p) % 7 }

// feedClicks produces, every tick, the next second of events into the first fed partitions of 'clicks' (two
// events per second and partition, ascending in time within a partition); n counts the seconds.
func feedClicks(t *testing.T, addr string, fed int) *feeder {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return ticker(t, 0, func(s int) (int, error) {
		var recs []*kgo.Record
		for p := range fed {
			for h := range 2 {
				u, a := clickOf(p, s, h)
				ts := clickBase.Add(time.Duration(s)*time.Second + time.Duration(h)*500*time.Millisecond)
				recs = append(recs, &kgo.Record{Topic: "clicks", Partition: int32(p),
					Value: fmt.Appendf(nil, `{"user_id":%d,"amount":%d,"ts":"%s"}`, u, a, ts.Format("2006-01-02 15:04:05.000"))})
			}
		}
		return 1, cl.ProduceSync(context.Background(), recs...).FirstErr()
	}, nil)
}

// clickWindows are the 10-second windows (start second, user) -> "count sum" of the first n seconds of
// events of the first fed partitions that fire: the watermark is the last event's time (n-1 s + 500 ms) -
// 1 s, the same in every fed partition, and a window fires when window_end - 1 ms <= watermark.
func clickWindows(n, fed int) map[string]string {
	wm := int64(n-1)*1000 + 500 - 1000
	type agg struct{ cnt, sum int }
	aggs := map[[2]int]agg{}
	for s := range n {
		w := s / 10 * 10
		if int64(w+10)*1000-1 > wm {
			continue
		}
		for p := range fed {
			for h := range 2 {
				u, a := clickOf(p, s, h)
				x := aggs[[2]int{w, u}]
				x.cnt++
				x.sum += a
				aggs[[2]int{w, u}] = x
			}
		}
	}
	out := map[string]string{}
	for k, a := range aggs {
		out[fmt.Sprintf("%d user %d", k[0], k[1])] = fmt.Sprintf("%d %d", a.cnt, a.sum)
	}
	return out
}

// windowsDiff compares the windows of 'wins' (read_committed) with want: each once ("" when equal).
func windowsDiff(t *testing.T, addr string, want map[string]string) string {
	got := map[string][]string{}
	for _, r := range consume(t, addr, "wins", true) {
		var v struct {
			WindowStart string `json:"window_start"`
			UserID      int64  `json:"user_id"`
			Cnt, Total  int64
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable window %q", r.Value)
		}
		ts, err := time.Parse("2006-01-02 15:04:05", v.WindowStart)
		if err != nil {
			t.Fatalf("window %q: %v", r.Value, err)
		}
		k := fmt.Sprintf("%d user %d", int(ts.Sub(clickBase)/time.Second), v.UserID)
		got[k] = append(got[k], fmt.Sprintf("%d %d", v.Cnt, v.Total))
	}
	missing, dup, wrong, example := 0, 0, 0, ""
	for k, w := range want {
		switch g := got[k]; {
		case len(g) == 0:
			missing++
		case len(g) > 1:
			dup++
			example = fmt.Sprintf("window %s written %d times", k, len(g))
		case g[0] != w:
			wrong++
			example = fmt.Sprintf("window %s: got %s, want %s", k, g[0], w)
		}
		delete(got, k)
	}
	if missing == 0 && dup == 0 && wrong == 0 && len(got) == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d windows missing, %d written more than once, %d wrong (%s), %d unexpected", missing, len(want), dup, wrong, example, len(got))
}

// TestScaleOutWindowKill: three processes run a TUMBLE window aggregate over an 8-partition topic fed during
// the run (watermarks cross the processes through the repartition topic); one is killed with SIGKILL. The
// survivors restore its partitions' open windows and source watermarks from the changelog, and read_committed
// the sink holds every window that the final watermark closes exactly once, with its exact count and sum.
func TestScaleOutWindowKill(t *testing.T) { runWindowKill(t, false) }

// TestScaleOutWindowIdleKill: TestScaleOutWindowKill with partition 7 of the 8 never fed and
// 'table.exec.source.idle-timeout' = '2 s': its owner marks it idle (again after the kill's rebalance,
// measured from the first poll with records, not from the assignment), the survivors restore the idle flag
// with the source watermarks, and every window the fed partitions' final watermark closes is written
// exactly once.
func TestScaleOutWindowIdleKill(t *testing.T) { runWindowKill(t, true) }

func runWindowKill(t *testing.T, idle bool) {
	fed, idleSet := clickParts, ""
	if idle {
		fed, idleSet = clickParts-1, `SET 'table.exec.source.idle-timeout' = '2 s';`
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(clickParts),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(clickParts, "clicks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	dir := t.TempDir()
	f := feedClicks(t, addr, fed)
	sql := script(addr,
		idleSet,
		`SET 'sluice.scale-out.enabled' = 'true';`,
		`SET 'pipeline.name' = 'windows-job';`,
		`SET 'sluice.scale-out.session-timeout' = '2 s';`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s';`,
		`CREATE TABLE clicks (user_id BIGINT, amount BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'clicks', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');`,
		`CREATE TABLE wins (window_start TIMESTAMP(3), window_end TIMESTAMP(3), user_id BIGINT, cnt BIGINT, total BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'wins', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json');`,
		`INSERT INTO wins SELECT window_start, window_end, user_id, COUNT(*), SUM(amount)
  FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, user_id;`)
	members := startMembers(t, dir, sql, "restored partitions", func() bool { return len(consume(t, addr, "wins", true)) > 50 })
	time.Sleep(2 * time.Second) // the group settles: every member owns partitions
	members[0].Kill()
	killedAt := time.Now()
	time.Sleep(5 * time.Second)
	n := f.end()
	want := clickWindows(n, fed)
	var diff string
	ok := waitFor(40*time.Second, func() bool {
		diff = windowsDiff(t, addr, want)
		return diff == ""
	})
	for i, c := range members[1:] {
		if c.Exited() {
			t.Fatalf("member %d ended by itself:\n%s", i+1, indent(c.Output()))
		}
	}
	if !ok {
		t.Fatalf("after killing a member (%d s of events): %s\nsurvivors:\n%s\n---\n%s", n, diff, indent(members[1].Output()), indent(members[2].Output()))
	}
	if restoredEntries(members[1].Output())+restoredEntries(members[2].Output()) == 0 {
		t.Fatalf("no survivor restored state from the changelog:\n%s\n---\n%s", indent(members[1].Output()), indent(members[2].Output()))
	}
	t.Logf("3 members, 1 killed: %d s of events, %d windows each once %s after the kill", n, len(want), time.Since(killedAt).Round(100*time.Millisecond))
}
