package crashtest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// scaleOutJoinQuery joins every order with its user's carrier (both insert-only kafka tables) into the
// append kafka table 'shipped'.
const scaleOutJoinQuery = `CREATE TABLE carriers (user_id BIGINT, carrier STRING) WITH (
  'connector' = 'kafka', 'topic' = 'carriers', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE shipped (id BIGINT, carrier STRING) WITH (
  'connector' = 'kafka', 'topic' = 'shipped', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json');
INSERT INTO shipped SELECT o.id, c.carrier FROM orders o JOIN carriers c ON o.user_id = c.user_id;`

// shippedDiff compares 'shipped' (read_committed) with the join of orders 0..n-1: each order once, with
// the carrier of its user ("" when equal).
func shippedDiff(t *testing.T, addr string, n, users int) string {
	seen := map[int64]int{}
	bad := ""
	for _, r := range consume(t, addr, "shipped", true) {
		var v struct {
			ID      int64  `json:"id"`
			Carrier string `json:"carrier"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable value %q", r.Value)
		}
		seen[v.ID]++
		if want := fmt.Sprintf("c%d", v.ID%int64(users)%3); bad == "" && v.Carrier != want {
			bad = fmt.Sprintf("wrong row %s; ", r.Value)
		}
	}
	missing, dup, example := 0, 0, ""
	for i := range n {
		switch got := seen[int64(i)]; {
		case got == 0:
			missing++
			if example == "" {
				example = fmt.Sprintf("order %d missing", i)
			}
		case got > 1:
			dup++
			if example == "" {
				example = fmt.Sprintf("order %d written %d times", i, got)
			}
		}
		delete(seen, int64(i))
	}
	if bad == "" && missing == 0 && dup == 0 && len(seen) == 0 {
		return ""
	}
	return fmt.Sprintf("%s%d orders missing, %d written more than once (%s), %d unknown ids", bad, missing, dup, example, len(seen))
}

// TestScaleOutJoinKill: three processes run a regular join (orders fed during the run, the users'
// carriers written first) over 8 partitions; one is killed with SIGKILL. The survivors restore the join
// state of its partitions from the join's changelog (the carriers, and the orders seen), and read_committed
// the sink holds every order's joined row exactly once.
func TestScaleOutJoinKill(t *testing.T) {
	addr, _ := scaleOutBroker(t)
	dir := t.TempDir()
	const users = 200
	var carriers []*kgo.Record
	for u := range users {
		carriers = append(carriers, &kgo.Record{Value: fmt.Appendf(nil, `{"user_id":%d,"carrier":"c%d"}`, u, u%3)})
	}
	produce(t, addr, "carriers", carriers)
	produce(t, addr, "orders", orders(0, 4000, users))
	f := feed(t, addr, "orders", 4000, users)
	sql := scaleOutScript(addr, scaleOutJoinQuery)
	members := startMembers(t, dir, sql, "restored partitions", func() bool { return len(consume(t, addr, "shipped", true)) > 0 })
	time.Sleep(time.Second)
	before := []int{restoredEntries(members[1].Output()), restoredEntries(members[2].Output())}
	members[0].Kill()
	killedAt := time.Now()
	time.Sleep(4 * time.Second)
	total := f.end()
	var diff string
	ok := waitFor(40*time.Second, func() bool {
		diff = shippedDiff(t, addr, total, users)
		return diff == ""
	})
	for i, c := range members[1:] {
		if c.Exited() {
			t.Fatalf("member %d ended by itself:\n%s", i+1, indent(c.Output()))
		}
	}
	if !ok {
		t.Fatalf("after killing a member: %s\nsurvivors:\n%s\n---\n%s", diff, indent(members[1].Output()), indent(members[2].Output()))
	}
	after := []int{restoredEntries(members[1].Output()), restoredEntries(members[2].Output())}
	if after[0] == before[0] && after[1] == before[1] {
		t.Fatalf("no survivor restored join state after the kill:\n%s\n---\n%s", indent(members[1].Output()), indent(members[2].Output()))
	}
	t.Logf("3 members, 1 killed: %d orders joined exactly once %s after the kill; survivors restored %d and %d rows since",
		total, time.Since(killedAt).Round(100*time.Millisecond), after[0]-before[0], after[1]-before[1])
}
