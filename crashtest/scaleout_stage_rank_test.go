package crashtest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

// scaleOutTopNQuery is a ROW_NUMBER() Top-N over a GROUP BY, two keyed stages (engine/scaleout_stage_rank.go):
// per user group (user_id % 40) the three users with the highest sum of (amount - 3), ties by user id. A
// user's sum rises and falls with every order (amounts cycle through 0..6), so top rows leave and come back:
// a Top-N that lost rows in a restore, or took a retraction twice, shows. Only every third user's orders
// count after the first 4000 (scaleOutKillRun's initial orders): the others' rows stay in the Top-N state
// unchanged, so that a Top-N restored without them ranks the changing users' rows wrongly. The planner does not see that the
// sink's key (g, rn) is the Top-N's (g comes from a projection under the GROUP BY), so the upsert
// materializer is turned off: a scale-out job refuses one.
const scaleOutTopNQuery = `SET 'table.exec.sink.upsert-materialize' = 'NONE';
CREATE TABLE topn (g BIGINT, rn BIGINT, user_id BIGINT, total BIGINT, PRIMARY KEY (g, rn) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'topn', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
INSERT INTO topn SELECT g, rn, user_id, total FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY g ORDER BY total DESC, user_id) AS rn FROM (
    SELECT g, user_id, SUM(amount - 3) AS total FROM (SELECT MOD(user_id, 40) AS g, user_id, amount FROM orders
      WHERE id < 4000 OR MOD(user_id, 3) = 0)
    GROUP BY g, user_id)) WHERE rn <= 3;`

// topNOf reads 'topn' (read_committed) as a compacted topic reads: "g/rn" -> "user/total".
func topNOf(t *testing.T, addr string) map[string]string {
	got := map[string]string{}
	for _, r := range consume(t, addr, "topn", true) {
		var k struct {
			G  int64 `json:"g"`
			Rn int64 `json:"rn"`
		}
		if err := json.Unmarshal(r.Key, &k); err != nil {
			t.Fatalf("unreadable key %q", r.Key)
		}
		key := fmt.Sprintf("%d/%d", k.G, k.Rn)
		if r.Value == nil {
			delete(got, key)
			continue
		}
		var v struct {
			User  int64 `json:"user_id"`
			Total int64 `json:"total"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable value %q", r.Value)
		}
		got[key] = fmt.Sprintf("%d/%d", v.User, v.Total)
	}
	return got
}

// expectedTopN is scaleOutTopNQuery's result over orders 0..n-1 (user id % users, amount id % 7).
func expectedTopN(n, users int) map[string]string {
	totals := map[int]int64{}
	for id := range n {
		if u := id % users; id < 4000 || u%3 == 0 {
			totals[u] += int64(id%7 - 3)
		}
	}
	per := map[int][]int{}
	for u := range totals {
		per[u%40] = append(per[u%40], u)
	}
	want := map[string]string{}
	for g, us := range per {
		slices.SortFunc(us, func(a, b int) int {
			if totals[a] != totals[b] {
				return int(totals[b] - totals[a])
			}
			return a - b
		})
		for i := 0; i < 3 && i < len(us); i++ {
			want[fmt.Sprintf("%d/%d", g, i+1)] = fmt.Sprintf("%d/%d", us[i], totals[us[i]])
		}
	}
	return want
}

// TestScaleOutTopNOverGroupByKill: three processes run scaleOutTopNQuery (a GROUP BY stage and a Top-N
// stage) while orders keep coming; one is killed with SIGKILL mid-run. The survivors restore its
// partitions of both stages, and the compacted Top-N equals the one computed from the orders.
func TestScaleOutTopNOverGroupByKill(t *testing.T) {
	const users = 299
	var want map[string]string
	r := scaleOutKillRun(t, scaleOutTopNQuery, users, func(addr string) bool { return len(topNOf(t, addr)) > 0 },
		func(addr string, total int) string {
			if want == nil {
				want = expectedTopN(total, users)
			}
			got := topNOf(t, addr)
			if fmt.Sprint(got) == fmt.Sprint(want) {
				return ""
			}
			return fmt.Sprintf("Top-N %v, want %v", got, want)
		})
	t.Logf("3 members, 1 killed: %d orders, %d Top-N rows exact %s after the kill; survivors restored %d and %d state entries since",
		r.total, len(want), r.took.Round(100*time.Millisecond), r.restored[0], r.restored[1])
}
