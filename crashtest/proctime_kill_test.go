package crashtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProctimeWindowKillExchange: processing-time TUMBLE windows of 1 s per user behind the hash exchange
// (engine/exchange_proctime.go: the source subtasks route the rows by user into 2 keyed subtasks, each
// stamping them with its own clock) → exactly-once Kafka, killed at random moments while orders are fed and
// restored from the latest checkpoint. Which window an order lands in depends on when it is read, so the
// test asserts what does not: every order counted exactly once across its user's windows (per user, the sums
// of COUNT(*) and SUM(id) over the windows written are the count and sum of the user's orders), and no
// (user, window) written twice.
func TestProctimeWindowKillExchange(t *testing.T) {
	t.Parallel()
	// flushUsers: rows of users 40..59 come every 200 ms while the output is checked (see below)
	const users, flushUsers = 40, 20
	addr := broker(t, 4)
	dir := t.TempDir()
	ckpts := dir + "/checkpoints"
	body := []string{
		`SET 'execution.checkpointing.interval' = '200 ms';`,
		`SET 'state.checkpoints.dir' = '` + fileURL(ckpts) + `';`,
		`SET 'table.local-time-zone' = 'UTC';`,
		`CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT, pt AS PROCTIME()) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'properties.group.id' = 'crash-proctime', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');`,
		eoSink("pwins", "user_id BIGINT, ws TIMESTAMP(3), cnt BIGINT, ids BIGINT"),
		`INSERT INTO pwins SELECT user_id, window_start, COUNT(*), SUM(id)
  FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(pt), INTERVAL '1' SECOND)) GROUP BY user_id, window_start, window_end;`,
	}
	r := &restarts{t: t, dir: dir, addr: addr, ckpts: ckpts, body: body, parallelism: []int{2}}
	f := feed(t, addr, "orders", 0, users)
	rng := rand.New(rand.NewPCG(58, uint64(time.Now().UnixNano())))
	r.kill(rng, 150*time.Millisecond, 1200*time.Millisecond)
	total := f.end()
	wantCnt, wantIDs := make([]int64, users), make([]int64, users)
	for i := 0; i < total; i++ {
		wantCnt[i%users]++
		wantIDs[i%users] += int64(i)
	}
	// tally sums the committed windows per user: the users whose sums differ, the (user, window) rows
	// written more than once, and the rows read.
	tally := func() (off, twice, rows int, example string) {
		cnt, ids := make([]int64, users), make([]int64, users)
		seen := map[string]bool{}
		for _, rec := range consume(t, addr, "pwins", true) {
			rows++
			k := fields(t, rec.Value, []string{"user_id", "ws"})
			if seen[k] {
				twice++
			}
			seen[k] = true
			v := strings.Split(fields(t, rec.Value, []string{"user_id", "cnt", "ids"}), "|")
			u, err1 := strconv.Atoi(v[0])
			c, err2 := strconv.ParseInt(v[1], 10, 64)
			s, err3 := strconv.ParseInt(v[2], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil || u < 0 || u >= users+flushUsers {
				t.Fatalf("unexpected output record %q", rec.Value)
			}
			if u >= users {
				continue // a flush user
			}
			cnt[u] += c
			ids[u] += s
		}
		for u := range users {
			if cnt[u] != wantCnt[u] || ids[u] != wantIDs[u] {
				off++
				if example == "" {
					example = "user " + strconv.Itoa(u) + ": " + row(cnt[u], ids[u]) + " over its windows, want " + row(wantCnt[u], wantIDs[u])
				}
			}
		}
		return off, twice, rows, example
	}
	c := r.start()
	defer c.Kill()
	// A keyed subtask's clock moves with its input and with the engine's ticks (exec.ProctimeTick). Rows of
	// other users (flushUsers of them, so that every subtask gets some) still come every 200 ms until the
	// output is right, so that the last windows also fire by input; their windows are not counted.
	fcl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer fcl.Close()
	flush := ticker(t, 0, func(int) (int, error) {
		time.Sleep(190 * time.Millisecond)
		recs := orders(0, flushUsers, 1)
		for j, rec := range recs {
			rec.Key = []byte(strconv.Itoa(users + j))
			rec.Value = fmt.Appendf(nil, `{"id":-1,"user_id":%d,"amount":0}`, users+j)
		}
		return 1, fcl.ProduceSync(context.Background(), recs...).FirstErr()
	}, nil)
	var off, twice, rows int
	var example string
	// The last windows fire with the first flush rows 1 s of processing time after the last order was read,
	// and are committed by the checkpoint after that.
	waitFor(60*time.Second, func() bool {
		off, twice, rows, example = tally()
		return off == 0 || twice > 0
	})
	flush.end()
	t.Logf("%d kills (%d runs restored from a checkpoint, the last included), %d orders of %d users, %d windows read: %d users counted wrong, %d windows written twice",
		*kills, r.restored, total, users, rows, off, twice)
	if off > 0 || twice > 0 {
		t.Fatalf("after %d kills: %d users counted wrong (%s), %d windows written twice\nlast client output:\n%s",
			*kills, off, example, twice, indent(c.Output()))
	}
	r.checkRestored()
}
