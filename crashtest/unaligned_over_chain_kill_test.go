package crashtest

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

// Unaligned checkpoints of OVER → OVER → GROUP BY (engine.TestUnalignedOverChain's chain) killed at random
// moments: an event-time OVER per user numbers each user's orders (n), a second OVER per n numbers the rows
// of each n (m), and a GROUP BY n sums m, at parallelism 2 into upsert-kafka on a slow sink broker. The
// second OVER's exchange is fed by the first OVER's keyed subtasks (exec/exchange_unaligned_keyed.go): its
// subtasks cut their state at the first barrier of either first-level subtask, and the rows the other one
// sends before its own barrier are in flight. Every keyed subtask is slowed a little by the test hook
// keyedDelay, so that the first-level subtasks forward their barriers at different moments while they emit
// rows; runs are killed until some restore replayed in-flight rows of the second OVER's exchange. The final
// watermark passes every order fed (flush), so every order fires in both OVERs: per n the sum of m is
// c(n)(c(n)+1)/2, c(n) being the number of users with n orders or more, whatever the order the rows came in.

// overChainInFlightRE matches the notice of a restore that replays in-flight rows of the second OVER (by n).
var overChainInFlightRE = regexp.MustCompile(`Restored (\d+) in-flight rows of OverAggregate\(partitionBy=\[n\]`)

// overChainInFlight sums the in-flight rows of the second OVER that the runs' outputs say they restored.
func overChainInFlight(outs []string) int {
	n := 0
	for _, out := range outs {
		for _, m := range overChainInFlightRE.FindAllStringSubmatch(out, -1) {
			k, _ := strconv.Atoi(m[1])
			n += k
		}
	}
	return n
}

// overFlushID is the first id of the orders that flush produces: event time id ms, far past every order
// fed, and the flush orders within 1 s of each other, so the watermark passes every order fed and none of
// them.
const overFlushID = 1_000_000_000

// TestUnalignedKillOverChain: OVER by user → OVER by n → GROUP BY n at parallelism 2 → upsert-kafka,
// unaligned checkpoints every 100 ms.
func TestUnalignedKillOverChain(t *testing.T) {
	const users = 50
	s := scenario{
		users:    users,
		preload:  50000,
		settings: unalignedSets,
		tables: []string{groupOffsets(eventOrders("events", "id")),
			sinkOn(upsertSink("levels", "cnt BIGINT, users BIGINT", "cnt"))},
		insert: `INSERT INTO levels SELECT n, SUM(m) FROM (
  SELECT n, COUNT(*) OVER (PARTITION BY n ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS m FROM (
    SELECT COUNT(*) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n, ts
    FROM events)) GROUP BY n;`,
		parallelism: []int{2},
		// 3 ms, not TestUnalignedKillRescaleWindow's 20: the OVERs emit rows on watermarks, and with every
		// watermark item that slow the watermark lags far behind the input, so the runs emit next to nothing
		// before they are killed and no rows are in flight into the second OVER (0 in 24 kills, once).
		env:    []string{keyedDelay(3 * time.Millisecond)},
		settle: true, // a run that replays rows of the second OVER counts only once it checkpointed
		flush: func(t *testing.T, addr string) {
			produce(t, addr, "orders", orders(overFlushID, users, users)) // every user, so every partition
		},
		topic:  "levels",
		upsert: true,
		key:    []string{"cnt"},
		val:    []string{"users"},
		want: func(total int) map[string]expect {
			per := make([]int, users)
			for i := 0; i < total; i++ {
				per[i%users]++
			}
			c := map[int]int{}
			for _, k := range per {
				for v := 1; v <= k; v++ {
					c[v]++
				}
			}
			want := map[string]expect{}
			for v, u := range c {
				want[row(v)] = expect{row(u * (u + 1) / 2), true}
			}
			return want
		},
	}
	t.Parallel()
	outs := s.runSlowSink(t, 192, 100*time.Millisecond, func(outs []string) bool { return overChainInFlight(outs) == 0 })
	n := overChainInFlight(outs)
	t.Logf("%d in-flight rows of the second OVER's exchange restored", n)
	if n == 0 && !*noRestore {
		t.Fatalf("no run restored in-flight rows of the second OVER's exchange: the scenario did not test its channel state\nlast client output:\n%s",
			indent(outs[len(outs)-1]))
	}
}
