package crashtest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// scaleOutTopNJoinQuery is a ROW_NUMBER() Top-N over an INNER join of two insert-only kafka tables, two keyed
// stages whose Top-N keeps only its top rows (engine/scaleout_stage_rank_append.go): per user the three
// orders with the largest amount, the latest first among equal amounts, with the user's carrier. After the
// first 4000 orders (scaleOutKillRunFed's initial ones) only every third user gets all its orders, the
// others only those of amounts 0..2: an amount-6 order of the first goes first and pushes the others down,
// so their top rows keep changing; the others' top rows stay, and a Top-N restored without them would put
// a later low order first.
const scaleOutTopNJoinQuery = `CREATE TABLE carriers (user_id BIGINT, carrier STRING) WITH (
  'connector' = 'kafka', 'topic' = 'carriers', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE topj (user_id BIGINT, rn BIGINT, id BIGINT, carrier STRING, PRIMARY KEY (user_id, rn) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'topj', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
INSERT INTO topj SELECT user_id, rn, id, carrier FROM (
  SELECT o.id, o.user_id, c.carrier, ROW_NUMBER() OVER (PARTITION BY o.user_id ORDER BY o.amount DESC, o.id DESC) AS rn
  FROM orders o JOIN carriers c ON o.user_id = c.user_id WHERE o.id < 4000 OR o.amount < 3 OR MOD(o.user_id, 3) = 0)
  WHERE rn <= 3;`

// topJOf reads 'topj' (read_committed) as a compacted topic reads: "user/rn" -> "id/carrier".
func topJOf(t *testing.T, addr string) map[string]string {
	got := map[string]string{}
	for _, r := range consume(t, addr, "topj", true) {
		var k struct {
			User int64 `json:"user_id"`
			Rn   int64 `json:"rn"`
		}
		if err := json.Unmarshal(r.Key, &k); err != nil {
			t.Fatalf("unreadable key %q", r.Key)
		}
		key := fmt.Sprintf("%d/%d", k.User, k.Rn)
		if r.Value == nil {
			delete(got, key)
			continue
		}
		var v struct {
			ID      int64  `json:"id"`
			Carrier string `json:"carrier"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable value %q", r.Value)
		}
		got[key] = fmt.Sprintf("%d/%s", v.ID, v.Carrier)
	}
	return got
}

// expectedTopJ is scaleOutTopNJoinQuery's result over orders 0..n-1 (user id % users, amount id % 7, those
// the query keeps) and the carriers c<user % 3>.
func expectedTopJ(n, users int) map[string]string {
	per := map[int][]int{}
	for id := range n {
		if u := id % users; id < 4000 || id%7 < 3 || u%3 == 0 {
			per[u] = append(per[u], id)
		}
	}
	want := map[string]string{}
	for u, ids := range per {
		slices.SortFunc(ids, func(a, b int) int {
			if a%7 != b%7 {
				return b%7 - a%7
			}
			return b - a
		})
		for i := 0; i < 3 && i < len(ids); i++ {
			want[fmt.Sprintf("%d/%d", u, i+1)] = fmt.Sprintf("%d/c%d", ids[i], u%3)
		}
	}
	return want
}

// TestScaleOutInsertOnlyTopNOverJoinKill: three processes run scaleOutTopNJoinQuery (a join stage and an insert-only
// Top-N stage) while orders keep coming; one is killed with SIGKILL mid-run. The survivors restore its
// partitions of both stages (the Top-N's from its changelog of top rows), and the compacted Top-N equals
// the one computed from the orders.
func TestScaleOutInsertOnlyTopNOverJoinKill(t *testing.T) {
	const users = 200
	var want map[string]string
	r := scaleOutKillRunFed(t, scaleOutTopNJoinQuery, func(addr string) *feeder {
		var carriers []*kgo.Record
		for u := range users {
			carriers = append(carriers, &kgo.Record{Value: fmt.Appendf(nil, `{"user_id":%d,"carrier":"c%d"}`, u, u%3)})
		}
		produce(t, addr, "carriers", carriers)
		produce(t, addr, "orders", orders(0, 4000, users))
		return feed(t, addr, "orders", 4000, users)
	}, func(addr string) bool { return len(topJOf(t, addr)) > 0 },
		func(addr string, total int) string {
			if want == nil {
				want = expectedTopJ(total, users)
			}
			got := topJOf(t, addr)
			if fmt.Sprint(got) == fmt.Sprint(want) {
				return ""
			}
			return fmt.Sprintf("Top-N %v, want %v", got, want)
		})
	t.Logf("3 members, 1 killed: %d orders, %d Top-N rows exact %s after the kill; survivors restored %d and %d state entries since",
		r.total, len(want), r.took.Round(100*time.Millisecond), r.restored[0], r.restored[1])
}
