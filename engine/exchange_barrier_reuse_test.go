package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
//     3 fed from under the graph lock (lockFedSinksBuilt): every order committed once;
//   - direct-eo-groupby: the GROUP BY and a branch (a filter) into an exactly-once kafka sink that the
//     subtasks encode for, pre-committed at the gate: every order committed once.
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
		{"direct-eo-groupby", `EXECUTE STATEMENT SET BEGIN
INSERT INTO totals SELECT user_id, pace(COUNT(*)), SUM(amount) FROM p GROUP BY user_id;
INSERT INTO pairs SELECT id, user_id, amount FROM p WHERE id >= 0;
END;`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := exchangeBroker(t)
			fail, pace := newFailOnce(t, 20*time.Microsecond, 2*n/3)
			produceExchangeOrders(t, addr, "ord", 0, chunk)
			if tc.name == "direct-eo-groupby" {
				// the subtasks read on between the gate and the final lock, writing the sink
				afterGate = func() { time.Sleep(3 * time.Millisecond) }
				defer func() { afterGate = nil }()
			}
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
			default: // lockfed-groupby, direct-eo-groupby
				waitUpsert(t, addr, "totals", totalsWant(n))
				waitPairsJob(t, j, addr, n)
			}
			fail.checkOneRestart(t, j, notice)
			if strings.Contains(notice.String(), "from the beginning") {
				t.Fatalf("restarted from the beginning, want from a checkpoint\n%s", notice)
			}
			st := j.CheckpointStats()
			t.Logf("checkpoints: sources held %s of %s (%d cut with barriers)", st.Pause, st.Total, barrierCutsTaken.Load()-cuts)
			if c := barrierCutsTaken.Load() - cuts; c < 2 {
				t.Fatalf("%d checkpoints cut with barriers, want several\n%s", c, notice)
			}
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
	if ok, waited := waitProgress(func() (string, bool) { c := read(); return fmt.Sprint(c), c >= int64(n) }); !ok {
		t.Fatalf("keyless count committed %d after %v (no higher for %v), want %d", top.Cnt, waited.Round(time.Second), outputStall, n)
	}
	next := j.LastCheckpoint().ID + 2
	if !waitUntil(20*time.Second, func() bool { return j.LastCheckpoint().ID >= next }) {
		t.Fatalf("no two more checkpoints after the output was complete (last %d)", j.LastCheckpoint().ID)
	}
	// committed records stay: a read that finds a lower count is the reader's (readCommitted gives up after 5 s
	// without a record, which its first fetch can take under -race on a loaded machine), so it reads again
	waitUntil(outputStall, func() bool { return read() >= int64(n) })
	var total int64
	for i := range n {
		total += int64(i % 7)
	}
	if want := (agg{Cnt: int64(n), Total: total, IDs: int64(n)}); top != want {
		t.Fatalf("keyless aggregate committed %+v, want %+v (rows counted twice after the restart)", top, want)
	}
}

// reuseGroupbyKeyless is a statement set over one reused scan of table tbl: a GROUP BY into upsert-kafka (a
// branch into an exchange) and a keyless aggregate into an exactly-once changelog sink (a branch under the
// graph lock).
func reuseGroupbyKeyless(tbl string) string {
	return strings.ReplaceAll(`EXECUTE STATEMENT SET BEGIN
INSERT INTO totals SELECT user_id, pace(COUNT(*)), SUM(amount) FROM TBL GROUP BY user_id;
INSERT INTO grand SELECT COUNT(*), SUM(amount), COUNT(DISTINCT id) FROM TBL;
END;`, "TBL", tbl)
}

