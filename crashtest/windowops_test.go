package crashtest

import (
	"sort"
	"testing"
)

// tumble1s is a 1 s TUMBLE window over table (event time id * 10 ms: window w holds orders 100w..100w+99).
func tumble1s(table string) string {
	return `TABLE(TUMBLE(TABLE ` + table + `, DESCRIPTOR(ts), INTERVAL '1' SECOND))`
}

// closedWindow reports whether the final watermark passed the end of window w (1 s windows, linear time).
func closedWindow(total int, w int) bool { return int64(w+1)*1000 <= passed(total, linearTS) }

// windowSemiAnti is the window SEMI join (IN, correlated on window_start and window_end) or ANTI join (NOT
// EXISTS) of the orders with the orders of amount 0 of the same user and window (the same topic read by a
// second table) → exactly-once kafka. Each order of a closed window whose user has (semi) or has not (anti)
// an order of amount 0 in the window is written once.
func windowSemiAnti(t *testing.T, seed uint64, anti bool) {
	const users = 50
	where := `L.user_id IN (SELECT R.user_id FROM (SELECT * FROM ` + tumble1s("zeros") + `) R
  WHERE R.amount = 0 AND L.window_start = R.window_start AND L.window_end = R.window_end)`
	if anti {
		where = `NOT EXISTS (SELECT * FROM (SELECT * FROM ` + tumble1s("zeros") + `) R
  WHERE R.amount = 0 AND L.user_id = R.user_id AND L.window_start = R.window_start AND L.window_end = R.window_end)`
	}
	s := scenario{
		users: users,
		tables: []string{eventOrders("orders", "id * 10"), eventOrders("zeros", "id * 10"),
			eoSink("semi", "id BIGINT, user_id BIGINT, amount BIGINT")},
		insert:      `INSERT INTO semi SELECT L.id, L.user_id, L.amount FROM (SELECT * FROM ` + tumble1s("orders") + `) L WHERE ` + where + `;`,
		parallelism: []int{2, 1, 3},
		topic:       "semi",
		key:         []string{"id"},
		val:         []string{"user_id", "amount"},
		want: func(total int) map[string]expect {
			type uw struct{ user, w int }
			zero := map[uw]bool{}
			for i := 0; i < total; i += 7 {
				zero[uw{i % users, i / 100}] = true
			}
			want := make(map[string]expect, total)
			for i := 0; i < total; i++ {
				if zero[uw{i % users, i / 100}] != anti {
					want[row(i)] = expect{row(i%users, i%7), closedWindow(total, i/100)}
				}
			}
			return want
		},
	}
	s.run(t, seed)
}

// TestWindowSemiJoinKill: the window SEMI join.
func TestWindowSemiJoinKill(t *testing.T) { windowSemiAnti(t, 30, false) }

// TestWindowAntiJoinKill: the window ANTI join.
func TestWindowAntiJoinKill(t *testing.T) { windowSemiAnti(t, 33, true) }

// TestWindowTopNKill: window Top-N, the three largest orders of every 1 s window (amount DESC, then id) →
// exactly-once kafka.
func TestWindowTopNKill(t *testing.T) {
	s := scenario{
		users: 50,
		tables: []string{eventOrders("orders", "id * 10"),
			eoSink("top", "ws TIMESTAMP(3), rn BIGINT, id BIGINT, amount BIGINT")},
		insert: `INSERT INTO top SELECT window_start, rn, id, amount FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY amount DESC, id) AS rn
  FROM ` + tumble1s("orders") + `) WHERE rn <= 3;`,
		parallelism: []int{2, 1, 3},
		topic:       "top",
		key:         []string{"ws", "rn"},
		val:         []string{"id", "amount"},
		want: func(total int) map[string]expect {
			want := map[string]expect{}
			for w := 0; w*100 < total; w++ {
				var ids []int
				for i := w * 100; i < min(total, w*100+100); i++ {
					ids = append(ids, i)
				}
				sort.Slice(ids, func(a, b int) bool {
					if ids[a]%7 != ids[b]%7 {
						return ids[a]%7 > ids[b]%7
					}
					return ids[a] < ids[b]
				})
				for r := 0; r < 3 && r < len(ids); r++ {
					want[row(w*1000, r+1)] = expect{row(ids[r], ids[r]%7), closedWindow(total, w)}
				}
			}
			return want
		},
	}
	s.run(t, 31)
}

// TestWindowDedupKill: window deduplication, the last order of every user in every 1 s window (ROW_NUMBER
// ordered by the rowtime DESC, rn = 1) → exactly-once kafka.
func TestWindowDedupKill(t *testing.T) {
	const users = 50
	s := scenario{
		users: users,
		tables: []string{eventOrders("orders", "id * 10"),
			eoSink("dedup", "user_id BIGINT, ws TIMESTAMP(3), id BIGINT")},
		insert: `INSERT INTO dedup SELECT user_id, window_start, id FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, user_id ORDER BY ts DESC) AS rn
  FROM ` + tumble1s("orders") + `) WHERE rn = 1;`,
		parallelism: []int{2, 1, 3},
		topic:       "dedup",
		key:         []string{"user_id", "ws"},
		val:         []string{"id"},
		want: func(total int) map[string]expect {
			want := map[string]expect{}
			for i := 0; i < total; i++ {
				want[row(i%users, i/100*1000)] = expect{row(i), closedWindow(total, i/100)}
			}
			return want
		},
	}
	s.run(t, 32)
}
