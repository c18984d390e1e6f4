package crashtest

import (
	"sort"
	"testing"
)

// Non-window ranks killed at random moments (the harness of scenario_test.go: SIGKILL, restore from the
// latest checkpoint, 4-partition orders topic fed continuously) → upsert-kafka, read as the compacted table
// and compared with the result of an uninterrupted run (computed in Go from the orders fed). At parallelism 2
// the rank runs as keyed subtasks behind the hash exchange (engine/exchange.go), at 1 as one instance.

// topNKill is Nexmark q19's shape: the top 10 orders per user by amount (ties: the latest order first),
// keyed by (user_id, rn). Every order of amount 6 enters its user's top 10 and pushes the others down a
// rank, so the ranks keep changing (retractions through the sink) while the job is killed.
func topNKill(t *testing.T, seed uint64, parallelism []int) {
	const users = 40
	s := scenario{
		users:       users,
		tables:      []string{eventOrders("orders", "id * 10"), upsertSink("top", "user_id BIGINT, rn BIGINT, id BIGINT, amount BIGINT", "user_id, rn")},
		insert:      `INSERT INTO top SELECT user_id, rn, id, amount FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY amount DESC, id DESC) AS rn FROM orders) WHERE rn <= 10;`,
		parallelism: parallelism,
		topic:       "top",
		upsert:      true,
		key:         []string{"user_id", "rn"},
		val:         []string{"id", "amount"},
		want: func(total int) map[string]expect {
			per := map[int][]int{}
			for i := 0; i < total; i++ {
				per[i%users] = append(per[i%users], i)
			}
			want := map[string]expect{}
			for u, ids := range per {
				sort.Slice(ids, func(a, b int) bool {
					if ids[a]%7 != ids[b]%7 {
						return ids[a]%7 > ids[b]%7
					}
					return ids[a] > ids[b]
				})
				for rn, id := range ids[:min(10, len(ids))] {
					want[row(u, rn+1)] = expect{row(id, id%7), true}
				}
			}
			return want
		},
	}
	s.run(t, seed)
}

// dedupKill is Nexmark q18's shape: the last order (by event time) per (user_id, amount), keyed by both.
func dedupKill(t *testing.T, seed uint64, parallelism []int) {
	const users = 50
	s := scenario{
		users:       users,
		tables:      []string{eventOrders("orders", "id * 10"), upsertSink("last", "user_id BIGINT, amount BIGINT, id BIGINT", "user_id, amount")},
		insert:      `INSERT INTO last SELECT user_id, amount, id FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id, amount ORDER BY ts DESC) AS rn FROM orders) WHERE rn <= 1;`,
		parallelism: parallelism,
		topic:       "last",
		upsert:      true,
		key:         []string{"user_id", "amount"},
		val:         []string{"id"},
		want: func(total int) map[string]expect {
			want := map[string]expect{}
			for i := 0; i < total; i++ { // the last order of a key overwrites the earlier ones
				want[row(i%users, i%7)] = expect{row(i), true}
			}
			return want
		},
	}
	s.run(t, seed)
}

// TestTopNKill: Top-N at parallelism 1 in every run.
func TestTopNKill(t *testing.T) { topNKill(t, 70, []int{1}) }

// TestTopNKillExchange: Top-N at parallelism 2 in every run (behind the hash exchange).
func TestTopNKillExchange(t *testing.T) { topNKill(t, 71, []int{2}) }

// TestDedupKill: the deduplication at parallelism 1 in every run.
func TestDedupKill(t *testing.T) { dedupKill(t, 72, []int{1}) }

// TestDedupKillExchange: the deduplication at parallelism 2 in every run (behind the hash exchange).
func TestDedupKillExchange(t *testing.T) { dedupKill(t, 73, []int{2}) }
