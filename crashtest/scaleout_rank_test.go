package crashtest

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"
)

// scaleOutRankQuery writes each user's three orders of the highest amount, the lowest id first among equal
// amounts, into the upsert-kafka table 'top3' keyed by (user_id, rn). The order is total, so the result does
// not depend on the order rows arrive in; and a row once in a user's top is only pushed out by a higher
// amount, so a lost state shows (later orders of the same amount cannot take its place).
const scaleOutRankQuery = `CREATE TABLE top3 (user_id BIGINT, rn BIGINT, id BIGINT, amount BIGINT, PRIMARY KEY (user_id, rn) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'top3', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
INSERT INTO top3 SELECT user_id, rn, id, amount FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY amount DESC, id ASC) AS rn FROM orders) WHERE rn <= 3;`

// top3Of reads 'top3' (read_committed) as a compacted topic reads: "user/rn" -> "id/amount".
func top3Of(t *testing.T, addr string) map[string]string {
	got := map[string]string{}
	for _, r := range consume(t, addr, "top3", true) {
		var k struct {
			UserID int64 `json:"user_id"`
			RN     int64 `json:"rn"`
		}
		if err := json.Unmarshal(r.Key, &k); err != nil {
			t.Fatalf("unreadable key %q", r.Key)
		}
		key := fmt.Sprintf("%d/%d", k.UserID, k.RN)
		if r.Value == nil {
			delete(got, key)
			continue
		}
		var v struct {
			ID     int64 `json:"id"`
			Amount int64 `json:"amount"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable value %q", r.Value)
		}
		got[key] = fmt.Sprintf("%d/%d", v.ID, v.Amount)
	}
	return got
}

// expectedTop3 is the Top-3 of orders 0..n-1 (user id % users, amount id % 7).
func expectedTop3(n, users int) map[string]string {
	by := make([][]int, users)
	for i := range n {
		by[i%users] = append(by[i%users], i)
	}
	want := map[string]string{}
	for u, ids := range by {
		sort.Slice(ids, func(a, b int) bool {
			if ids[a]%7 != ids[b]%7 {
				return ids[a]%7 > ids[b]%7
			}
			return ids[a] < ids[b]
		})
		for r := 0; r < 3 && r < len(ids); r++ {
			want[fmt.Sprintf("%d/%d", u, r+1)] = fmt.Sprintf("%d/%d", ids[r], ids[r]%7)
		}
	}
	return want
}

// diffTop3 describes how got differs from want ("" when equal).
func diffTop3(got, want map[string]string) string {
	wrong, example := 0, ""
	for k, w := range want {
		if got[k] != w {
			wrong++
			if example == "" {
				example = fmt.Sprintf("user/rn %s: got %q, want %q (id/amount)", k, got[k], w)
			}
		}
	}
	if wrong == 0 && len(got) == len(want) {
		return ""
	}
	return fmt.Sprintf("%d of %d row numbers wrong, %d in the output (%s)", wrong, len(want), len(got), example)
}

// TestScaleOutRankKill: three processes run a Top-3 per user over an 8-partition topic into upsert-kafka
// while orders keep coming (5000 users, so most users' tops change during the whole run); one is killed
// with SIGKILL mid-run. The survivors take its partitions over, restoring their Top-N state from the rank
// changelog, and the compacted output equals the true Top-3 of every user.
func TestScaleOutRankKill(t *testing.T) {
	const users = 5000
	var want map[string]string
	r := scaleOutKillRun(t, scaleOutRankQuery, users, func(addr string) bool { return len(top3Of(t, addr)) > 0 },
		func(addr string, total int) string {
			if want == nil {
				want = expectedTop3(total, users)
			}
			return diffTop3(top3Of(t, addr), want)
		})
	t.Logf("3 members, 1 killed: %d orders, Top-3 of %d users exact %s after the kill; survivors restored %d and %d rows since",
		r.total, users, r.took.Round(100*time.Millisecond), r.restored[0], r.restored[1])
}
