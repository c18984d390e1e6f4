package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

// TestBarrierSourceShapesRestart: graphs where some sources do not route into an exchange, at parallelism 2
// with checkpoints every 20 ms while the input keeps arriving, one failure (in a keyed subtask's forward
// chain, three quarters into the input) and an in-process restart from the latest checkpoint:
//   - sink: source subtasks write an exactly-once kafka sink themselves (a forward chain, sinkEnd) next to a
//     GROUP BY behind an exchange: the sink is pre-committed at the gate. Every order is committed once
//     (read_committed). Pre-committed under the final lock instead (lockGateSinks), the transactions hold
//     rows read after the gate, and the restart writes them again.
//   - lock: a keyless GROUP BY (built under the graph lock: its source subtasks push under it) next to a
//     GROUP BY behind an exchange: the keyless source's position is read under the final lock. The grand
//     totals are exact; with its position recorded at the gate (lockGatePositions) the rows it pushed between
//     the gate and the lock are counted twice.
//   - rocksdb: 'state.backend.type' = 'rocksdb' (its GROUP BY under the graph lock, fed by source subtasks)
//     next to a join into exactly-once kafka behind an exchange: exact totals, every pair once; with
//     lockGatePositions the totals count rows twice.
//
// Each shape took the quiesce before (barrierCheckpoints); every checkpoint before the failure is cut with
// barriers now (barrierCutsTaken). The test also runs each shape with the quiesce (noBarriers) and logs how
// long the sources were held over all checkpoints for both.
func TestBarrierSourceShapesRestart(t *testing.T) {
	const n, chunk = 9000, 300
	for _, tc := range []struct {
		name, set, rocks string
		pace             time.Duration // the keyed subtasks' forward chain per row (the barriers' wait)
	}{
		{"sink", `EXECUTE STATEMENT SET BEGIN
INSERT INTO pairs SELECT id, user_id, amount FROM p;
INSERT INTO totals SELECT user_id, pace(cnt), total FROM (SELECT user_id, COUNT(*) AS cnt, SUM(amount) AS total FROM p GROUP BY user_id);
END;`, "", 10 * time.Microsecond},
		{"lock", `EXECUTE STATEMENT SET BEGIN
INSERT INTO grand SELECT 1, slow(COUNT(*)), SUM(amount) FROM p;
INSERT INTO totals SELECT user_id, pace(cnt), total FROM (SELECT user_id, COUNT(*) AS cnt, SUM(amount) AS total FROM p GROUP BY user_id);
END;`, "", 10 * time.Microsecond},
		// no exchange: the sink's source subtasks cut at the gate, the keyless GROUP BY's under the lock
		{"noexchange", `EXECUTE STATEMENT SET BEGIN
INSERT INTO pairs SELECT id, user_id, pace(amount) FROM p;
INSERT INTO grand SELECT 1, slow(COUNT(*)), SUM(amount) FROM p;
END;`, "", 10 * time.Microsecond},
		{"rocksdb", `EXECUTE STATEMENT SET BEGIN
INSERT INTO totals SELECT user_id, slow(COUNT(*)), SUM(amount) FROM p GROUP BY user_id;
INSERT INTO pairs SELECT a.id, a.user_id, pace(b.amount) FROM p a JOIN p b ON a.id = b.id;
END;`, "SET 'state.backend.type' = 'rocksdb';\n", 60 * time.Microsecond},
	} {
		for _, quiesce := range raceThin([]bool{false, true}) {
			t.Run(fmt.Sprintf("%s/quiesce=%v", tc.name, quiesce), func(t *testing.T) {
				noBarriers = quiesce
				defer func() { noBarriers = false }()
				if tc.name == "noexchange" {
					// no barrier to wait for: the sources read on between the gate and the final lock for a while
					afterGate = func() { time.Sleep(5 * time.Millisecond) }
					defer func() { afterGate = nil }()
				}
				addr := exchangeBroker(t)
				fail, pace := newFailOnce(t, tc.pace, n*3/4)
				slow, err := expr.NewUDF("slow", func(v int64) int64 {
					time.Sleep(5 * time.Microsecond)
					return v
				})
				if err != nil {
					t.Fatal(err)
				}
				produceExchangeOrders(t, addr, "ord", 0, chunk)
				s, notice := barrierSession(t, addr, 2, "20 ms", pace, slow)
				execScript(t, s, tc.rocks+fmt.Sprintf(`CREATE TABLE grand (k INT, cnt BIGINT, total BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'grand', 'properties.bootstrap.servers' = '%s',
  'key.format' = 'json', 'value.format' = 'json');
`, addr))
				built := exchangesBuilt.Load()
				st, err := sql.ParseStatement(tc.set)
				if err != nil {
					t.Fatal(err)
				}
				res, err := s.Execute(context.Background(), st)
				if err != nil {
					t.Fatal(err)
				}
				j := res.Job
				defer func() {
					j.Cancel()
					_ = j.Wait(context.Background())
				}()
				if (exchangesBuilt.Load() == built) != (tc.name == "noexchange") {
					t.Fatalf("%d exchanges built", exchangesBuilt.Load()-built)
				}
				for c := chunk; c < n; c += chunk {
					time.Sleep(10 * time.Millisecond)
					produceExchangeOrders(t, addr, "ord", c, chunk)
				}
				// (a race-instrumented run on a loaded machine takes longer than waitUpsert's deadline)
				waitUntil(120*time.Second, func() bool {
					return tc.name == "noexchange" || fmt.Sprint(upsertTable(t, addr, "totals")) == fmt.Sprint(totalsWant(n))
				})
				if tc.name != "noexchange" {
					waitUpsert(t, addr, "totals", totalsWant(n))
				}
				// the time the sources were held per checkpoint, over the checkpoints until the input was processed
				cs := j.CheckpointStats()
				if cs.Count > 0 {
					t.Logf("%d checkpoints: sources held %s of %s (%s per checkpoint)", cs.Count, cs.Pause.Round(time.Microsecond), cs.Total.Round(time.Microsecond), (cs.Pause / time.Duration(cs.Count)).Round(time.Microsecond))
				}
				switch tc.name {
				case "sink", "rocksdb":
					waitPairsOnce(t, j, addr, n)
				case "noexchange":
					waitPairsOnce(t, j, addr, n)
					fallthrough
				case "lock":
					sum := 0
					for i := range n {
						sum += i % 7
					}
					waitUpsert(t, addr, "grand", map[string]string{`{"k":1}`: fmt.Sprintf(`{"k":1,"cnt":%d,"total":%d}`, n, sum)})
				}
				fail.checkOneRestart(t, j, notice)
				if got := fail.cutsBefore.Load(); (got >= 1) == quiesce {
					t.Fatalf("%d checkpoints cut with barriers before the failure (quiesce %v)", got, quiesce)
				}
			})
		}
	}
}

// waitPairsOnce is waitPairs for a job that may quiesce: the two checkpoints that would commit a duplicate
// are counted by the job's checkpoint stats.
func waitPairsOnce(t *testing.T, j *Job, addr string, n int) {
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
	next := j.CheckpointStats().Count + 2
	waitUntil(20*time.Second, func() bool { return j.CheckpointStats().Count >= next })
	// committed records stay: a read that finds fewer orders is the reader's (readCommitted gives up after 5 s
	// without a record, which its first fetch can take under -race on a loaded machine), so it reads again
	waitUntil(outputStall, func() bool { return read() >= n })
	for id, c := range ids {
		if id < 0 || id >= int64(n) || c != 1 {
			t.Fatalf("order %d committed %d times (%d orders)", id, c, len(ids))
		}
	}
}
