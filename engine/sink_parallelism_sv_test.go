package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/expr"
)

// TestSinkParallelismSavepointRescale: STOP JOB ... WITH SAVEPOINT of a job whose sink runs as its own
// subtasks ('sink.parallelism' 3, job parallelism 2) while the input keeps arriving, then the job restored
// from the savepoint with another 'sink.parallelism' (2, job parallelism 3, and 4, job parallelism 1) over
// the rest of the input: an exactly-once kafka sink fed through a rebalance exchange holds every order once
// (read_committed: no transaction of a writer index that the restored job no longer has is left open or
// committed twice), and an upsert-kafka sink over a GROUP BY through a hash exchange is exact.
func TestSinkParallelismSavepointRescale(t *testing.T) {
	const n, chunk = 6000, 300
	for _, tc := range []struct{ name, insert string }{
		{"kafka-eo-rebalance", `INSERT INTO pairs_n SELECT id, user_id, pace(amount) FROM p`},
		{"upsert-hash", `INSERT INTO totals_n SELECT user_id, pace(cnt), total FROM (SELECT user_id, COUNT(*) AS cnt, SUM(amount) AS total FROM p GROUP BY user_id)`},
	} {
		for _, to := range []struct{ par, sinkPar int }{{3, 2}, {1, 4}} {
			t.Run(fmt.Sprintf("%s/to-p%d-sink%d", tc.name, to.par, to.sinkPar), func(t *testing.T) {
				addr := exchangeBroker(t)
				pace, err := expr.NewUDF("pace", func(v int64) int64 {
					time.Sleep(10 * time.Microsecond)
					return v
				})
				if err != nil {
					t.Fatal(err)
				}
				tables := func(sinkPar int) string {
					return strings.NewReplacer("ADDR", addr, "'N'", fmt.Sprintf("'%d'", sinkPar)).Replace(sinkParTables)
				}
				produceExchangeOrders(t, addr, "ord", 0, chunk)
				s, notice := barrierSession(t, addr, 2, "50 ms", pace)
				execScript(t, s, tables(3))
				own := sinkOwnSubtasksBuilt.Load()
				j := startInsert(t, s, tc.insert)
				if o := sinkOwnSubtasksBuilt.Load() - own; o != 3 {
					t.Fatalf("%d sink subtasks built, want 3", o)
				}
				fed := feedOrders(t, addr, chunk, n, chunk, n/2)
				path, err := j.Stop(context.Background(), t.TempDir(), false)
				if err != nil {
					t.Fatalf("stop: %v\n%s", err, notice)
				}
				if err := j.Wait(context.Background()); err != nil {
					t.Fatal(err)
				}
				fed()
				s2, notice2 := barrierSession(t, addr, to.par, "50 ms", pace)
				execScript(t, s2, tables(to.sinkPar)+fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", path))
				own = sinkOwnSubtasksBuilt.Load()
				j2 := startInsert(t, s2, tc.insert)
				defer func() {
					j2.Cancel()
					_ = j2.Wait(context.Background())
				}()
				if o := sinkOwnSubtasksBuilt.Load() - own; o != int64(to.sinkPar) {
					t.Fatalf("%d sink subtasks built after the restore, want %d\n%s", o, to.sinkPar, notice2)
				}
				if tc.name == "upsert-hash" {
					waitUpsert(t, addr, "totals", totalsWant(n))
				} else {
					waitPairsJob(t, j2, addr, n)
				}
			})
		}
	}
}
