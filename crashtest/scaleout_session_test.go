package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A scale-out session window aggregate (engine/scaleout_session.go) run by three sql-client processes.

// Session clicks: in bursts of 12 s every 20 s of event time, two events per second and partition, of
// sessionUsers users; sessions of sessionGapMs.
const (
	sessionUsers = 40
	sessionGapMs = 2000
)

// sessionBurst reports whether second s has events.
func sessionBurst(s int) bool { return s%20 < 12 }

// sessionClickOf is the event at half-second h (0 or 1) of second s in partition p: its user and amount.
func sessionClickOf(p, s, h int) (user, amount int) {
	return (p*7 + s*3 + h*20) % sessionUsers, (s + h + p) % 7
}

// feedSessionClicks produces, every tick, the next second of events into every partition of 'clicks' (none
// between bursts); n counts the seconds.
func feedSessionClicks(t *testing.T, addr string) *feeder {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return ticker(t, 0, func(s int) (int, error) {
		if !sessionBurst(s) {
			return 1, nil
		}
		var recs []*kgo.Record
		for p := range clickParts {
			for h := range 2 {
				u, a := sessionClickOf(p, s, h)
				ts := clickBase.Add(time.Duration(s)*time.Second + time.Duration(h)*500*time.Millisecond)
				recs = append(recs, &kgo.Record{Topic: "clicks", Partition: int32(p),
					Value: fmt.Appendf(nil, `{"user_id":%d,"amount":%d,"ts":"%s"}`, u, a, ts.Format("2006-01-02 15:04:05.000"))})
			}
		}
		return 1, cl.ProduceSync(context.Background(), recs...).FirstErr()
	}, nil)
}

// clickSessions are the sessions ("start-ms user u" -> "end-ms count sum") of the first n seconds of events
// that fire: the watermark is the last event's time - 1 s, the same in every partition, and a session fires
// when its end - 1 ms <= watermark. A user's event starts a new session when it comes more than the gap
// after the user's previous one (its window [t, t+gap) then does not touch the session).
func clickSessions(n int) map[string]string {
	type ev struct{ ms, amount int }
	by := map[int][]ev{}
	last := -1
	for s := range n {
		if !sessionBurst(s) {
			continue
		}
		last = s
		for p := range clickParts {
			for h := range 2 {
				u, a := sessionClickOf(p, s, h)
				by[u] = append(by[u], ev{s*1000 + h*500, a})
			}
		}
	}
	wm := last*1000 + 500 - 1000
	out := map[string]string{}
	for u, evs := range by {
		slices.SortStableFunc(evs, func(a, b ev) int { return a.ms - b.ms })
		for i := 0; i < len(evs); {
			j, sum := i+1, evs[i].amount
			for ; j < len(evs) && evs[j].ms-evs[j-1].ms <= sessionGapMs; j++ {
				sum += evs[j].amount
			}
			if end := evs[j-1].ms + sessionGapMs; end-1 <= wm {
				out[fmt.Sprintf("%d user %d", evs[i].ms, u)] = fmt.Sprintf("%d %d %d", end, j-i, sum)
			}
			i = j
		}
	}
	return out
}

