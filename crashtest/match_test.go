package crashtest

import "testing"

// TestMatchRecognizeKill: MATCH_RECOGNIZE per user over event time (rows buffered until the watermark,
// partial matches spanning seven orders of a user, 2.1 s of event time) → exactly-once kafka. With 30 users a
// user's amounts cycle 1, 3, 5, 0, 2, 4, 6: every cycle is one match A B+ C. The matches are computed in Go
// by walking each user's orders.
func TestMatchRecognizeKill(t *testing.T) {
	const users = 30
	s := scenario{
		users:  users,
		tables: []string{eventOrders("orders", "id * 10"), eoSink("matches", "user_id BIGINT, a_id BIGINT, b_last BIGINT, b_sum BIGINT, c_id BIGINT")},
		insert: `INSERT INTO matches SELECT * FROM orders MATCH_RECOGNIZE (
  PARTITION BY user_id ORDER BY ts
  MEASURES A.id AS a_id, LAST(B.id) AS b_last, SUM(B.amount) AS b_sum, C.id AS c_id
  ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
  PATTERN (A B+ C)
  DEFINE A AS A.amount = 1, B AS B.amount <> 1 AND B.amount <> 6, C AS C.amount = 6);`,
		parallelism: []int{2, 1, 3},
		topic:       "matches",
		key:         []string{"a_id"},
		val:         []string{"user_id", "b_last", "b_sum", "c_id"},
		want:        matchRiseWant(users, linearTS),
	}
	s.run(t, 11)
}
