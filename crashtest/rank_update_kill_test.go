package crashtest

import (
	"sort"
	"testing"
	"time"
)

// Top-N over an updating input, killed at random moments (the harness of scenario_test.go): the three items
// with the largest balance of every category, where item = id / 20 (20 consecutive orders), its balance is
// SUM(amount - 3) over its orders (a GROUP BY, so the rank's input is a changelog of -U/+U pairs) and its
// category is item MOD 5 → upsert-kafka keyed by (category, rn), read as the compacted table. Ties rank the
// older item first. An item's final balance is at most 3 (its 20 amounts are two cycles of 0..6 and six more),
// reached early in every category, so the final top 3 are old items that the rank must keep in its state
// across restores; while an item is open its balance rises up to 6 and falls back, so it enters the top 3 and
// is retracted again: rows leave the rank's state and its output all the time while the job is killed.
func topNUpdating(t *testing.T, seed uint64, parallelism []int) {
	const categories, itemOrders = 5, 20
	s := scenario{
		users:   50,
		preload: 2000,
		// Kills from 2 s after a start on, so that killed runs complete checkpoints of a grown rank state (with
		// kills sooner the runs at parallelism 2 rarely completed one, and a rank that forgot its state on a
		// restore went unnoticed).
		later: 2 * time.Second,
		tables: []string{eventOrders("orders", "id * 10"),
			upsertSink("top3", "category BIGINT, rn BIGINT, item BIGINT, balance BIGINT", "category, rn")},
		insert: `INSERT INTO top3 SELECT category, rn, item, balance FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY category ORDER BY balance DESC, item) AS rn
  FROM (SELECT id / 20 AS item, MOD(id / 20, 5) AS category, SUM(amount - 3) AS balance FROM orders GROUP BY id / 20))
WHERE rn <= 3;`,
		parallelism: parallelism,
		topic:       "top3",
		upsert:      true,
		key:         []string{"category", "rn"},
		val:         []string{"item", "balance"},
		want: func(total int) map[string]expect {
			balance := make([]int, (total+itemOrders-1)/itemOrders)
			for i := 0; i < total; i++ {
				balance[i/itemOrders] += i%7 - 3
			}
			want := map[string]expect{}
			for c := 0; c < categories; c++ {
				var items []int
				for it := c; it < len(balance); it += categories {
					items = append(items, it)
				}
				sort.SliceStable(items, func(a, b int) bool { return balance[items[a]] > balance[items[b]] })
				for rn, it := range items[:3] {
					want[row(c, rn+1)] = expect{row(it, balance[it]), true}
				}
			}
			return want
		},
	}
	s.run(t, seed)
}

// TestTopNUpdatingKill: the Top-N over the GROUP BY at parallelism 1 in every run.
func TestTopNUpdatingKill(t *testing.T) { topNUpdating(t, 80, []int{1}) }

// TestTopNUpdatingKillExchange: at parallelism 2 in every run (the aggregate keyed by item and the rank
// keyed by category, each as 2 subtasks behind a hash exchange; the rank's input retractions cross it).
func TestTopNUpdatingKillExchange(t *testing.T) { topNUpdating(t, 81, []int{2}) }
