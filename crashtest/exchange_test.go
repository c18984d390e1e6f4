package crashtest

import "testing"

// Keyed operators behind the pipelined hash exchange (engine/exchange.go): the 4 source subtasks of the
// orders topic route their rows by key group into keyed subtasks on goroutines of their own; checkpoints
// close the gate and wait until no row is in flight. Killed at random moments, the output must be exact.

// TestExchangeGroupByKill: GROUP BY user_id → upsert-kafka at parallelism 2 in every run.
func TestExchangeGroupByKill(t *testing.T) { userTotals(t, 60, 300, 0, []int{2}) }

// exchangeLeftJoin is a regular (non-interval) LEFT JOIN of the orders with the orders of the same topic read by a
// second table (id = id, the right side filtered to amount < 5) → upsert-kafka keyed by the order id: a left
// row that arrives before its partner is written with NULLs and retracted when the partner comes (orders
// with amount 5 or 6 keep their NULL), so the join's retractions go through the sink too.
func exchangeLeftJoin(t *testing.T, seed uint64, parallelism []int) {
	const users = 50
	s := scenario{
		users: users,
		tables: []string{eventOrders("orders", "id * 10"), eventOrders("partners", "id * 10"),
			upsertSink("joined", "id BIGINT, user_id BIGINT, p_amount BIGINT", "id")},
		settings: []string{`SET 'table.optimizer.reuse-source-enabled' = 'false';`},
		insert: `INSERT INTO joined SELECT o.id, o.user_id, p.amount
FROM orders o LEFT JOIN (SELECT id, amount FROM partners WHERE amount < 5) p ON o.id = p.id;`,
		parallelism: parallelism,
		topic:       "joined",
		upsert:      true,
		key:         []string{"id"},
		val:         []string{"user_id", "p_amount"},
		want: func(total int) map[string]expect {
			want := map[string]expect{}
			for i := 0; i < total; i++ {
				var amount any
				if i%7 < 5 {
					amount = i % 7
				}
				want[row(i)] = expect{row(i%users, amount), true}
			}
			return want
		},
	}
	s.run(t, seed)
}

// TestExchangeJoinKill: the regular join at parallelism 2 in every run.
func TestExchangeJoinKill(t *testing.T) { exchangeLeftJoin(t, 61, []int{2}) }

// TestExchangeJoinKillRescale: the same with the parallelism changing between restores (2, 3, 1, ...): the
// join state of the keyed subtasks is redistributed by key group at every restore.
func TestExchangeJoinKillRescale(t *testing.T) { exchangeLeftJoin(t, 62, []int{2, 3, 1}) }

// TestExchangeTwoLevelKill: two keyed operators behind two exchanges at parallelism 2, the first one's keyed
// subtasks sending straight into the second's (engine/exchange_keyed.go): GROUP BY user_id, amount → Calc →
// GROUP BY amount → upsert-kafka. Every checkpoint waits until neither exchange has data in flight; the
// second level's counts are retracted and re-emitted at every update of the first.
func TestExchangeTwoLevelKill(t *testing.T) {
	const users = 60
	s := scenario{
		users:  users,
		tables: []string{eventOrders("orders", "id * 10"), upsertSink("lvl", "amount BIGINT, users BIGINT, orders BIGINT", "amount")},
		insert: `INSERT INTO lvl SELECT amount, COUNT(*), SUM(cnt) FROM (SELECT user_id, amount, COUNT(*) + 1 AS cnt
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
					want[row(a)] = expect{row(us[a], cnt[a]+us[a]), true}
				}
			}
			return want
		},
	}
	s.run(t, 63)
}
