package crashtest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// scaleOutHistQuery is a histogram over the users' totals: a GROUP BY over a GROUP BY, which a scale-out job
// runs as two keyed stages (engine/scaleout_stage.go). A user keeps every (1 + user_id % 5)-th order, so the
// users' counts, and the buckets, differ. Each bucket also sums its users' totals, so a retraction that
// carries the wrong old row, or none, shows.
const scaleOutHistQuery = `CREATE TABLE hist (cnt BIGINT, users BIGINT, total BIGINT, PRIMARY KEY (cnt) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'hist', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
INSERT INTO hist SELECT cnt, COUNT(*), SUM(total) FROM (
  SELECT user_id, COUNT(*) AS cnt, SUM(amount) AS total FROM orders WHERE MOD(id, 1 + MOD(user_id, 5)) = 0 GROUP BY user_id) GROUP BY cnt;`

// histOf reads 'hist' (read_committed) as a compacted topic reads: cnt -> "users/total".
func histOf(t *testing.T, addr string) map[int64]string {
	got := map[int64]string{}
	for _, r := range consume(t, addr, "hist", true) {
		var k struct {
			Cnt int64 `json:"cnt"`
		}
		if err := json.Unmarshal(r.Key, &k); err != nil {
			t.Fatalf("unreadable key %q", r.Key)
		}
		if r.Value == nil {
			delete(got, k.Cnt)
			continue
		}
		var v struct {
			Users int64 `json:"users"`
			Total int64 `json:"total"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable value %q", r.Value)
		}
		got[k.Cnt] = fmt.Sprintf("%d/%d", v.Users, v.Total)
	}
	return got
}

// expectedHist is the histogram of the totals of orders 0..n-1 (user id % users, amount id % 7) that
// scaleOutHistQuery keeps.
func expectedHist(n, users int) map[int64]string {
	type bucket struct{ users, total int64 }
	totals := map[int]userTotal{}
	for id := range n {
		if u := id % users; id%(1+u%5) == 0 {
			w := totals[u]
			w.Cnt++
			w.Total += int64(id % 7)
			totals[u] = w
		}
	}
	by := map[int64]bucket{}
	for _, u := range totals {
		b := by[u.Cnt]
		b.users++
		b.total += u.Total
		by[u.Cnt] = b
	}
	want := map[int64]string{}
	for c, b := range by {
		want[c] = fmt.Sprintf("%d/%d", b.users, b.total)
	}
	return want
}

// TestScaleOutTwoStagesKill: three processes run the histogram (two keyed stages, two repartition and two
// changelog topics) over an 8-partition topic while orders keep coming; one is killed with SIGKILL
// mid-run. The survivors take its partitions of both stages over, restoring both aggregates' state from
// their changelogs, and the compacted histogram equals the one computed from the orders: every user's
// count left its old bucket (the second aggregate took the first's retractions once) and nothing was lost
// or counted twice.
func TestScaleOutTwoStagesKill(t *testing.T) {
	const users = 299 // prime to 2..5 and 7: a user's kept orders and amounts cycle
	var want map[int64]string
	r := scaleOutKillRun(t, scaleOutHistQuery, users, func(addr string) bool { return len(histOf(t, addr)) > 0 },
		func(addr string, total int) string {
			if want == nil {
				want = expectedHist(total, users)
			}
			got := histOf(t, addr)
			if fmt.Sprint(got) == fmt.Sprint(want) {
				return ""
			}
			return fmt.Sprintf("histogram %v, want %v", got, want)
		})
	t.Logf("3 members, 1 killed: %d orders, histogram (%d buckets) exact %s after the kill; survivors restored %d and %d state entries since",
		r.total, len(want), r.took.Round(100*time.Millisecond), r.restored[0], r.restored[1])
}

// TestScaleOutJoinThenGroupByKill: a GROUP BY over a regular join (each order joined with itself by id, so
// the totals per user are those of TestScaleOutKill) runs as two keyed stages in three processes; one is
// killed with SIGKILL mid-run. The survivors restore the join's and the aggregate's partitions, and the
// compacted totals are exact.
func TestScaleOutJoinThenGroupByKill(t *testing.T) {
	const users = 200
	const query = `INSERT INTO totals SELECT o.user_id, COUNT(*), SUM(p.amount) FROM orders o JOIN orders p ON o.id = p.id GROUP BY o.user_id;`
	var want map[int64]userTotal
	r := scaleOutKillRun(t, query, users, func(addr string) bool { return len(totalsOf(t, addr)) > 0 },
		func(addr string, total int) string {
			if want == nil {
				want = expectedTotals(total, users)
			}
			return diffTotals(totalsOf(t, addr), want)
		})
	t.Logf("3 members, 1 killed: %d orders, totals of %d users exact %s after the kill; survivors restored %d and %d entries since",
		r.total, len(want), r.took.Round(100*time.Millisecond), r.restored[0], r.restored[1])
}
