package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/twmb/franz-go/pkg/kgo"
)

// windowCalls records the windows a window aggregate's keyed subtasks fire (one call of its function per
// window and user) and holds the subtask of user 0 in its first firing once armed.
type windowCalls struct {
	mu       sync.Mutex
	armed    atomic.Bool
	held     atomic.Bool
	blocked  chan struct{}
	release  chan struct{}
	duringHD map[int64]map[int64]bool // window → users fired while user 0's subtask is held
	fired    map[int64]int            // first order of a window → firings (from reset on)
}

func newWindowCalls() *windowCalls {
	return &windowCalls{blocked: make(chan struct{}), release: make(chan struct{}), duringHD: map[int64]map[int64]bool{}, fired: map[int64]int{}}
}

func (c *windowCalls) call(user, first, cnt int64) int64 {
	if user == 0 && c.armed.CompareAndSwap(true, false) {
		c.held.Store(true)
		close(c.blocked)
		<-c.release
		c.held.Store(false)
	} else if c.held.Load() {
		c.mu.Lock()
		w := first / 100
		if c.duringHD[w] == nil {
			c.duringHD[w] = map[int64]bool{}
		}
		c.duringHD[w][user] = true
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.fired[first]++
	c.mu.Unlock()
	return cnt
}

// heldUsers returns the users the other subtask fired window w for while user 0's subtask was held.
func (c *windowCalls) heldUsers(w int64) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var us []int64
	for u := range c.duringHD[w] {
		us = append(us, u)
	}
	slices.Sort(us)
	return us
}

func (c *windowCalls) firings() map[int64]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.fired)
}

func (c *windowCalls) reset() {
	c.mu.Lock()
	c.fired = map[int64]int{}
	c.mu.Unlock()
}

