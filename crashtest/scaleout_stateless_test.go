package crashtest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// scaleOutCopyQuery is a stateless scale-out plan: a filter and a projection from 'orders' into the append
// kafka table 'copy' (no repartition or changelog topic, no state).
const scaleOutCopyQuery = `CREATE TABLE copy (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'copy', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json');
INSERT INTO copy SELECT id, user_id, amount * 10 FROM orders WHERE amount > 1;`

// copyDiff compares the rows of 'copy' (read_committed) with those the query makes of orders 0..n-1: each
// once ("" when equal).
func copyDiff(t *testing.T, addr string, n, users int) string {
	seen := map[int64]int{}
	bad := ""
	for _, r := range consume(t, addr, "copy", true) {
		var v struct {
			ID     int64 `json:"id"`
			UserID int64 `json:"user_id"`
			Amount int64 `json:"amount"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable value %q", r.Value)
		}
		seen[v.ID]++
		if bad == "" && (v.UserID != v.ID%int64(users) || v.Amount != v.ID%7*10 || v.ID%7 <= 1) {
			bad = fmt.Sprintf("wrong row %s; ", r.Value)
		}
	}
	missing, dup, example := 0, 0, ""
	for i := range n {
		want := 0
		if i%7 > 1 {
			want = 1
		}
		switch got := seen[int64(i)]; {
		case got < want:
			missing++
		case got > want:
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

// TestScaleOutStatelessKill: three processes run a stateless job (filter and projection, kafka to kafka)
// over an 8-partition topic fed during the run; one is killed with SIGKILL. Its open transaction is
// aborted, the survivors take its partitions over from the committed offsets, and read_committed the sink
// holds every expected row exactly once.
func TestScaleOutStatelessKill(t *testing.T) {
	addr, _ := scaleOutBroker(t)
	dir := t.TempDir()
	const users = 200
	produce(t, addr, "orders", orders(0, 4000, users))
	f := feed(t, addr, "orders", 4000, users)
	sql := scaleOutScript(addr, scaleOutCopyQuery)
	members := startMembers(t, dir, sql, "a stateless plan (no repartition or changelog topic", func() bool { return len(consume(t, addr, "copy", true)) > 4000 })
	time.Sleep(2 * time.Second) // the group settles: every member owns partitions
	members[0].Kill()
	killedAt := time.Now()
	time.Sleep(4 * time.Second)
	total := f.end()
	var diff string
	ok := waitFor(40*time.Second, func() bool {
		diff = copyDiff(t, addr, total, users)
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
	t.Logf("3 members, 1 killed: %d orders, each expected row once %s after the kill", total, time.Since(killedAt).Round(100*time.Millisecond))
}
