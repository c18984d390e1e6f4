package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A sink's own subtasks fed from under the graph lock (exchange_sink.go, buildLockFedSink): the sink's input
// runs as one instance (a GROUP BY at parallelism 1, a keyless aggregate, a window aggregate at parallelism
// 1) and routes into the sink's exchange while it holds the lock.

// TestSinkParallelismLockFedUpsert: a GROUP BY at parallelism 1 and a keyless aggregate at parallelism 2
// into an upsert-kafka sink of 'sink.parallelism' 2 (and 3): the sink runs as its own subtasks behind a hash
// exchange on the primary key fed from under the lock; the compacted table is exact and every key's records,
// in offset order, have strictly increasing counts (its changes went through one sink subtask, in order).
func TestSinkParallelismLockFedUpsert(t *testing.T) {
	const n = 6000
	keyless := map[string]string{`{"user_id":0}`: fmt.Sprintf(`{"user_id":0,"cnt":%d,"total":%d}`, n, n/7*21+(n%7)*(n%7-1)/2)}
	for _, tc := range []struct {
		name          string
		par, sinkPar  int
		insert        string
		want          map[string]string
		checkpointing bool
	}{
		{"groupby-P1-sink2", 1, 2, `INSERT INTO totals_n SELECT user_id, COUNT(*), SUM(amount) FROM p GROUP BY user_id`, totalsWant(n), true},
		{"groupby-P1-sink3", 1, 3, `INSERT INTO totals_n SELECT user_id, COUNT(*), SUM(amount) FROM p GROUP BY user_id`, totalsWant(n), false},
		{"keyless-P2-sink2", 2, 2, `INSERT INTO totals_n SELECT CAST(0 AS BIGINT), COUNT(*), SUM(amount) FROM p`, keyless, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := exchangeBroker(t)
			produceExchangeOrders(t, addr, "ord", 0, n)
			s := exchangeSession(t, tc.par)
			script := strings.NewReplacer("ADDR", addr, "'N'", fmt.Sprintf("'%d'", tc.sinkPar)).Replace(exchangeJobTables + sinkParTables)
			if tc.checkpointing {
				script += "SET 'execution.checkpointing.interval' = '50 ms';\n"
			}
			execScript(t, s, script)
			fed, own := lockFedSinksBuilt.Load(), sinkOwnSubtasksBuilt.Load()
			j := startInsert(t, s, tc.insert)
			defer func() {
				j.Cancel()
				_ = j.Wait(context.Background())
			}()
			if f, o := lockFedSinksBuilt.Load()-fed, sinkOwnSubtasksBuilt.Load()-own; f != 1 || o != int64(tc.sinkPar) {
				t.Fatalf("%d sinks fed from under the lock, %d sink subtasks built, want 1 and %d", f, o, tc.sinkPar)
			}
			waitUpsert(t, addr, "totals", tc.want)
			last := map[string]int64{}
			for _, r := range readAll(t, addr, "totals") {
				var v struct{ Cnt int64 }
				if err := json.Unmarshal(r.Value, &v); err != nil {
					t.Fatalf("record %q: %v", r.Value, err)
				}
				if v.Cnt <= last[string(r.Key)] {
					t.Fatalf("key %s: count %d after %d: its changes out of order", r.Key, v.Cnt, last[string(r.Key)])
				}
				last[string(r.Key)] = v.Cnt
			}
		})
	}
}