// produceOrderIDs writes the orders of ids (as produceExchangeOrders: user id % 37, amount id % 7, order i to
// partition i % 4).
func produceOrderIDs(t *testing.T, addr string, ids []int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for _, i := range ids {
		recs = append(recs, &kgo.Record{Topic: "ord", Partition: int32(i % 4), Value: []byte(fmt.Sprintf(`{"id":%d,"user_id":%d,"amount":%d}`, i, i%37, i%7))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestUnalignedRescaleWindowRestore: a TUMBLE window aggregate at parallelism 2 behind a keyed exchange
// into upsert-kafka with unaligned checkpoints. The subtask of user 0 is held in its firing of window 8 while
// the sources read on: its queue holds the rows of windows 9 to 12 and watermarks the other subtask
// processed (that one fires windows 9 and 10). A checkpoint then overtakes the held subtask's queue: its
// channel state holds rows and watermarks, and the two subtasks fired up to different watermarks. A new
// job restores it at parallelism 3 and 4 (exec/exchange_unaligned_rescale_floor.go, _late.go): the
// restore is accepted; rows of windows 9 and 10 of every user, late in the uninterrupted job, are sent
// again and dropped (no window fires twice: the restored job fires none of the windows fired before the
// cut and every other one once); the held subtask's rows in flight are not dropped as late (the restored job
// fires its users' windows 9 on, exact). Every window is exact in the end. At parallelism 1 (no exchange)
// the restore is refused, naming what to do.
func TestUnalignedRescaleWindowRestore(t *testing.T) {
	for _, to := range []int{3, 4, 1} {
		t.Run(fmt.Sprintf("2-%d", to), func(t *testing.T) {
			retrySetup(t, func() string {
				addr := exchangeBroker(t)
				calls := newWindowCalls()
				u, err := expr.NewUDF("hold", calls.call)
				if err != nil {
					t.Fatal(err)
				}
				const insert = `INSERT INTO wins SELECT MIN(id), hold(user_id, MIN(id), COUNT(*)), SUM(amount) FROM TABLE(TUMBLE(TABLE o, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY user_id, window_start, window_end`
				winsTable := fmt.Sprintf(`
CREATE TABLE wins (first_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (first_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'wins', 'properties.bootstrap.servers' = '%s',
  'key.format' = 'json', 'value.format' = 'json');
`, addr)
				// windows 0 to 7 fire (the watermark ends 1 s behind order 999: 8990 ms)
				produceExchangeOrders(t, addr, "ord", 0, 1000)
				s, notice := barrierSession(t, addr, 2, "1 h", u)
				execScript(t, s, unalignedOn+"SET 'execution.checkpointing.externalized-checkpoint-retention' = 'RETAIN_ON_CANCELLATION';\n"+winsTable)
				j := startInsert(t, s, insert)
				released := false
				defer func() {
					if !released {
						close(calls.release)
					}
					j.Cancel()
					_ = j.Wait(context.Background())
				}()
				waitUpsert(t, addr, "wins", windowsWant(800))
				j.mu.Lock()
				g := j.graph
				j.mu.Unlock()
				if len(g.exchanges) != 1 || !g.exchanges[0].x.CanUnalign() {
					t.Fatalf("%d exchanges; want 1 that takes unaligned barriers", len(g.exchanges))
				}
				x := g.exchanges[0].x
				// window 8 fires (watermark 9990): user 0's subtask is held in it
				// then windows 9 and 10 fire in the other subtask (watermark 11990); the held one queues them
				if stalled := calls.holdUser0(t, j, addr, notice, "fired window 8"); stalled != "" {
					return stalled
				}
				var fast []int64
				if !waitUntil(20*time.Second, func() bool {
					fast = calls.heldUsers(10)
					return len(fast) > 0 && slices.Equal(fast, calls.heldUsers(9))
				}) {
					t.Fatalf("the other subtask fired windows 9 %v and 10 %v", calls.heldUsers(9), calls.heldUsers(10))
				}
				time.Sleep(100 * time.Millisecond) // the other subtask's last firings of window 10
				fast = calls.heldUsers(10)
				if len(fast) >= 37 || slices.Contains(fast, 0) {
					t.Fatalf("users of the other subtask %v", fast)
				}
				c0 := exec.UnalignedTotals()
				path := checkpointHeld(t, g, "the checkpoint did not start", x.InBarrier, func() { close(calls.release); released = true })
				c1 := exec.UnalignedTotals()
				if c1.Watermark-c0.Watermark < 1 || c1.Written-c0.Written < 2 {
					t.Fatalf("the barrier overtook %d watermarks and the checkpoint wrote %d items; want a watermark and rows in flight", c1.Watermark-c0.Watermark, c1.Written-c0.Written)
				}
				waitUpsert(t, addr, "wins", windowsWant(1100)) // the old job runs on to window 10
				j.Cancel()
				_ = j.Wait(context.Background())

				// restored at another parallelism
				calls.reset()
				s2, notice2 := barrierSession(t, addr, to, "1 h", u)
				execScript(t, s2, fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", path)+winsTable)
				if to == 1 {
					// no exchange at parallelism 1 to replay the rows in flight into: refused, naming what to do
					st, err := sql.ParseStatement(insert)
					if err != nil {
						t.Fatal(err)
					}
					_, err = s2.Execute(context.Background(), st)
					if err == nil || !strings.Contains(err.Error(), "holds rows in flight to its 2 keyed subtasks behind an exchange, and at parallelism 1 this job runs the operator without an exchange") ||
						!strings.Contains(err.Error(), "restore it at a parallelism of 2 or more, or restore it at 2, take a savepoint there") {
						t.Fatalf("restored at parallelism 1: %v", err)
					}
					return ""
				}
				j2 := startInsert(t, s2, insert)
				defer func() {
					j2.Cancel()
					_ = j2.Wait(context.Background())
				}()
				// late in the uninterrupted job: an order of windows 9 and 10 of every user (one a window opened
				// again would count alone): the other subtask's users had fired them (floors), the held one's had
				// the watermark that fires them in flight (the sources went from 2 to more subtasks: it is not
				// replayed, each key group keeps the watermark its old subtask would have reached), then windows
				// 13 to 17
				isFast := map[int64]bool{}
				var again []int
				for _, u := range fast {
					isFast[u] = true
				}
				for u := range 37 {
					for _, w := range []int{9, 10} {
						again = append(again, firstOf(w, u))
					}
				}
				produceOrderIDs(t, addr, again)
				produceExchangeOrders(t, addr, "ord", 1300, 700)
				waitUpsert(t, addr, "wins", windowsWant(1800))
				if !waitUntil(20*time.Second, func() bool { return j2.Metrics().RowsIn >= int64(len(again)+700) }) {
					t.Fatalf("the restored job read %d rows\n%s", j2.Metrics().RowsIn, notice2)
				}
				// the restored job fired each window once: the held subtask's users from window 9, the others' from
				// window 11 (windows 9 and 10 fired before the cut), up to window 17
				want := map[int64]int{}
				for w := 9; w < 18; w++ {
					for u := range 37 {
						if w >= 11 || !isFast[int64(u)] {
							want[int64(firstOf(w, u))] = 1
						}
					}
				}
				got := calls.firings()
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("windows fired by the restored job (first order → firings):\n got %v\nwant %v", got, want)
				}
				if c2 := exec.UnalignedTotals(); c2.Replayed-c1.Replayed < 1 {
					t.Fatal("no item of channel state was replayed")
				}
				return ""
			})
		})
	}
}

// firstOf is the first order of user u in window w (orders 100 w to 100 w + 99).
func firstOf(w, u int) int {
	i := 100 * w
	return i + ((u-i%37)%37+37)%37
}

// holdUser0 holds the subtask of user 0 in its next call of hold (calls) while orders 1000 to 1099 come,
// failing with "the subtask of user 0 never <what>" when it is not called, and lets the sources read
// orders 1100 to 1299 on: the held subtask's queue takes their rows and watermarks. It returns why not when
// the sources stopped before they read them all (the held subtask's queue filled: the test's setup failed,
// retrySetup runs it again).
func (c *windowCalls) holdUser0(t *testing.T, j *Job, addr string, notice fmt.Stringer, what string) (stalled string) {
	return c.holdUser0Then(t, j, addr, notice, what, 200)
}

// holdUser0Then is holdUser0 with more orders read on (from 1100) while the subtask is held. A job whose
// held subtask takes each order on two inputs (a self-join of the topic) gets fewer: its queue (16 items)
// fills sooner.
func (c *windowCalls) holdUser0Then(t *testing.T, j *Job, addr string, notice fmt.Stringer, what string, more int) (stalled string) {
	t.Helper()
	c.armed.Store(true)
	produceExchangeOrders(t, addr, "ord", 1000, 100)
	select {
	case <-c.blocked:
	case <-time.After(20 * time.Second):
		t.Fatalf("the subtask of user 0 never %s\n%s", what, notice)
	}
	produceOrdersAtOnce(t, addr, "ord", 1100, more) // in few polls: few items in the held queue
	if !waitUntil(20*time.Second, func() bool { return j.Metrics().RowsIn >= int64(1100+more) }) {
		return fmt.Sprintf("the sources read %d of %d orders while the subtask of user 0 was held", j.Metrics().RowsIn, 1100+more)
	}
	return ""
}

// retrySetup runs a test's attempt until it returns "" (done), at most 8 times while it returns why its
// setup failed.
func retrySetup(t *testing.T, attempt func() string) {
	t.Helper()
	for i := 1; ; i++ {
		stalled := attempt()
		if stalled == "" {
			return
		}
		if i == 8 {
			t.Fatalf("%s, in %d attempts", stalled, i)
		}
		t.Logf("attempt %d: %s; again", i, stalled)
	}
}

// cutHeld takes an unaligned checkpoint of g while holdUser0's subtask is held (started: its barrier
// reached an exchange), releases the subtask (*released) and checks that the barrier overtook a watermark
// and rows in flight: the checkpoint's path and the unaligned totals after it. A source subtask waiting in
// its send to the held subtask's full queue does not keep the checkpoint from starting (the overdraft:
// exec/exchange_overdraft.go).
func (c *windowCalls) cutHeld(t *testing.T, g *graph, started func() bool, released *bool) (string, exec.UnalignedCounts) {
	t.Helper()
	time.Sleep(500 * time.Millisecond) // the sources' watermarks after the last rows reach the queues
	c0 := exec.UnalignedTotals()
	path := checkpointHeld(t, g, "the checkpoint did not start", started, func() { close(c.release); *released = true })
	c1 := exec.UnalignedTotals()
	if c1.Watermark-c0.Watermark < 1 || c1.Written-c0.Written < 2 {
		t.Fatalf("the barrier overtook %d watermarks and the checkpoint wrote %d items; want a watermark and rows in flight", c1.Watermark-c0.Watermark, c1.Written-c0.Written)
	}
	t.Logf("%d items spilled by the overdraft", c1.Spilled-c0.Spilled)
	return path, c1
}
