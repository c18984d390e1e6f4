package crashtest

import (
	"flag"
	"testing"
)

// userTotals is the upsert scenario of a GROUP BY user_id (COUNT, SUM, MAX) over the orders of users users,
// with settings in front, run k with 'parallelism.default' = parallelism[k % len] when given, preload orders
// produced before the first run; every user's final row is required.
func userTotals(t *testing.T, seed uint64, users, preload int, parallelism []int, settings ...string) {
	s := scenario{
		users:    users,
		preload:  preload,
		settings: settings,
		tables: []string{eventOrders("orders", "id * 10"),
			upsertSink("totals", "user_id BIGINT, cnt BIGINT, total BIGINT, last_id BIGINT", "user_id")},
		insert:      `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount), MAX(id) FROM orders GROUP BY user_id;`,
		parallelism: parallelism,
		topic:       "totals",
		upsert:      true,
		key:         []string{"user_id"},
		val:         []string{"cnt", "total", "last_id"},
		want: func(total int) map[string]expect {
			cnt, sum, last := make([]int, users), make([]int, users), make([]int, users)
			for i := 0; i < total; i++ {
				cnt[i%users]++
				sum[i%users] += i % 7
				last[i%users] = i
			}
			want := map[string]expect{}
			for u := 0; u < users && u < total; u++ {
				want[row(u)] = expect{row(cnt[u], sum[u], last[u]), true}
			}
			return want
		},
	}
	s.run(t, seed)
}

// TestGroupByUpsertKill: GROUP BY (compact group state: integer key, COUNT and SUM) → upsert-kafka.
func TestGroupByUpsertKill(t *testing.T) { userTotals(t, 2, 300, 0, nil) }

// TestGroupByUpsertKillParallel: the same with the aggregate running in parallel subtasks, the parallelism
// changing between restarts (2, 1, 3, ...): every restore redistributes the key groups of the checkpoint.
func TestGroupByUpsertKillParallel(t *testing.T) { userTotals(t, 3, 300, 0, []int{2, 1, 3}) }

// TestGroupByUpsertKillRocksDB: the same with the rocksdb state backend (groups in the embedded LSM,
// checkpointed by hard links) over 20,000 keys, whose orders are preloaded so that every key has state.
func TestGroupByUpsertKillRocksDB(t *testing.T) {
	userTotals(t, 4, *rocksKeys, *rocksKeys, nil, `SET 'state.backend.type' = 'rocksdb';`)
}

var rocksKeys = flag.Int("crash.keys", 20000, "GROUP BY keys of TestGroupByUpsertKillRocksDB (its orders are preloaded so that every key has state)")

// miniBatch runs userTotals with mini-batch ('table.exec.mini-batch.*': the rows of a batch are folded per key
// before the state is touched) and the aggregate phase strategy.
func miniBatch(t *testing.T, seed uint64, strategy string) {
	userTotals(t, seed, 300, 0, []int{2, 1, 3},
		`SET 'table.exec.mini-batch.enabled' = 'true';`,
		`SET 'table.exec.mini-batch.allow-latency' = '100 ms';`,
		`SET 'table.exec.mini-batch.size' = '500';`,
		`SET 'table.optimizer.agg-phase-strategy' = '`+strategy+`';`)
}

// TestMiniBatchKill: mini-batch GROUP BY in one phase.
func TestMiniBatchKill(t *testing.T) { miniBatch(t, 20, "ONE_PHASE") }

// TestTwoPhaseKill: GROUP BY split into a local aggregate per input subtask (mini-batch) and a global
// aggregate per key ('table.optimizer.agg-phase-strategy' = 'TWO_PHASE').
func TestTwoPhaseKill(t *testing.T) { miniBatch(t, 21, "TWO_PHASE") }

// TestCompactRetractKill: a GROUP BY over the changelog of another GROUP BY, both keeping compact group state
// (integer keys, COUNT and SUM, hashmap backend): the outer aggregate retracts a user from its old bucket
// on every order, so its groups are emptied, dropped and reused all the time. Buckets without users must
// be deleted from the upsert-kafka table.
func TestCompactRetractKill(t *testing.T) {
	const users = 300
	s := scenario{
		users: users,
		tables: []string{eventOrders("orders", "id * 10"),
			upsertSink("buckets", "bucket BIGINT, users BIGINT, orders BIGINT", "bucket")},
		insert: `INSERT INTO buckets SELECT MOD(total, 10), COUNT(*), SUM(cnt)
  FROM (SELECT user_id, COUNT(*) AS cnt, SUM(amount) AS total FROM orders GROUP BY user_id) GROUP BY MOD(total, 10);`,
		parallelism: []int{2, 1, 3},
		topic:       "buckets",
		upsert:      true,
		key:         []string{"bucket"},
		val:         []string{"users", "orders"},
		want: func(total int) map[string]expect {
			cnt, sum := make([]int, users), make([]int, users)
			for i := 0; i < total; i++ {
				cnt[i%users]++
				sum[i%users] += i % 7
			}
			var n, orders [10]int
			for u := 0; u < users && u < total; u++ {
				n[sum[u]%10]++
				orders[sum[u]%10] += cnt[u]
			}
			want := map[string]expect{}
			for b := range n {
				if n[b] > 0 {
					want[row(b)] = expect{row(n[b], orders[b]), true}
				}
			}
			return want
		},
	}
	s.run(t, 22)
}
