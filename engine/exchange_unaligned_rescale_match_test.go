package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
)

// matchedWant is the orders a MATCH_RECOGNIZE of one match per order emitted once n orders were read: every
// order i with its user and amount, up to the watermark (an order's ts is id * 10 ms and the watermark 1 s
// behind the latest: the last 100 orders wait; 150 leave room for the partitions read unevenly). Orders after
// it may be there too (waitMatched).
func matchedWant(n int) map[string]string {
	want := map[string]string{}
	for i := range n - 150 {
		want[fmt.Sprintf(`{"id":%d}`, i)] = fmt.Sprintf(`{"id":%d,"user_id":%d,"p_amount":%d}`, i, i%37, i%7)
	}
	return want
}

// waitMatched waits until joined holds every row of want and no other rows but correct ones of orders
// read (below n).
func waitMatched(t *testing.T, addr string, n int) {
	t.Helper()
	want := matchedWant(n + 150)
	var got map[string]string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		got = upsertTable(t, addr, "joined")
		ok := true
		for k, v := range got {
			if want[k] != v {
				t.Fatalf("joined holds %s: %s; want %q", k, v, want[k])
			}
		}
		for i := range n - 150 {
			if _, in := got[fmt.Sprintf(`{"id":%d}`, i)]; !in {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("joined: %d rows, want the %d orders up to the watermark", len(got), n-150)
}

// TestUnalignedRescaleMatchRestore: an event-time MATCH_RECOGNIZE (PARTITION BY user_id ORDER BY ts, one
// match per order) at parallelism 2 (3) behind a keyed exchange into upsert-kafka with unaligned checkpoints.
// The subtask of user 0 is held in a match of user 0 while the sources read on, so its queue holds rows and
// watermarks the other subtasks processed; a checkpoint overtakes it. A new job restores it at parallelism 3
// (2): the restore is accepted (MATCH_RECOGNIZE takes per-key-group floors, exec/match_floor.go; it was
// refused before, naming the parallelism to restore at), and once the restored job read the orders after the
// cut every order was matched (none lost), none twice by the restored job (the function in the match's
// projection is called once per order).
func TestUnalignedRescaleMatchRestore(t *testing.T) {
	testUnalignedRescaleRestore(t, `INSERT INTO joined SELECT id, user_id, hold(user_id, id, amount) FROM o MATCH_RECOGNIZE (
	  PARTITION BY user_id ORDER BY ts MEASURES A.id AS id, A.amount AS amount ONE ROW PER MATCH
	  AFTER MATCH SKIP PAST LAST ROW PATTERN (A) DEFINE A AS A.amount >= 0)`, nil, true, 200)
}

// TestUnalignedRescaleRegularJoinRestore: a regular join of the orders by id (the side of o with a
// watermark) at parallelism 2 (3) behind a keyed exchange, restored from an
// unaligned checkpoint with rows and watermarks in flight at parallelism 3 (2): accepted (a regular join only
// forwards watermarks, exec/exchange_unaligned_rescale.go; refused before) and exact: every order joined
// once (none lost; the function in the join's condition called once per order by the restored job).
func TestUnalignedRescaleRegularJoinRestore(t *testing.T) {
	testUnalignedRescaleRestore(t, `INSERT INTO joined SELECT a.id, a.user_id, b.amount
	  FROM o a JOIN p b ON a.id = b.id AND hold(a.user_id, a.id, b.amount) >= 0`, ordersWant, true, 200)
}

// ordersWant is every order i of n once in joined: its user and amount.
func ordersWant(n int) map[string]string {
	return matchedWant(n + 150)
}

// testUnalignedRescaleRestore runs insert (into joined; hold(user, id, v) in its keyed subtasks' output)
// at 2 and 3, cuts it with an unaligned checkpoint while user 0's subtask is held (more orders read on
// meanwhile, holdUser0Then), restores it at 3 and 2,
// and checks joined against want once 2000 orders were read (nil: waitMatched; once: no order's hold called
// twice by the restored job).
func testUnalignedRescaleRestore(t *testing.T, insert string, want func(int) map[string]string, once bool, more int) {
	wait := func(t *testing.T, addr string, n int) {
		t.Helper()
		if want == nil {
			waitMatched(t, addr, n)
		} else {
			waitUpsert(t, addr, "joined", want(n))
		}
	}
	type rescale struct{ from, to int }
	// run returns why not when the sources stopped before the held subtask's users ran ahead (retrySetup)
	run := func(t *testing.T, tc rescale) (stalled string) {
		addr := exchangeBroker(t)
		calls := newWindowCalls()
		u, err := expr.NewUDF("hold", calls.call)
		if err != nil {
			t.Fatal(err)
		}
		produceExchangeOrders(t, addr, "ord", 0, 1000)
		s, notice := barrierSession(t, addr, tc.from, "1 h", u)
		execScript(t, s, unalignedOn+"SET 'execution.checkpointing.externalized-checkpoint-retention' = 'RETAIN_ON_CANCELLATION';\n")
		j := startInsert(t, s, insert)
		released := false
		defer func() {
			if !released {
				close(calls.release)
			}
			j.Cancel()
			_ = j.Wait(context.Background())
		}()
		wait(t, addr, 1000)
		j.mu.Lock()
		g := j.graph
		j.mu.Unlock()
		if len(g.exchanges) == 0 || !g.exchanges[0].x.CanUnalign() {
			t.Fatalf("%d exchanges; want the keyed operator's to take unaligned barriers", len(g.exchanges))
		}
		inBarrier := func() bool { // the keyed operator's exchange or a sink materializer's after it
			for _, e := range g.exchanges {
				if e.x.InBarrier() {
					return true
				}
			}
			return false
		}
		if stalled := calls.holdUser0Then(t, j, addr, notice, "emitted", more); stalled != "" {
			return stalled
		}
		path, c1 := calls.cutHeld(t, g, inBarrier, &released)
		wait(t, addr, 1100+more) // the old job runs on
		j.Cancel()
		_ = j.Wait(context.Background())
		calls.reset()

		// restored at another parallelism
		s2, notice2 := barrierSession(t, addr, tc.to, "1 h", u)
		execScript(t, s2, fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", path))
		j2 := startInsert(t, s2, insert)
		defer func() {
			j2.Cancel()
			_ = j2.Wait(context.Background())
		}()
		produceExchangeOrders(t, addr, "ord", 1100+more, 900-more)
		wait(t, addr, 2000)
		if c2 := exec.UnalignedTotals(); c2.Replayed-c1.Replayed < 1 {
			t.Fatalf("no item of channel state was replayed\n%s", notice2)
		}
		j2.mu.Lock()
		g2 := j2.graph
		j2.mu.Unlock()
		for _, e := range g2.exchanges {
			if rows, at := e.x.RestoredInFlight(); at != tc.from {
				t.Fatalf("restored %d rows in flight taken at %d; want taken at %d", rows, at, tc.from)
			}
		}
		if once {
			for id, n := range calls.firings() {
				if n > 1 {
					t.Fatalf("order %d matched %d times by the restored job", id, n)
				}
			}
		}
		return ""
	}
	for _, tc := range []rescale{{2, 3}, {3, 2}} {
		t.Run(fmt.Sprintf("%d-%d", tc.from, tc.to), func(t *testing.T) {
			retrySetup(t, func() string { return run(t, tc) })
		})
	}
}