// TestBarrierReusedScanSavepoint: STOP JOB ... WITH SAVEPOINT of the GROUP BY next to a keyless aggregate
// over one reused scan at parallelism 2, while the input keeps arriving: the savepoint is cut with barriers
// (barrierSavepoints; the branch under the lock held what it read after the gate, and the stop drops it),
// the job ends, and a job restored from the savepoint at parallelism 3 over the rest of the input makes the
// totals and the keyless count exact (every order counted once).
func TestBarrierReusedScanSavepoint(t *testing.T) {
	const n, chunk = 6000, 300
	addr := exchangeBroker(t)
	pace, err := expr.NewUDF("pace", func(v int64) int64 {
		time.Sleep(20 * time.Microsecond)
		return v
	})
	if err != nil {
		t.Fatal(err)
	}
	produceExchangeOrders(t, addr, "ord", 0, chunk)
	s, notice := barrierSession(t, addr, 2, "10 min", pace)
	execScript(t, s, strings.ReplaceAll(barrierReuseTables, "ADDR", addr))
	reused := reusedBuilt.Load()
	j := startInsert(t, s, reuseGroupbyKeyless("p"))
	if r := reusedBuilt.Load() - reused; r != 1 {
		t.Fatalf("%d reused scans run as subtasks, want 1", r)
	}
	fed := feedOrders(t, addr, chunk, n, chunk, n/2)
	svs := barrierSavepoints.Load()
	path, err := j.Stop(context.Background(), t.TempDir(), false)
	if err != nil {
		t.Fatalf("stop: %v\n%s", err, notice)
	}
	if err := j.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := barrierSavepoints.Load() - svs; v != 1 {
		t.Fatalf("%d savepoints cut with barriers, want 1", v)
	}
	st := j.CheckpointStats()
	t.Logf("savepoint: sources held %s of %s", st.Pause, st.Total)
	fed()
	s2, notice2 := barrierSession(t, addr, 3, "20 ms", pace)
	execScript(t, s2, strings.ReplaceAll(barrierReuseTables, "ADDR", addr)+fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", path))
	j2 := startInsert(t, s2, reuseGroupbyKeyless("p"))
	defer func() {
		j2.Cancel()
		_ = j2.Wait(context.Background())
	}()
	waitUpsert(t, addr, "totals", totalsWant(n))
	waitGrand(t, j2, addr, n)
	if strings.Contains(notice2.String(), "from the beginning") {
		t.Fatalf("restored job read from the beginning\n%s", notice2)
	}
}

// TestBarrierReusedScanEndsHeld: a keyless aggregate (a branch under the graph lock, its Calc slowed now and
// then in the source subtasks' chain) next to a branch straight into an exactly-once kafka sink (encoded by the subtasks,
// pre-committed at the gate) over one reused scan of a bounded kafka table at parallelism 2, with
// checkpoints every 10 ms whose final lock waits until a branch end waits for the hold (afterGate): each
// subtask waits before its first batch until a checkpoint began its hold (beforeReusedBatch, outside the
// gate), so a checkpoint always starts while the scan reads; the subtasks read on to their end while the
// branch under the lock holds what they read; the end waits for the hold to end (reusedEndsHeld) and passes
// after the held rows, so the job finishes with exact output: the keyless aggregate exact, every order
// committed once.
func TestBarrierReusedScanEndsHeld(t *testing.T) {
	const n = 20000
	addr := exchangeBroker(t)
	pace, err := expr.NewUDF("pace", func(v int64) int64 {
		if v%200 == 0 {
			time.Sleep(time.Millisecond)
		}
		return v
	})
	if err != nil {
		t.Fatal(err)
	}
	produceExchangeOrders(t, addr, "ord", 0, n)
	ends, begun := reusedEndsHeld.Load(), reusedHoldsBegun.Load()
	afterGate = func() { waitUntil(30*time.Second, func() bool { return reusedEndsHeld.Load() > ends }) }
	beforeReusedBatch = func() { waitUntil(30*time.Second, func() bool { return reusedHoldsBegun.Load() > begun }) }
	defer func() { afterGate, beforeReusedBatch = nil, nil }()
	s, notice := barrierSession(t, addr, 2, "10 ms", pace)
	execScript(t, s, strings.ReplaceAll(barrierReuseTables, "ADDR", addr)+strings.ReplaceAll(`
CREATE TABLE pb (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
`, "ADDR", addr))
	cuts, held, reused := barrierCutsTaken.Load(), reusedRowsHeld.Load(), reusedBuilt.Load()
	j := startInsert(t, s, `EXECUTE STATEMENT SET BEGIN
INSERT INTO grand SELECT COUNT(*), SUM(amount), COUNT(DISTINCT pace(id)) FROM pb;
INSERT INTO pairs SELECT id, user_id, amount FROM pb WHERE id >= 0;
END;`)
	if r := reusedBuilt.Load() - reused; r != 1 {
		t.Fatalf("%d reused scans run as subtasks, want 1", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := j.Wait(ctx); err != nil {
		t.Fatalf("job: %v\n%s", err, notice)
	}
	if barrierCutsTaken.Load() == cuts || reusedRowsHeld.Load() == held || reusedEndsHeld.Load() == ends {
		t.Fatalf("%d barrier checkpoints, %d rows held, %d ends held (%d restarts): want some of each\n%s", barrierCutsTaken.Load()-cuts, reusedRowsHeld.Load()-held, reusedEndsHeld.Load()-ends, j.Metrics().Restarts, notice)
	}
	t.Logf("%d barrier checkpoints, %d rows held, %d ends held, %d restarts", barrierCutsTaken.Load()-cuts, reusedRowsHeld.Load()-held, reusedEndsHeld.Load()-ends, j.Metrics().Restarts)
	waitAllOnce(t, addr, "pairs", n)
	var top struct{ Cnt, Total, IDs int64 }
	for _, r := range readCommitted(t, addr, "grand") {
		var v struct {
			After *struct {
				Cnt   int64 `json:"cnt"`
				Total int64 `json:"total"`
				IDs   int64 `json:"ids"`
			} `json:"after"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable record %q", r.Value)
		}
		if v.After != nil && v.After.Cnt > top.Cnt {
			top.Cnt, top.Total, top.IDs = v.After.Cnt, v.After.Total, v.After.IDs
		}
	}
	var total int64
	for i := range n {
		total += int64(i % 7)
	}
	if top.Cnt != n || top.Total != total || top.IDs != n {
		t.Fatalf("keyless aggregate committed %+v, want {%d %d %d}", top, n, total, n)
	}
}
