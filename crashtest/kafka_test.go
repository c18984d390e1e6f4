package crashtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/proctest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// orders returns JSON order records n0..n0+n-1: {"id": i, "user_id": i % users, "amount": i % 7}.
func orders(n0, n, users int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		id := n0 + i
		recs[i] = &kgo.Record{Key: []byte(fmt.Sprint(id % users)), Value: []byte(fmt.Sprintf(`{"id":%d,"user_id":%d,"amount":%d}`, id, id%users, id%7))}
	}
	return recs
}

func script(addr string, parts ...string) string {
	return strings.ReplaceAll(strings.Join(parts, "\n"), "ADDR", addr)
}

const ordersDDL = `CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'properties.group.id' = 'crash', 'scan.startup.mode' = 'group-offsets', 'properties.auto.offset.reset' = 'earliest',
  'properties.auto.commit.interval.ms' = '100', 'format' = 'json');`

// TestAtLeastOnceKill: kafka → filter → kafka with 'sink.delivery-guarantee' = 'at-least-once' and no
// checkpoints; restarts resume from the consumer group's offsets. Killed at random moments while the broker
// answers produce requests slowly, no row may be lost (duplicates are allowed by at-least-once).
func TestAtLeastOnceKill(t *testing.T) {
	t.Parallel()
	addr := broker(t, 4)
	sinkAddr, sinkCluster := brokerCluster(t, 4)
	slowProduce(sinkCluster, 300*time.Millisecond)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	sql := script(addr, ordersDDL, `CREATE TABLE big (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'big', 'properties.bootstrap.servers' = 'SINK', 'format' = 'json',
  'sink.delivery-guarantee' = 'at-least-once', 'properties.linger.ms' = '50');`,
		`INSERT INTO big SELECT id, user_id, amount FROM orders WHERE amount <> 3;`)
	sql = strings.ReplaceAll(sql, "SINK", sinkAddr)
	f := feed(t, addr, "orders", 0, 50)
	for k := 0; k < *kills; k++ {
		c := proctest.Start(t, clientBin, dir, sql)
		time.Sleep(randomDelay(rng, 100*time.Millisecond, 900*time.Millisecond))
		if c.Exited() {
			t.Fatalf("sql-client ended by itself:\n%s", indent(c.Output()))
		}
		c.Kill()
	}
	total := f.end()
	want := map[int]bool{}
	for i := 0; i < total; i++ {
		if i%7 != 3 {
			want[i] = true
		}
	}
	c := proctest.Start(t, clientBin, dir, sql)
	defer c.Kill()
	seen := map[int]int{}
	ok := waitFor(60*time.Second, func() bool {
		seen = countIDs(t, consume(t, sinkAddr, "big", false))
		for id := range want {
			if seen[id] == 0 {
				return false
			}
		}
		return true
	})
	lost, dups := 0, 0
	for id := range want {
		if seen[id] == 0 {
			lost++
		}
		if seen[id] > 1 {
			dups += seen[id] - 1
		}
	}
	t.Logf("%d kills, %d rows expected: %d lost, %d duplicated (at-least-once allows duplicates)", *kills, len(want), lost, dups)
	if !ok || lost > 0 {
		t.Fatalf("%d of %d rows lost after %d kills\nlast client output:\n%s", lost, len(want), *kills, indent(c.Output()))
	}
}

func countIDs(t *testing.T, recs []*kgo.Record) map[int]int {
	seen := map[int]int{}
	for _, r := range recs {
		var v struct{ ID int }
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable output record %q: %v", r.Value, err)
		}
		seen[v.ID]++
	}
	return seen
}

// TestExactlyOnceKill: kafka → filter → kafka with 'sink.delivery-guarantee' = 'exactly-once' and
// checkpoints every 200 ms, killed at random moments and restarted from the latest checkpoint. A
// read_committed consumer must see every expected row exactly once.
func TestExactlyOnceKill(t *testing.T) { exactlyOnceKill(t, nil) }

// TestExactlyOnceKillParallel: the same with the source running as parallel subtasks that filter and encode
// outside the graph lock, the parallelism changing from run to run (2, 1, 3): each restore reads a
// checkpoint taken at another parallelism.
func TestExactlyOnceKillParallel(t *testing.T) { exactlyOnceKill(t, []int{2, 1, 3}) }

func exactlyOnceKill(t *testing.T, parallelism []int) {
	t.Parallel()
	addr := broker(t, 4)
	dir := t.TempDir()
	ckpts := dir + "/checkpoints"
	rng := rand.New(rand.NewPCG(3, uint64(time.Now().UnixNano())))
	body := []string{
		`SET 'execution.checkpointing.interval' = '200 ms';`,
		`SET 'state.checkpoints.dir' = '` + fileURL(ckpts) + `';`,
		ordersDDL,
		`CREATE TABLE eo (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'eo', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'crash-eo');`,
		`INSERT INTO eo SELECT id, user_id, amount FROM orders WHERE amount <> 3;`,
	}
	r := &restarts{t: t, dir: dir, addr: addr, ckpts: ckpts, body: body, parallelism: parallelism}
	f := feed(t, addr, "orders", 0, 50)
	r.kill(rng, 150*time.Millisecond, 1200*time.Millisecond)
	total := f.end()
	want := 0
	for i := 0; i < total; i++ {
		if i%7 != 3 {
			want++
		}
	}
	c := r.start()
	defer c.Kill()
	var seen map[int]int
	waitFor(60*time.Second, func() bool {
		seen = countIDs(t, consume(t, addr, "eo", true))
		return len(seen) >= want
	})
	lost, dups, extra := 0, 0, 0
	for i := 0; i < total; i++ {
		n := seen[i]
		switch {
		case i%7 == 3:
			extra += n
		case n == 0:
			lost++
		case n > 1:
			dups += n - 1
		}
	}
	t.Logf("%d kills (%d runs restored from a checkpoint, the last included), %d rows expected: %d lost, %d duplicated", *kills, r.restored, want, lost, dups)
	if lost > 0 || dups > 0 || extra > 0 {
		t.Fatalf("exactly-once broken after %d kills: %d lost, %d duplicated, %d rows that the filter drops\nlast client output:\n%s", *kills, lost, dups, extra, indent(c.Output()))
	}
	r.checkRestored()
}
