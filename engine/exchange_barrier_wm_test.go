package engine

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/expr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBarrierWatermarkTwoPhaseRestart is TestBarrierExactlyOnceRestart for the operators chained into the
// source subtasks: watermark assigners (table o has a WATERMARK: a TUMBLE window aggregate and a GROUP BY
// over it) and two-phase local aggregates (TWO_PHASE, mini-batches of 5000 rows or 1 s: the locals hold
// partials of rows whose positions advanced; over p and over o). Checkpoints every 20 ms are cut with
// barriers while the input arrives in chunks; a function chained into the source subtasks fails once, three
// quarters into the input (for the window: on its output, three quarters into the windows), and the job
// restarts in-process from its latest checkpoint. Every order is counted
// once: the window totals and the GROUP BY totals are exact. For the window, rows far behind the watermark
// arrive once the first windows fired: they are dropped (no window of theirs appears), also when read again
// after the restart. The locals' part is cut at the gate (flushed ahead of the barrier, then written);
// written under the graph lock instead (lockLocalState) the two-phase cases count rows twice.
func TestBarrierWatermarkTwoPhaseRestart(t *testing.T) {
	const n, chunk, late = 12000, 300, 20
	const twoPhase = `SET 'table.exec.mini-batch.enabled' = 'true'; SET 'table.exec.mini-batch.allow-latency' = '1 s';
SET 'table.exec.mini-batch.size' = '5000'; SET 'table.optimizer.agg-phase-strategy' = 'TWO_PHASE';
`
	for _, par := range raceThin([]int{2, 3}) {
		for _, tc := range []struct {
			name, setup, insert string
			failAt              int64 // the call of pace that fails
		}{
			// pace on the windows' output (in the keyed subtasks): 118 windows of 37 users fire
			{"window-upsert", "", `INSERT INTO wins SELECT MIN(id), pace(COUNT(*)), SUM(amount) FROM TABLE(TUMBLE(TABLE o, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY user_id, window_start, window_end`, 118 * 37 * 3 / 4},
			{"groupby-wm-upsert", "", `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM ov GROUP BY user_id`, n * 3 / 4},
			// slow on the global aggregates' output (in the keyed subtasks): the sources read on, into their
			// locals, while the keyed subtasks work towards their barriers
			{"twophase-upsert", twoPhase, `INSERT INTO totals SELECT user_id, slow(cnt), total FROM (SELECT user_id, COUNT(*) AS cnt, SUM(amount) AS total FROM pv GROUP BY user_id)`, n * 3 / 4},
			{"twophase-wm-upsert", twoPhase, `INSERT INTO totals SELECT user_id, slow(cnt), total FROM (SELECT user_id, COUNT(*) AS cnt, SUM(amount) AS total FROM ov GROUP BY user_id)`, n * 3 / 4},
		} {
			t.Run(fmt.Sprintf("%s/P%d", tc.name, par), func(t *testing.T) {
				addr := exchangeBroker(t)
				// slow, and fails once (chained into the source subtasks three quarters into the input; for the
				// window after three quarters of its windows)
				fail, pace := newFailOnce(t, 10*time.Microsecond, tc.failAt)
				// the window fails only once a checkpoint completed after the first windows fired: restored,
				// its watermark is past the late rows, which are read again then when its positions are before them
				var minCuts atomic.Int64
				if tc.name == "window-upsert" {
					minCuts.Store(math.MaxInt64)
				}
				fail.ready = func() bool { return barrierCutsTaken.Load() >= minCuts.Load() }
				slow, err := expr.NewUDF("slow", func(v int64) int64 {
					time.Sleep(time.Millisecond)
					return v
				})
				if err != nil {
					t.Fatal(err)
				}
				produceExchangeOrders(t, addr, "ord", 0, chunk)
				s, notice := barrierSession(t, addr, par, "20 ms", pace, slow)
				execScript(t, s, strings.ReplaceAll(`
CREATE TABLE wins (first_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (first_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'wins', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
CREATE TEMPORARY VIEW ov AS SELECT id, user_id, pace(amount) AS amount, ts FROM o;
CREATE TEMPORARY VIEW pv AS SELECT id, user_id, pace(amount) AS amount FROM p;
`, "ADDR", addr)+tc.setup)
				phases := twoPhaseBuilt.Load()
				j := startInsert(t, s, tc.insert)
				if got := twoPhaseBuilt.Load() - phases; (tc.setup != "") != (got == 1) {
					t.Fatalf("%d two-phase aggregates with chained locals built", got)
				}
				defer func() {
					j.Cancel()
					_ = j.Wait(context.Background())
				}()
				for c := chunk; c < n; c += chunk {
					time.Sleep(10 * time.Millisecond)
					produceExchangeOrders(t, addr, "ord", c, chunk)
					if tc.name == "window-upsert" && c == n/4 {
						// once windows fired (the keyed subtasks' watermark is past them), rows far behind it
						waitWindows(t, addr, windowsWant(1000))
						minCuts.Store(barrierCutsTaken.Load() + 2) // the first of them completed once the second is cut
						produceLateOrders(t, addr, late)
					}
				}
				if tc.name == "window-upsert" {
					// the watermark ends 1 s behind the last order of the slowest partition: 118 windows fire
					waitUpsert(t, addr, "wins", windowsWant(118*100))
				} else {
					waitUpsert(t, addr, "totals", totalsWant(n))
				}
				fail.checkOneRestart(t, j, notice)
				if got := fail.cutsBefore.Load(); got < 1 {
					t.Fatalf("%d checkpoints cut with barriers before the failure, want at least 1", got)
				}
			})
		}
	}
}

// windowsWant is the 1 s windows per user of the orders below n (ids 100 w .. 100 w + 99 in window w, user
// id % 37), keyed by their first order.
func windowsWant(n int) map[string]string {
	type win struct{ first, cnt, total int }
	wins := map[[2]int]*win{}
	for i := range n {
		k := [2]int{i / 100, i % 37}
		w := wins[k]
		if w == nil {
			w = &win{first: i}
			wins[k] = w
		}
		w.cnt++
		w.total += i % 7
	}
	want := map[string]string{}
	for _, w := range wins {
		want[fmt.Sprintf(`{"first_id":%d}`, w.first)] = fmt.Sprintf(`{"first_id":%d,"cnt":%d,"total":%d}`, w.first, w.cnt, w.total)
	}
	return want
}

// produceLateOrders produces k orders with ids -1000, -1001, ... (row times 10 s and more before 1970): behind
// any watermark of the orders from 0 on.
func produceLateOrders(t *testing.T, addr string, k int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range k {
		id := -1000 - i
		recs = append(recs, &kgo.Record{Topic: "ord", Partition: int32(i % 4), Value: []byte(fmt.Sprintf(`{"id":%d,"user_id":0,"amount":1}`, id))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// waitWindows waits until the upsert table wins holds every window of want (and maybe later ones).
func waitWindows(t *testing.T, addr string, want map[string]string) {
	t.Helper()
	has := func() bool {
		got := upsertTable(t, addr, "wins")
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}
	if !waitUntil(30*time.Second, has) {
		t.Fatalf("wins: the first %d windows did not fire", len(want))
	}
}
