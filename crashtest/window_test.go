package crashtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestWindowExactlyOnceKill: kafka (4 partitions, event time from the order id, per-partition watermarks) →
// TUMBLE window aggregate (state checkpointed) → kafka with 'sink.delivery-guarantee' = 'exactly-once',
// killed at random moments and restarted from the latest checkpoint, with the aggregate's parallelism
// changing between runs. A read_committed consumer must see each (user, window) exactly once with its exact
// count and total, and every window that the final watermark closed.
func TestWindowExactlyOnceKill(t *testing.T) {
	const users = 50
	addr := broker(t, 4)
	dir := t.TempDir()
	ckpts := dir + "/checkpoints"
	rng := rand.New(rand.NewPCG(4, uint64(time.Now().UnixNano())))
	// Order i happens at i*10 ms, so window w (1 s) holds orders [100w, 100w+100): two per user.
	body := []string{
		`SET 'execution.checkpointing.interval' = '200 ms';`,
		`SET 'state.checkpoints.dir' = '` + fileURL(ckpts) + `';`,
		`CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT,
  ts AS TO_TIMESTAMP_LTZ(id * 10, 3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'properties.group.id' = 'crash-win', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');`,
		`CREATE TABLE wins (user_id BIGINT, first_id BIGINT, cnt BIGINT, total BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'wins', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'crash-win');`,
		`INSERT INTO wins SELECT user_id, MIN(id), COUNT(*), SUM(amount)
  FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' SECOND))
  GROUP BY user_id, window_start, window_end;`,
	}
	r := &restarts{t: t, dir: dir, addr: addr, ckpts: ckpts, body: body, parallelism: []int{2, 1, 3}}
	f := feed(t, addr, "orders", 0, users)
	r.kill(rng, 150*time.Millisecond, 1200*time.Millisecond)
	total := f.end()
	type agg struct{ Cnt, Total int64 }
	type win struct{ user, w int64 }
	want := map[win]agg{}
	for i := 0; i < total; i++ {
		k := win{int64(i % users), int64(i / 100)}
		a := want[k]
		a.Cnt++
		a.Total += int64(i % 7)
		want[k] = a
	}
	// The watermark is the smallest partition's latest time minus 1 s; the feeder writes batches of 100
	// orders over all partitions, so windows ending 3 s before the last order are closed for sure.
	closed := int64(total/100) - 3
	c := r.start()
	defer c.Kill()
	seen := map[win]int{}
	got := map[win]agg{}
	waitFor(60*time.Second, func() bool {
		seen, got = map[win]int{}, map[win]agg{}
		for _, r := range consume(t, addr, "wins", true) {
			var v struct {
				UserID  int64 `json:"user_id"`
				FirstID int64 `json:"first_id"`
				Cnt     int64 `json:"cnt"`
				Total   int64 `json:"total"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("unreadable row %q", r.Value)
			}
			k := win{v.UserID, v.FirstID / 100}
			seen[k]++
			got[k] = agg{v.Cnt, v.Total}
		}
		for k := range want {
			if k.w < closed && seen[k] == 0 {
				return false
			}
		}
		return true
	})
	lost, dups, wrong := 0, 0, 0
	example := ""
	for k, w := range want {
		switch n := seen[k]; {
		case n == 0 && k.w < closed:
			lost++
		case n > 1:
			dups += n - 1
		case n == 1 && got[k] != w:
			wrong++
			if example == "" {
				example = fmt.Sprintf("user %d window %d: got %+v, want %+v", k.user, k.w, got[k], w)
			}
		}
	}
	for k := range seen {
		if _, ok := want[k]; !ok {
			wrong++
			example = fmt.Sprintf("user %d window %d was written but has no orders", k.user, k.w)
		}
	}
	t.Logf("%d kills (%d runs restored from a checkpoint, the last included), %d orders, %d windows closed: %d lost, %d duplicated, %d wrong", *kills, r.restored, total, closed, lost, dups, wrong)
	if lost > 0 || dups > 0 || wrong > 0 {
		t.Fatalf("window results after %d kills: %d (user, window) rows lost, %d duplicated, %d wrong (%s)\nlast client output:\n%s", *kills, lost, dups, wrong, example, indent(c.Output()))
	}
}