// TestSinkParallelismLockFedRestart: at parallelism 1, with checkpoints every 20 ms while the input keeps
// arriving, a function in the chain below the operator fails once, two thirds into the input, and the job
// restarts from its latest checkpoint (in process):
//   - a deduplication (keep the first row per id: insert-only, one instance under the lock) into an
//     exactly-once kafka sink of 'sink.parallelism' 3 (rebalance): the committed (read_committed) records
//     hold every order exactly once;
//   - a GROUP BY into an upsert-kafka sink of 'sink.parallelism' 3: the compacted table is exact.
//
// (The function is below the operator: one failing above it, under the graph lock, leaves its batch half
// applied, and a checkpoint taken before the job's cancel reaches the checkpointer can cut that state with
// the position before the batch, at any sink parallelism; and a TUMBLE window over a WATERMARK at
// parallelism 1 stops firing after such an in-process restart, also at 'sink.parallelism' 1. Both are
// outside the sink's exchange.)
func TestSinkParallelismLockFedRestart(t *testing.T) {
	const n, chunk = 9000, 300
	for _, tc := range []struct{ name, insert string }{
		{"dedup-kafka-eo", `INSERT INTO pairs_n SELECT id, user_id, amount FROM (SELECT id, user_id, amount, ROW_NUMBER() OVER (PARTITION BY id ORDER BY proc) AS rn FROM (SELECT id, user_id, pace(amount) AS amount, proc FROM pp)) WHERE rn = 1`},
		{"groupby-upsert", `INSERT INTO totals_n SELECT user_id, COUNT(*), SUM(pace(amount)) FROM p GROUP BY user_id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := exchangeBroker(t)
			fail, pace := newFailOnce(t, 10*time.Microsecond, 2*n/3)
			produceExchangeOrders(t, addr, "ord", 0, chunk)
			s, notice := barrierSession(t, addr, 1, "20 ms", pace)
			execScript(t, s, strings.NewReplacer("ADDR", addr, "'N'", "'3'").Replace(sinkParTables+`
CREATE TABLE pp (id BIGINT, user_id BIGINT, amount BIGINT, proc AS PROCTIME()) WITH ('connector' = 'kafka',
  'topic' = 'ord', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
`))
			fed, own := lockFedSinksBuilt.Load(), sinkOwnSubtasksBuilt.Load()
			j := startInsert(t, s, tc.insert)
			defer func() {
				j.Cancel()
				_ = j.Wait(context.Background())
			}()
			if f, o := lockFedSinksBuilt.Load()-fed, sinkOwnSubtasksBuilt.Load()-own; f != 1 || o != 3 {
				t.Fatalf("%d sinks fed from under the lock, %d sink subtasks built, want 1 and 3", f, o)
			}
			for c := chunk; c < n; c += chunk {
				time.Sleep(10 * time.Millisecond)
				produceExchangeOrders(t, addr, "ord", c, chunk)
			}
			if tc.name == "groupby-upsert" {
				waitUpsert(t, addr, "totals", totalsWant(n))
			} else {
				waitPairsJob(t, j, addr, n)
			}
			fail.checkOneRestart(t, j, notice)
		})
	}
}

// waitPairsJob waits until the committed records of topic pairs hold every order below n (while more are
// committed: waitProgress), then, after two
// more checkpoints of j (a duplicate would be committed by then), checks that each is there once and right.
func waitPairsJob(t *testing.T, j *Job, addr string, n int) {
	t.Helper()
	var ids map[int64]int
	read := func() int {
		ids = map[int64]int{}
		for _, r := range readCommitted(t, addr, "pairs") {
			var v struct {
				ID     int64 `json:"id"`
				UserID int64 `json:"user_id"`
				Amount int64 `json:"amount"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("unreadable record %q", r.Value)
			}
			if v.UserID != v.ID%37 || v.Amount != v.ID%7 {
				t.Fatalf("record %s: want user_id %d and amount %d", r.Value, v.ID%37, v.ID%7)
			}
			ids[v.ID]++
		}
		return len(ids)
	}
	if ok, waited := waitProgress(func() (string, bool) { c := read(); return fmt.Sprint(c), c >= n }); !ok {
		t.Fatalf("%d of %d orders committed after %v (none more for %v); %s", len(ids), n, waited.Round(time.Second), outputStall, missingOrders(ids, n))
	}
	next := j.LastCheckpoint().ID + 2
	if !waitUntil(20*time.Second, func() bool { return j.LastCheckpoint().ID >= next }) {
		t.Fatalf("no two more checkpoints after the output was complete (last %d)", j.LastCheckpoint().ID)
	}
	// committed records stay: a read that finds fewer orders is the reader's (readCommitted gives up after 5 s
	// without a record, which its first fetch can take under -race on a loaded machine), so it reads again
	waitUntil(outputStall, func() bool { return read() >= n })
	for id, c := range ids {
		if id < 0 || id >= int64(n) || c != 1 {
			t.Fatalf("order %d committed %d times (%d orders)", id, c, len(ids))
		}
	}
}
