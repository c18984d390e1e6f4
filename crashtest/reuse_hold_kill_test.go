package crashtest

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

// A reused scan's hold during barrier checkpoints (engine/reuse_hold.go) killed at random moments: a
// statement set reads the orders once (source reuse) at parallelism 2 for a GROUP BY behind an exchange (→
// upsert-kafka) and a keyless TUMBLE window aggregate, a branch under the graph lock (→ exactly-once kafka).
// From each checkpoint's gate until its part under the graph lock is done, what the window's branch reads is
// held, up to a budget: the sink broker answers late, so each checkpoint's pre-commit holds long, and the
// budget is lowered to 64 KiB for the client through the engine's internal test hook (the environment
// variable SLUICE_TEST_REUSED_HOLD_BYTES; the client then prints what its holds kept), so that the subtasks
// also wait at the budget. Every window must be written exactly once with its exact count, and every user's
// totals be exact.

// holdRE matches the client's report of its holds under the test hook.
var holdRE = regexp.MustCompile(`reused scan holds: (\d+) rows held, (\d+) waits at the budget`)

// holds returns the most rows held and waits at the budget that a run reported, summed over the runs.
func holds(outs []string) (rows, waits int) {
	for _, out := range outs {
		r, w := 0, 0
		for _, m := range holdRE.FindAllStringSubmatch(out, -1) {
			a, _ := strconv.Atoi(m[1])
			b, _ := strconv.Atoi(m[2])
			r, w = max(r, a), max(w, b)
		}
		rows, waits = rows+r, waits+w
	}
	return rows, waits
}

// TestReusedHoldKill (not parallel: the hook is the test process's environment, inherited by its clients).
func TestReusedHoldKill(t *testing.T) {
	t.Setenv("SLUICE_TEST_REUSED_HOLD_BYTES", strconv.Itoa(64<<10))
	const users = 300
	totals := scenario{
		users:   users,
		preload: 100000,
		settings: []string{
			`SET 'table.optimizer.reuse-source-enabled' = 'true';`,
			`SET 'execution.checkpointing.interval' = '100 ms';`,
		},
		tables: []string{groupOffsets(eventOrders("orders", "id * 10")),
			sinkOn(upsertSink("totals", "user_id BIGINT, cnt BIGINT, total BIGINT", "user_id")),
			sinkOn(eoSink("wins", "ws TIMESTAMP(3), we TIMESTAMP(3), cnt BIGINT, total BIGINT, first_id BIGINT, last_id BIGINT"))},
		insert: `EXECUTE STATEMENT SET BEGIN
INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id;
INSERT INTO wins SELECT window_start, window_end, COUNT(*), SUM(amount), MIN(id), MAX(id)
  FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end;
END;`,
		parallelism: []int{2},
		topic:       "totals",
		upsert:      true,
		key:         []string{"user_id"},
		val:         []string{"cnt", "total"},
		want: func(total int) map[string]expect {
			cnt, sum := make([]int, users), make([]int, users)
			for i := 0; i < total; i++ {
				cnt[i%users]++
				sum[i%users] += i % 7
			}
			want := map[string]expect{}
			for u := 0; u < users && u < total; u++ {
				want[row(u)] = expect{row(cnt[u], sum[u]), true}
			}
			return want
		},
	}
	wins := scenario{
		topic: "wins",
		key:   []string{"ws", "we"},
		val:   []string{"cnt", "total", "first_id", "last_id"},
		want: func(total int) map[string]expect {
			wm := passed(total, func(id int) int64 { return int64(id) * 10 })
			want := map[string]expect{}
			for w := 0; w*100 < total; w++ {
				cnt, sum, last := 0, 0, 0
				for i := w * 100; i < min(total, w*100+100); i++ {
					cnt, sum, last = cnt+1, sum+i%7, i
				}
				want[row(w*1000, w*1000+1000)] = expect{row(cnt, sum, w*100, last), int64(w*1000+1000) <= wm}
			}
			return want
		},
	}
	// A batch larger than the budget waits without being held, so a loaded machine whose source reads big
	// batches may see only waits for a while: the runs go on (up to three times the kills) until both were
	// seen.
	outs := totals.runSlowSink(t, 183, 100*time.Millisecond, func(outs []string) bool { r, w := holds(outs); return r == 0 || w == 0 }, &wins)
	rows, waits := holds(outs)
	t.Logf("the runs' holds kept %d rows and waited %d times at the budget", rows, waits)
	if rows == 0 || waits == 0 {
		t.Fatalf("the runs' holds kept %d rows and waited %d times at the budget; want some of each\nlast client output:\n%s", rows, waits, indent(outs[len(outs)-1]))
	}
}
