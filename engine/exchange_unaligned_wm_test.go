package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
)

// TestUnalignedWatermarkRestartProperty: event-time jobs at parallelism 2 behind an exchange — a TUMBLE window
// aggregate into upsert-kafka and an interval join into exactly-once kafka — with unaligned checkpoints every
// 20 ms while the input arrives and slow keyed subtasks (full queues: their barriers overtake rows and
// watermarks, one subtask ahead of the other). Per seed the keyed subtasks fail once at a random point and
// the job restarts in-process from its latest checkpoint: the windows and pairs are exact (no window lost to
// a watermark restored past the rows replayed from the channel state, none fired twice, no pair dropped as
// late or twice). Over the test the barriers overtook watermarks (no subtask fell back to an aligned
// barrier).
//
//	SLUICE_UNALIGNED_SEEDS=20 go test -race ./engine -run TestUnalignedWatermarkRestartProperty
func TestUnalignedWatermarkRestartProperty(t *testing.T) {
	seeds := 2
	if v, err := strconv.Atoi(os.Getenv("SLUICE_UNALIGNED_SEEDS")); err == nil && v > 0 {
		seeds = v
	}
	const n, chunk = 12000, 300
	exec.NoSubtaskMetas = os.Getenv("NOMETA") != ""
	defer func() { exec.NoSubtaskMetas = false }()
	c0 := exec.UnalignedTotals()
	for seed := range seeds {
		for _, tc := range []struct {
			name, insert string
			calls        int64         // the calls of pace in a run without failure
			lag          time.Duration // the slow user's sleep per call
		}{
			// pace on the windows' output (in the keyed subtasks): 118 windows of 37 users fire
			{"tumble", `INSERT INTO wins SELECT MIN(id), pace(behind(user_id, COUNT(*))), SUM(amount) FROM TABLE(TUMBLE(TABLE o, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY user_id, window_start, window_end`, 118 * 37, 5 * time.Millisecond},
			{"interval-join", `INSERT INTO pairs SELECT a.id, a.user_id, pace(behind(a.user_id, b.amount)) FROM o a JOIN o b ON a.id = b.id AND a.ts BETWEEN b.ts - INTERVAL '1' SECOND AND b.ts + INTERVAL '1' SECOND`, n, time.Millisecond},
		} {
			t.Run(fmt.Sprintf("%s/seed%d", tc.name, seed), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(seed), 7))
				failAt := tc.calls/5 + r.Int64N(tc.calls*3/5)
				sleep := time.Duration(20+r.IntN(40)) * time.Microsecond
				addr := exchangeBroker(t)
				fail, pace := newFailOnce(t, sleep, failAt)
				// one user's rows are slow: the subtask that owns it lags behind the other (its queue holds rows
				// and watermarks the other processed)
				slowUser, lagBy := int64(seed%37), tc.lag
				behind, err := expr.NewUDF("behind", func(user, v int64) int64 {
					if user == slowUser {
						time.Sleep(lagBy)
					}
					return v
				})
				if err != nil {
					t.Fatal(err)
				}
				produceExchangeOrders(t, addr, "ord", 0, chunk)
				s, notice := barrierSession(t, addr, 2, "20 ms", pace, behind)
				execScript(t, s, unalignedOn+fmt.Sprintf(`
CREATE TABLE wins (first_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (first_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'wins', 'properties.bootstrap.servers' = '%s',
  'key.format' = 'json', 'value.format' = 'json');
`, addr))
				j := startInsert(t, s, tc.insert)
				defer func() {
					j.Cancel()
					_ = j.Wait(context.Background())
				}()
				for c := chunk; c < n; c += chunk {
					time.Sleep(10 * time.Millisecond)
					produceExchangeOrders(t, addr, "ord", c, chunk)
				}
				if tc.name == "tumble" {
					// the watermark ends 1 s behind the last order of the slowest partition: 118 windows fire
					waitUpsert(t, addr, "wins", windowsWant(118*100))
				} else {
					waitPairs(t, addr, n)
				}
				fail.checkOneRestart(t, j, notice)
				t.Logf("failed at call %d of %d (sleep %v) after %d barrier cuts", failAt, tc.calls, sleep, fail.cutsBefore.Load())
			})
		}
	}
	c1 := exec.UnalignedTotals()
	t.Logf("items overtaken %d (watermarks %d), written %d, replayed %d", c1.Overtaken-c0.Overtaken,
		c1.Watermark-c0.Watermark, c1.Written-c0.Written, c1.Replayed-c0.Replayed)
	if c1.Watermark-c0.Watermark < 1 {
		t.Fatal("no barrier overtook a watermark")
	}
}