// sessionsDiff compares the sessions of 'sess' (every record, read_committed) with want: each once ("" when
// equal).
func sessionsDiff(t *testing.T, addr string, want map[string]string) string {
	got := map[string][]string{}
	ms := func(s string) int {
		ts, err := time.Parse("2006-01-02 15:04:05", s)
		if err != nil {
			t.Fatalf("session bound %q: %v", s, err)
		}
		return int(ts.Sub(clickBase) / time.Millisecond)
	}
	for _, r := range consume(t, addr, "sess", true) {
		var v struct {
			WindowStart string `json:"window_start"`
			WindowEnd   string `json:"window_end"`
			UserID      int64  `json:"user_id"`
			Cnt, Total  int64
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable session %q", r.Value)
		}
		k := fmt.Sprintf("%d user %d", ms(v.WindowStart), v.UserID)
		got[k] = append(got[k], fmt.Sprintf("%d %d %d", ms(v.WindowEnd), v.Cnt, v.Total))
	}
	missing, dup, wrong, example := 0, 0, 0, ""
	for k, w := range want {
		switch g := got[k]; {
		case len(g) == 0:
			missing++
		case len(g) > 1:
			dup++
			example = fmt.Sprintf("session %s written %d times", k, len(g))
		case g[0] != w:
			wrong++
			example = fmt.Sprintf("session %s: got %s, want %s", k, g[0], w)
		}
		delete(got, k)
	}
	if missing == 0 && dup == 0 && wrong == 0 && len(got) == 0 {
		return ""
	}
	for k, g := range got {
		example += fmt.Sprintf("; unexpected %s: %v", k, g)
		break
	}
	return fmt.Sprintf("%d of %d sessions missing, %d written more than once, %d wrong (%s), %d unexpected", missing, len(want), dup, wrong, example, len(got))
}

// TestScaleOutSessionKill: three processes run a SESSION window TVF aggregate (gap 2 s, 40 users) over an
// 8-partition topic fed during the run into an append kafka table; one is killed with SIGKILL. The
// survivors restore its partitions' open sessions, fired watermark and source watermarks from the
// changelog, and read_committed the sink holds every session that the final watermark closes exactly once,
// with its exact bounds, count and sum.
func TestScaleOutSessionKill(t *testing.T) { runSessionKill(t, false) }

// TestScaleOutSessionUpsertKill: TestScaleOutSessionKill with the legacy GROUP BY SESSION(...) (Nexmark
// q11's shape) into an upsert-kafka table keyed by the user and the session's bounds; every record of its
// topic is read, so a session written twice is seen.
func TestScaleOutSessionUpsertKill(t *testing.T) { runSessionKill(t, true) }

func runSessionKill(t *testing.T, upsert bool) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(clickParts),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(clickParts, "clicks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	dir := t.TempDir()
	f := feedSessionClicks(t, addr)
	sink := `CREATE TABLE sess (window_start TIMESTAMP(3), window_end TIMESTAMP(3), user_id BIGINT, cnt BIGINT, total BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'sess', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json');`
	insert := `INSERT INTO sess SELECT window_start, window_end, user_id, COUNT(*), SUM(amount)
  FROM TABLE(SESSION(TABLE clicks PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '2' SECOND)) GROUP BY window_start, window_end, user_id;`
	if upsert {
		sink = `CREATE TABLE sess (window_start TIMESTAMP(3), window_end TIMESTAMP(3), user_id BIGINT, cnt BIGINT, total BIGINT,
  PRIMARY KEY (user_id, window_start, window_end) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'sess', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');`
		insert = `INSERT INTO sess SELECT SESSION_START(ts, INTERVAL '2' SECOND), SESSION_END(ts, INTERVAL '2' SECOND),
  user_id, COUNT(*), SUM(amount) FROM clicks GROUP BY user_id, SESSION(ts, INTERVAL '2' SECOND);`
	}
	sql := script(addr,
		`SET 'sluice.scale-out.enabled' = 'true';`,
		`SET 'pipeline.name' = 'sessions-job';`,
		`SET 'sluice.scale-out.session-timeout' = '2 s';`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s';`,
		`CREATE TABLE clicks (user_id BIGINT, amount BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'clicks', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');`,
		sink, insert)
	members := startMembers(t, dir, sql, "restored partitions", func() bool { return len(consume(t, addr, "sess", true)) > 50 })
	time.Sleep(2 * time.Second) // the group settles: every member owns partitions
	members[0].Kill()
	killedAt := time.Now()
	time.Sleep(5 * time.Second)
	n := f.end()
	want := clickSessions(n)
	var diff string
	ok := waitFor(40*time.Second, func() bool {
		diff = sessionsDiff(t, addr, want)
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
	t.Logf("3 members, 1 killed: %d s of events, %d sessions each once %s after the kill", n, len(want), time.Since(killedAt).Round(100*time.Millisecond))
}
