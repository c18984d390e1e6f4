package crashtest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// scaleOutHist3Query is three GROUP BY levels, three keyed stages (engine/scaleout_stage.go): the users'
// totals (TestScaleOutTwoStagesKill's filter), summed per user group (user_id % 50), summed per last digit
// of the group. Every order changes a row of each level, and each row of the last sums five groups, so
// a third-stage group that lost its state, or a retraction that carries the wrong old row, shows.
const scaleOutHist3Query = `CREATE TABLE hist3 (d INT, ` + "`groups`" + ` BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (d) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'hist3', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
INSERT INTO hist3 SELECT d, COUNT(*), SUM(cnt), SUM(total) FROM (
  SELECT MOD(g, 10) AS d, g, SUM(cnt) AS cnt, SUM(total) AS total FROM (
    SELECT user_id, MOD(user_id, 50) AS g, COUNT(*) AS cnt, SUM(amount) AS total FROM orders
    WHERE MOD(id, 1 + MOD(user_id, 5)) = 0 GROUP BY user_id) GROUP BY g) GROUP BY d;`

// hist3Of reads 'hist3' (read_committed) as a compacted topic reads: d -> "groups/cnt/total".
func hist3Of(t *testing.T, addr string) map[int64]string {
	got := map[int64]string{}
	for _, r := range consume(t, addr, "hist3", true) {
		var k struct {
			D int64 `json:"d"`
		}
		if err := json.Unmarshal(r.Key, &k); err != nil {
			t.Fatalf("unreadable key %q", r.Key)
		}
		if r.Value == nil {
			delete(got, k.D)
			continue
		}
		var v struct {
			Groups int64 `json:"groups"`
			Cnt    int64 `json:"cnt"`
			Total  int64 `json:"total"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable value %q", r.Value)
		}
		got[k.D] = fmt.Sprintf("%d/%d/%d", v.Groups, v.Cnt, v.Total)
	}
	return got
}

// expectedHist3 is scaleOutHist3Query's result over orders 0..n-1 (user id % users, amount id % 7).
func expectedHist3(n, users int) map[int64]string {
	type row struct{ groups, cnt, total int64 }
	groups := map[int]row{}
	for id := range n {
		if u := id % users; id%(1+u%5) == 0 {
			g := groups[u%50]
			g.cnt++
			g.total += int64(id % 7)
			groups[u%50] = g
		}
	}
	by := map[int64]row{}
	for g, r := range groups {
		d := by[int64(g%10)]
		d.groups++
		d.cnt += r.cnt
		d.total += r.total
		by[int64(g%10)] = d
	}
	want := map[int64]string{}
	for d, r := range by {
		want[d] = fmt.Sprintf("%d/%d/%d", r.groups, r.cnt, r.total)
	}
	return want
}

// TestScaleOutThreeStagesKill: three processes run scaleOutHist3Query
// (three keyed stages: three repartition and three changelog topics) while orders keep coming; one is
// killed with SIGKILL mid-run. The survivors restore its partitions of all three stages, and the compacted
// result equals the one computed from the orders: the third aggregate took the second's retractions once.
func TestScaleOutThreeStagesKill(t *testing.T) {
	const users = 299
	var want map[int64]string
	r := scaleOutKillRun(t, scaleOutHist3Query, users, func(addr string) bool { return len(hist3Of(t, addr)) > 0 },
		func(addr string, total int) string {
			if want == nil {
				want = expectedHist3(total, users)
			}
			got := hist3Of(t, addr)
			if fmt.Sprint(got) == fmt.Sprint(want) {
				return ""
			}
			return fmt.Sprintf("result %v, want %v", got, want)
		})
	t.Logf("3 members, 1 killed: %d orders, %d result rows exact %s after the kill; survivors restored %d and %d state entries since",
		r.total, len(want), r.took.Round(100*time.Millisecond), r.restored[0], r.restored[1])
}
