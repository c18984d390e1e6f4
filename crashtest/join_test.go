package crashtest

import "testing"

// The regular (non-interval) join scenarios. Both sides read the orders topic (a second table over it is
// the right side), so their rows arrive in any order relative to each other, and the join keeps every row of
// both sides in state for ever (no TTL): each checkpoint snapshots the whole join state and each restart
// restores it.
//
// The left side o is the orders whose id MOD 7 < 3, keyed by bucket id - MOD(id, 20) (8 or 9 rows per key:
// keys both below and above the join store's small-key limit); the right side p is the orders whose id MOD
// 50 < 10, keyed by id - 1000 - MOD(id, 20), so that p reaches a bucket about 1,000 orders after o, and only
// two buckets in five get partners (ten each).
const (
	joinLeft  = `(SELECT id, id - MOD(id, 20) AS b FROM orders WHERE MOD(id, 7) < 3)`
	joinRight = `(SELECT id, amount, id - 1000 - MOD(id, 20) AS b FROM partners WHERE MOD(id, 50) < 10)`
)

// joinBuckets returns, for the first total orders, the ids of o and of p per bucket.
func joinBuckets(total int) (left, right map[int64][]int) {
	left, right = map[int64][]int{}, map[int64][]int{}
	for i := 0; i < total; i++ {
		if i%7 < 3 {
			left[int64(i-i%20)] = append(left[int64(i-i%20)], i)
		}
		if i%50 < 10 && i >= 1000 {
			right[int64(i-1000-i%20)] = append(right[int64(i-1000-i%20)], i)
		}
	}
	return left, right
}

// joinTables are the DDL of the join scenarios' input tables (no event time is used; the watermark is
// harmless).
func joinTables(sink string) []string {
	return []string{eventOrders("orders", "id * 10"), eventOrders("partners", "id * 10"), sink}
}

// regularJoin is the inner join of o and p on the bucket → exactly-once kafka (an inner join of append-only
// inputs is append-only): every pair is required, as nothing waits for a watermark.
func regularJoin(t *testing.T, seed uint64, parallelism []int) {
	s := scenario{
		users:       30,
		tables:      joinTables(eoSink("pairs", "o_id BIGINT, p_id BIGINT, b BIGINT")),
		insert:      `INSERT INTO pairs SELECT o.id, p.id, o.b FROM ` + joinLeft + ` o JOIN ` + joinRight + ` p ON o.b = p.b;`,
		parallelism: parallelism,
		topic:       "pairs",
		key:         []string{"o_id", "p_id"},
		val:         []string{"b"},
		want: func(total int) map[string]expect {
			left, right := joinBuckets(total)
			want := map[string]expect{}
			for b, ids := range left {
				for _, o := range ids {
					for _, p := range right[b] {
						want[row(o, p)] = expect{row(b), true}
					}
				}
			}
			return want
		},
	}
	s.run(t, seed)
}

// TestJoinKill: the inner regular join at parallelism 1, restored at parallelism 1.
func TestJoinKill(t *testing.T) { regularJoin(t, 50, []int{1}) }

// TestJoinKillParallel: the same with the join in parallel subtasks, the parallelism changing between
// restarts (2, 1, 3, ...): every restore redistributes the join state's key groups.
func TestJoinKillParallel(t *testing.T) { regularJoin(t, 51, []int{2, 1, 3}) }

// leftJoinGroupBy is the LEFT OUTER join of o and p feeding a GROUP BY on the bucket → upsert-kafka. An o
// row is first written NULL-padded (its partners come ~1,000 orders later) and retracted when its first
// partner arrives, so the aggregate sees the join's retractions; three buckets in five never get a partner
// and keep their NULL-padded rows.
func leftJoinGroupBy(t *testing.T, seed uint64, parallelism []int) {
	s := scenario{
		users:  30,
		tables: joinTables(upsertSink("buckets", "b BIGINT, cnt BIGINT, matched BIGINT, p_sum BIGINT, o_sum BIGINT", "b")),
		insert: `INSERT INTO buckets SELECT o.b, COUNT(*), COUNT(p.id), SUM(p.id), SUM(o.id)
  FROM ` + joinLeft + ` o LEFT JOIN ` + joinRight + ` p ON o.b = p.b GROUP BY o.b;`,
		parallelism: parallelism,
		topic:       "buckets",
		upsert:      true,
		key:         []string{"b"},
		val:         []string{"cnt", "matched", "p_sum", "o_sum"},
		want: func(total int) map[string]expect {
			left, right := joinBuckets(total)
			want := map[string]expect{}
			for b, ids := range left {
				oSum := 0
				for _, o := range ids {
					oSum += o
				}
				ps := right[b]
				if len(ps) == 0 {
					want[row(b)] = expect{row(len(ids), 0, nil, oSum), true}
					continue
				}
				pSum := 0
				for _, p := range ps {
					pSum += p
				}
				want[row(b)] = expect{row(len(ids)*len(ps), len(ids)*len(ps), len(ids)*pSum, len(ps)*oSum), true}
			}
			return want
		},
	}
	s.run(t, seed)
}

