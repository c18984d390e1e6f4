package engine

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
)

// TestUnalignedRescaleGroupRestore: a GROUP BY at parallelism 2 (3) behind a keyed exchange into upsert-kafka
// with unaligned checkpoints. The subtask of user 0 is held in an output row of user 0 while the sources read
// on: its queue holds rows and watermarks (the source's table has one) that the other subtasks processed. A
// checkpoint then overtakes the held subtask's queue: its channel state holds rows and watermarks. A new job
// restores it at parallelism 3 (2): the restore is accepted (a GROUP BY only forwards watermarks,
// exec/exchange_unaligned_rescale.go; it was refused before, naming the parallelism to restore at), the rows
// in flight are replayed into the subtasks that own their users, and every user's count and sum are exact
// once the restored job read the orders after the cut (none lost, none counted twice).
func TestUnalignedRescaleGroupRestore(t *testing.T) {
	for _, tc := range []struct{ from, to int }{{2, 3}, {3, 2}} {
		t.Run(fmt.Sprintf("%d-%d", tc.from, tc.to), func(t *testing.T) {
			retrySetup(t, func() string {
				addr := exchangeBroker(t)
				calls := newWindowCalls()
				u, err := expr.NewUDF("hold", calls.call)
				if err != nil {
					t.Fatal(err)
				}
				const insert = `INSERT INTO totals SELECT user_id, hold(user_id, MIN(id), COUNT(*)), SUM(amount) FROM o GROUP BY user_id`
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
				waitUpsert(t, addr, "totals", totalsWant(1000))
				j.mu.Lock()
				g := j.graph
				j.mu.Unlock()
				if len(g.exchanges) != 1 || !g.exchanges[0].x.CanUnalign() {
					t.Fatalf("%d exchanges; want 1 that takes unaligned barriers", len(g.exchanges))
				}
				x := g.exchanges[0].x
				// the subtask of user 0 is held in its next output row of user 0; the sources read on
				if stalled := calls.holdUser0(t, j, addr, notice, "emitted"); stalled != "" {
					return stalled
				}
				path, c1 := calls.cutHeld(t, g, x.InBarrier, &released)
				waitUpsert(t, addr, "totals", totalsWant(1300)) // the old job runs on
				j.Cancel()
				_ = j.Wait(context.Background())

				// restored at another parallelism
				s2, notice2 := barrierSession(t, addr, tc.to, "1 h", u)
				execScript(t, s2, fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", path))
				j2 := startInsert(t, s2, insert)
				defer func() {
					j2.Cancel()
					_ = j2.Wait(context.Background())
				}()
				produceExchangeOrders(t, addr, "ord", 1300, 700)
				waitUpsert(t, addr, "totals", totalsWant(2000))
				if c2 := exec.UnalignedTotals(); c2.Replayed-c1.Replayed < 1 {
					t.Fatalf("no item of channel state was replayed\n%s", notice2)
				}
				j2.mu.Lock()
				g2 := j2.graph
				j2.mu.Unlock()
				if rows, at := g2.exchanges[0].x.RestoredInFlight(); at != tc.from {
					t.Fatalf("restored %d rows in flight taken at %d; want taken at %d", rows, at, tc.from)
				}
				return ""
			})
		})
	}
}
