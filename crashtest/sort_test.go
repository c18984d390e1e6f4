package crashtest

import "testing"

// linearTS is the event time of order i in the scenarios: i * 10 ms (100 orders per second).
func linearTS(i int) int64 { return int64(i) * 10 }

// TestTemporalSortKill: ORDER BY the rowtime (Flink's TemporalSort: rows wait in state until the watermark
// passes them) → exactly-once kafka. Every order the final watermark passed must be written once, and each
// partition of the output must hold its rows in event-time order.
func TestTemporalSortKill(t *testing.T) {
	s := scenario{
		users:       50,
		tables:      []string{eventOrders("orders", "id * 10"), eoSink("sorted", "id BIGINT, user_id BIGINT, amount BIGINT, ts TIMESTAMP_LTZ(3)")},
		insert:      `INSERT INTO sorted SELECT id, user_id, amount, ts FROM orders ORDER BY ts;`,
		parallelism: []int{2, 1, 3},
		topic:       "sorted",
		key:         []string{"id"},
		val:         []string{"user_id", "amount", "ts"},
		ordered:     "ts",
		want: func(total int) map[string]expect {
			wm := passed(total, linearTS)
			want := make(map[string]expect, total)
			for i := 0; i < total; i++ {
				want[row(i)] = expect{row(i%50, i%7, linearTS(i)), linearTS(i) <= wm}
			}
			return want
		},
	}
	s.run(t, 10)
}
