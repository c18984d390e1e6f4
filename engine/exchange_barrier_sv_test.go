package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/expr"
)

// TestBarrierSavepointRestart: STOP JOB ... WITH SAVEPOINT at parallelism 2 while the input keeps arriving
// and the keyed subtasks are slow (rows queued at the cut, the sources reading on after it), cut with
// barriers (barrierSavepoints), then the job restored from the savepoint at parallelism 3 over the rest of
// the input. A regular join into an at-least-once kafka sink (a row after the cut written before the stop
// would be written again after the restore) and a GROUP BY into a GROUP BY (keyed → keyed over table o, whose
// WATERMARK is chained into the source subtasks) into upsert-kafka: every order exactly once. The sources
// were held back only while the gate was closed at the cut (CheckpointStats().Pause), not while the queued
// rows were processed.
func TestBarrierSavepointRestart(t *testing.T) {
	const n, chunk = 6000, 300
	for _, quiesce := range []bool{false, true} {
		for _, tc := range []struct{ name, insert string }{
			{"join-kafka", `INSERT INTO pairs_alo SELECT a.id, a.user_id, pace(b.amount) FROM p a JOIN p b ON a.id = b.id`},
			{"twolevel-wm-upsert", `INSERT INTO levels SELECT pace(cnt), COUNT(*) FROM (SELECT user_id, pace(COUNT(*)) AS cnt FROM o GROUP BY user_id) GROUP BY cnt`},
		} {
			t.Run(fmt.Sprintf("%s/quiesce=%v", tc.name, quiesce), func(t *testing.T) {
				noBarriers = quiesce // the old path, for the comparison of the time the sources were held
				defer func() { noBarriers = false }()
				addr := exchangeBroker(t)
				pace, err := expr.NewUDF("pace", func(v int64) int64 {
					time.Sleep(20 * time.Microsecond)
					return v
				})
				if err != nil {
					t.Fatal(err)
				}
				alo := fmt.Sprintf(`CREATE TABLE pairs_alo (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka',
  'topic' = 'pairs_alo', 'properties.bootstrap.servers' = '%s', 'format' = 'json');
`, addr)
				dir := t.TempDir()
				produceExchangeOrders(t, addr, "ord", 0, chunk)
				s, notice := barrierSession(t, addr, 2, "1 h", pace)
				execScript(t, s, alo)
				j := startInsert(t, s, tc.insert)
				// the input keeps arriving during and after the savepoint
				var wg sync.WaitGroup
				var produced atomic.Int64
				produced.Store(chunk)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for c := chunk; c < n; c += chunk {
						time.Sleep(10 * time.Millisecond)
						produceExchangeOrders(t, addr, "ord", c, chunk)
						produced.Store(int64(c + chunk))
					}
				}()
				waitUntil(30*time.Second, func() bool { return produced.Load() >= n/2 })
				svs := barrierSavepoints.Load()
				path, err := j.Stop(context.Background(), dir, false)
				if err != nil {
					t.Fatalf("stop: %v\n%s", err, notice)
				}
				if err := j.Wait(context.Background()); err != nil {
					t.Fatal(err)
				}
				if barrierSavepoints.Load() != svs+1 != quiesce {
					t.Fatalf("barrier savepoints %d, want %d", barrierSavepoints.Load()-svs, map[bool]int{false: 1, true: 0}[quiesce])
				}
				st := j.CheckpointStats()
				t.Logf("savepoint: sources held %s of %s", st.Pause, st.Total)
				wg.Wait()
				s2, notice2 := barrierSession(t, addr, 3, "1 h", pace)
				execScript(t, s2, alo+fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", path))
				j2 := startInsert(t, s2, tc.insert)
				defer func() {
					j2.Cancel()
					_ = j2.Wait(context.Background())
				}()
				switch tc.name {
				case "join-kafka":
					waitAllOnce(t, addr, "pairs_alo", n)
				default:
					waitUpsert(t, addr, "levels", levelsWant(n))
				}
				_ = notice2
			})
		}
	}
}

// waitAllOnce waits until topic pairs_alo holds every order below n, then checks that none is there twice.
func waitAllOnce(t *testing.T, addr, topic string, n int) {
	t.Helper()
	var ids map[int64]int
	read := func() int {
		ids = map[int64]int{}
		for _, r := range readCommitted(t, addr, topic) {
			var v struct {
				ID     int64 `json:"id"`
				UserID int64 `json:"user_id"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("unreadable record %q", r.Value)
			}
			ids[v.ID]++
		}
		return len(ids)
	}
	if !waitUntil(60*time.Second, func() bool { return read() >= n }) {
		t.Fatalf("%d of %d orders written", len(ids), n)
	}
	read()
	for id, c := range ids {
		if id < 0 || id >= int64(n) || c != 1 {
			t.Fatalf("order %d written %d times (%d orders)", id, c, len(ids))
		}
	}
}
