package crashtest

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

// Unaligned checkpoints into an exchange fed by keyed subtasks (exec/exchange_unaligned_keyed.go) killed at
// random moments: GROUP BY user_id, amount → GROUP BY amount at parallelism 2 → upsert-kafka on a slow sink
// broker. Every first-level subtask takes its barrier at the head of its queue (unaligned, fed by the source
// subtasks) once its current item is done and forwards it; a second-level subtask cuts its state at the first
// of those barriers, and the rows the other first-level subtask sends before its own barrier (its retractions
// and updates of the amounts' counts, -U/+U) are in flight on that channel: written as channel state and
// replayed by a restore before any new input, in their channel's order. A scenario fails unless some restore
// replayed in-flight rows of the second level's exchange.

// keyedInFlightRE matches the notice of a restore that replays in-flight rows of the second GROUP BY (by amount).
var keyedInFlightRE = regexp.MustCompile(`Restored (\d+) in-flight rows of GroupAggregate\(groupBy=\[amount\], `)

// keyedInFlight sums the in-flight rows of the second GROUP BY that the runs' outputs say they restored.
func keyedInFlight(outs []string) int {
	n := 0
	for _, out := range outs {
		for _, m := range keyedInFlightRE.FindAllStringSubmatch(out, -1) {
			k, _ := strconv.Atoi(m[1])
			n += k
		}
	}
	return n
}

// TestUnalignedKeyedKillTwoLevel: GROUP BY user_id, amount → GROUP BY amount (two exchanges, the second fed by
// the first's keyed subtasks) at parallelism 2 → upsert-kafka, unaligned checkpoints every 100 ms (not
// parallel).
func TestUnalignedKeyedKillTwoLevel(t *testing.T) {
	const users = 300
	s := scenario{
		users:    users,
		preload:  200000,
		settings: unalignedSets,
		tables: []string{plainOrders("orders"),
			sinkOn(upsertSink("lvl", "amount BIGINT, users BIGINT, orders BIGINT", "amount"))},
		insert: `INSERT INTO lvl SELECT amount, COUNT(*), SUM(cnt) FROM (SELECT user_id, amount, COUNT(*) AS cnt
FROM orders GROUP BY user_id, amount) GROUP BY amount;`,
		parallelism: []int{2},
		topic:       "lvl",
		upsert:      true,
		key:         []string{"amount"},
		val:         []string{"users", "orders"},
		want: func(total int) map[string]expect {
			seen := map[[2]int]bool{}
			us, cnt := make([]int, 7), make([]int, 7)
			for i := 0; i < total; i++ {
				a := i % 7
				if k := [2]int{i % users, a}; !seen[k] {
					seen[k] = true
					us[a]++
				}
				cnt[a]++
			}
			want := map[string]expect{}
			for a := range 7 {
				if us[a] > 0 {
					want[row(a)] = expect{row(us[a], cnt[a]), true}
				}
			}
			return want
		},
	}
	// Not parallel: next to the other crash tests (under -race above all) the second level's keyed subtasks
	// were never behind at a cut in 24 kills.
	outs := s.runSlowSink(t, 191, 300*time.Millisecond, func(outs []string) bool { return keyedInFlight(outs) == 0 })
	n := keyedInFlight(outs)
	if n == 0 && !*noRestore {
		t.Fatalf("no run restored in-flight rows of the second GROUP BY's exchange: the scenario did not test its channel state\nlast client output:\n%s",
			indent(outs[len(outs)-1]))
	}
	t.Logf("%d in-flight rows of the keyed → keyed exchange restored", n)
}
