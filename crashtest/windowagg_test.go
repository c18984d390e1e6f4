package crashtest

import "testing"

// windowAgg is a window aggregate scenario (the aggregate's state checkpointed, its parallelism changing
// between runs): per user and window, COUNT, SUM, MIN and MAX of the orders (50 users, event time tsOf(id))
// → exactly-once kafka; windows(i) lists the [start, end) windows of order i. The expectation holds every
// (user, window); those ending at or before the final watermark are required.
func windowAgg(t *testing.T, seed uint64, tsSQL string, tsOf func(int) int64, window string, windows func(i int) [][2]int64) {
	const users = 50
	s := scenario{
		users: users,
		tables: []string{eventOrders("orders", tsSQL),
			eoSink("wins", "user_id BIGINT, ws TIMESTAMP(3), we TIMESTAMP(3), cnt BIGINT, total BIGINT, first_id BIGINT, last_id BIGINT")},
		insert: `INSERT INTO wins SELECT user_id, window_start, window_end, COUNT(*), SUM(amount), MIN(id), MAX(id)
  FROM TABLE(` + window + `) GROUP BY user_id, window_start, window_end;`,
		parallelism: []int{2, 1, 3},
		topic:       "wins",
		key:         []string{"user_id", "ws", "we"},
		val:         []string{"cnt", "total", "first_id", "last_id"},
		want: func(total int) map[string]expect {
			type key struct {
				user   int
				ws, we int64
			}
			type agg struct{ cnt, total, first, last int }
			aggs := map[key]*agg{}
			for i := 0; i < total; i++ {
				for _, w := range windows(i) {
					k := key{i % users, w[0], w[1]}
					a := aggs[k]
					if a == nil {
						a = &agg{first: i}
						aggs[k] = a
					}
					a.cnt++
					a.total += i % 7
					a.last = i
				}
			}
			wm := passed(total, tsOf)
			want := make(map[string]expect, len(aggs))
			for k, a := range aggs {
				want[row(k.user, k.ws, k.we)] = expect{row(a.cnt, a.total, a.first, a.last), k.we <= wm}
			}
			return want
		},
	}
	s.run(t, seed)
}

// TestWindowExactlyOnceKill: TUMBLE windows of 1 s (window w holds orders 100w..100w+99, two per user).
func TestWindowExactlyOnceKill(t *testing.T) {
	windowAgg(t, 5, "id * 10", linearTS, `TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' SECOND)`,
		func(i int) [][2]int64 { return [][2]int64{{int64(i/100) * 1000, int64(i/100+1) * 1000}} })
}

// TestHopKill: HOP windows of 3 s sliding by 1 s (the slice-shared window aggregate: one accumulator per
// 1 s slice, merged when a window fires).
func TestHopKill(t *testing.T) {
	windowAgg(t, 12, "id * 10", linearTS, `HOP(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '3' SECOND)`,
		func(i int) [][2]int64 {
			var ws [][2]int64
			ts := linearTS(i)
			for s := floorDiv(ts, 1000)*1000 - 2000; s <= ts; s += 1000 {
				ws = append(ws, [2]int64{s, s + 3000})
			}
			return ws
		})
}

// TestCumulateKill: CUMULATE windows of step 1 s and size 3 s (slices of the step, merged incrementally into
// the period's first slice).
func TestCumulateKill(t *testing.T) {
	windowAgg(t, 13, "id * 10", linearTS, `CUMULATE(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '3' SECOND)`,
		func(i int) [][2]int64 {
			var ws [][2]int64
			ts := linearTS(i)
			start := floorDiv(ts, 3000) * 3000
			for e := start + 1000; e <= start+3000; e += 1000 {
				if ts < e {
					ws = append(ws, [2]int64{start, e})
				}
			}
			return ws
		})
}

// sessionTS is the event time of order i in TestSessionKill: 10 ms apart within a block of 1000 orders, and
// 5 s more between blocks, so that each user has one 2 s session per block.
func sessionTS(i int) int64 { return int64(i)*10 + int64(i-i%1000)*5 }

// TestSessionKill: SESSION windows (gap 2 s) per user; the sessions merge and are checkpointed while open.
func TestSessionKill(t *testing.T) {
	const users = 50
	windowAgg(t, 14, "id * 10 + (id - MOD(id, 1000)) * 5", sessionTS,
		`SESSION(TABLE orders PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '2' SECOND)`,
		func(i int) [][2]int64 {
			// The session of an order spans its user's orders of its block.
			b := i - i%1000
			first, last := b+(i-b)%users, b+999-(b+999-i)%users
			return [][2]int64{{sessionTS(first), sessionTS(last) + 2000}}
		})
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}
