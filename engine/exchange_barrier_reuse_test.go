package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/expr"
)

// barrierReuseTables turns source reuse on (exchangeJobTables turns it off) and adds a keyless aggregate's
// exactly-once changelog sink and an exactly-once kafka sink of 'sink.parallelism' 3.
const barrierReuseTables = `
SET 'table.optimizer.reuse-source-enabled' = 'true';
CREATE TABLE grand (cnt BIGINT, total BIGINT, ids BIGINT) WITH ('connector' = 'kafka', 'topic' = 'grand',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'debezium-json', 'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'barrier-grand');
CREATE TABLE pairs_n (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'pairs',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'barrier-pairs-n', 'sink.parallelism' = '3');
`

// TestBarrierReusedScanRestart: jobs that read topic ord once for several branches (a reused scan's
// subtasks, source reuse on) at parallelism 2 take their checkpoints with barriers (barrierCutsTaken; before,
// they quiesced: a test with noBarriers fails there) every 20 ms while the input arrives in chunks and the
// keyed subtasks are slow (rows queued at every cut, the source reading on after the gate). A function in
// the keyed subtasks fails once, two thirds into the input; the job restarts from its last checkpoint and
// the output is exact:
//   - selfjoin-kafka-eo: a self-join of the scan (both sides' branches route into one exchange, cut by one
//     barrier) into an exactly-once kafka sink: every order committed once;
//   - groupby-keyless: a statement set of a GROUP BY into upsert-kafka (a branch into an exchange) and a
//     keyless aggregate (a branch under the graph lock, held from the gate to the final lock: reusedRowsHeld)
//     into an exactly-once changelog sink: the totals are exact and the keyless count never passes n (with
//     noReusedHold the rows read after the gate are in the checkpoint's aggregate and counted again);
//   - lockfed-groupby: a statement set of the GROUP BY and a branch into a kafka sink of 'sink.parallelism'
//     3 fed from under the graph lock (lockFedSinksBuilt): every order committed once.
//
// The time the sources were held at the cuts is logged (as TestBarrierSavepointRestart does).
func TestBarrierReusedScanRestart(t *testing.T) {
	const n, chunk = 6000, 300
	for _, tc := range []struct{ name, stmt string }{
		{"selfjoin-kafka-eo", `INSERT INTO pairs SELECT a.id, a.user_id, pace(b.amount) FROM p a JOIN p b ON a.id = b.id`},
		{"groupby-keyless", `EXECUTE STATEMENT SET BEGIN
INSERT INTO totals SELECT user_id, pace(COUNT(*)), SUM(amount) FROM p GROUP BY user_id;
INSERT INTO grand SELECT COUNT(*), SUM(amount), COUNT(DISTINCT id) FROM p;
END;`},
		{"lockfed-groupby", `EXECUTE STATEMENT SET BEGIN
INSERT INTO totals SELECT user_id, pace(COUNT(*)), SUM(amount) FROM p GROUP BY user_id;
INSERT INTO pairs_n SELECT id, user_id, amount FROM p;
END;`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := exchangeBroker(t)
			var failed atomic.Int32
			var calls atomic.Int64
			failAt := int64(2 * n / 3)
			pace, err := expr.NewUDF("pace", func(v int64) (int64, error) {
				time.Sleep(20 * time.Microsecond)
				if calls.Add(1) == failAt && failed.CompareAndSwap(0, 1) {
					return 0, fmt.Errorf("injected failure after %d rows", failAt)
				}
				return v, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			produceExchangeOrders(t, addr, "ord", 0, chunk)
			s, notice := barrierSession(t, addr, 2, "20 ms", pace)
			execScript(t, s, strings.ReplaceAll(barrierReuseTables, "ADDR", addr))
			cuts, reused, held, fed := barrierCutsTaken.Load(), reusedBuilt.Load(), reusedRowsHeld.Load(), lockFedSinksBuilt.Load()
			j := startInsert(t, s, tc.stmt)
			defer func() {
				j.Cancel()
				_ = j.Wait(context.Background())
			}()
			if r := reusedBuilt.Load() - reused; r != 1 {
				t.Fatalf("%d reused scans run as subtasks, want 1", r)
			}
			if f := lockFedSinksBuilt.Load() - fed; (f == 1) != (tc.name == "lockfed-groupby") {
				t.Fatalf("%d sinks fed from under the lock", f)
			}
			for c := chunk; c < n; c += chunk {
				time.Sleep(10 * time.Millisecond)
				produceExchangeOrders(t, addr, "ord", c, chunk)
			}
			switch tc.name {
			case "selfjoin-kafka-eo":
				waitPairsJob(t, j, addr, n)
			case "groupby-keyless":
				waitUpsert(t, addr, "totals", totalsWant(n))
				waitGrand(t, j, addr, n)
				if reusedRowsHeld.Load() == held {
					t.Fatalf("no row held by the keyless aggregate's branch during a barrier checkpoint")
				}
			default:
				waitUpsert(t, addr, "totals", totalsWant(n))
				waitPairsJob(t, j, addr, n)
			}
			if failed.Load() != 1 || j.Metrics().Restarts != 1 || strings.Contains(notice.String(), "from the beginning") {
				t.Fatalf("failures injected %d, restarts %d; want 1 and 1, from a checkpoint\n%s", failed.Load(), j.Metrics().Restarts, notice)
			}
			if c := barrierCutsTaken.Load() - cuts; c < 2 {
				t.Fatalf("%d checkpoints cut with barriers, want several\n%s", c, notice)
			}
			st := j.CheckpointStats()
			t.Logf("checkpoints: sources held %s of %s (%d cut with barriers)", st.Pause, st.Total, barrierCutsTaken.Load()-cuts)
		})
	}
}

// waitGrand waits until the committed changelog of topic grand (one keyless aggregate: cnt, total, ids)
// reached n orders, then, after two more checkpoints of j, checks that no committed change counted more than
// n orders and that the one with n has the exact sum and n distinct ids.
func waitGrand(t *testing.T, j *Job, addr string, n int) {
	t.Helper()
	type agg struct {
		Cnt   int64 `json:"cnt"`
		Total int64 `json:"total"`
		IDs   int64 `json:"ids"`
	}
	var top agg
	read := func() int64 {
		top = agg{}
		for _, r := range readCommitted(t, addr, "grand") {
			var v struct {
				After *agg `json:"after"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("unreadable record %q", r.Value)
			}
			if v.After != nil && v.After.Cnt > top.Cnt {
				top = *v.After
			}
		}
		return top.Cnt
	}
	if !waitUntil(60*time.Second, func() bool { return read() >= int64(n) }) {
		t.Fatalf("keyless count committed %d, want %d", top.Cnt, n)
	}
	next := j.LastCheckpoint().ID + 2
	if !waitUntil(20*time.Second, func() bool { return j.LastCheckpoint().ID >= next }) {
		t.Fatalf("no two more checkpoints after the output was complete (last %d)", j.LastCheckpoint().ID)
	}
	read()
	var total int64
	for i := range n {
		total += int64(i % 7)
	}
	if want := (agg{Cnt: int64(n), Total: total, IDs: int64(n)}); top != want {
		t.Fatalf("keyless aggregate committed %+v, want %+v (rows counted twice after the restart)", top, want)
	}
}