// TestLeftJoinGroupByKill: the LEFT OUTER regular join into a GROUP BY at parallelism 1, restored at 1.
func TestLeftJoinGroupByKill(t *testing.T) { leftJoinGroupBy(t, 52, []int{1}) }

// TestLeftJoinGroupByKillParallel: the same at parallelism 2, 1, 3, ...
func TestLeftJoinGroupByKillParallel(t *testing.T) { leftJoinGroupBy(t, 53, []int{2, 1, 3}) }

// updatingJoin is a LEFT OUTER join of two GROUP BYs (every order updates a row of one side or both: the
// join state retracts and re-inserts rows on both sides) feeding a GROUP BY → upsert-kafka: per user, the
// count and sum of amounts of its orders (a) joined with the count of its orders of amount 0 (b, only for
// users whose id is a multiple of 3: the others stay NULL-padded), then per a.total MOD 10 the number of
// users, of NULL-padded users, and the sums of a.cnt and b.zeros. A user moves to another bucket on most of
// its orders, so the outer aggregate retracts all the time too.
func updatingJoin(t *testing.T, seed uint64, parallelism []int) {
	const users = 300
	s := scenario{
		users:  users,
		tables: joinTables(upsertSink("ubuckets", "bucket BIGINT, users BIGINT, padded BIGINT, orders BIGINT, zeros BIGINT", "bucket")),
		insert: `INSERT INTO ubuckets SELECT MOD(a.total, 10), COUNT(*), COUNT(*) - COUNT(b.user_id), SUM(a.cnt), SUM(COALESCE(b.zeros, 0))
  FROM (SELECT user_id, COUNT(*) AS cnt, SUM(amount) AS total FROM orders GROUP BY user_id) a
  LEFT JOIN (SELECT user_id, COUNT(*) AS zeros FROM partners WHERE MOD(user_id, 3) = 0 AND amount = 0 GROUP BY user_id) b
  ON a.user_id = b.user_id GROUP BY MOD(a.total, 10);`,
		parallelism: parallelism,
		topic:       "ubuckets",
		upsert:      true,
		key:         []string{"bucket"},
		val:         []string{"users", "padded", "orders", "zeros"},
		want: func(total int) map[string]expect {
			cnt, sum, zeros := make([]int, users), make([]int, users), make([]int, users)
			for i := 0; i < total; i++ {
				cnt[i%users]++
				sum[i%users] += i % 7
				if i%7 == 0 {
					zeros[i%users]++
				}
			}
			var n, padded, orders, zs [10]int
			for u := 0; u < users && u < total; u++ {
				b := sum[u] % 10
				n[b]++
				orders[b] += cnt[u]
				if u%3 == 0 && zeros[u] > 0 {
					zs[b] += zeros[u]
				} else {
					padded[b]++
				}
			}
			want := map[string]expect{}
			for b := range n {
				if n[b] > 0 {
					want[row(b)] = expect{row(n[b], padded[b], orders[b], zs[b]), true}
				}
			}
			return want
		},
	}
	s.run(t, seed)
}

// TestUpdatingJoinKill: the join of two updating inputs into a GROUP BY at parallelism 1, restored at 1.
func TestUpdatingJoinKill(t *testing.T) { updatingJoin(t, 54, []int{1}) }

// TestUpdatingJoinKillParallel: the same at parallelism 2, 1, 3, ...
func TestUpdatingJoinKillParallel(t *testing.T) { updatingJoin(t, 55, []int{2, 1, 3}) }
