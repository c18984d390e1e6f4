package crashtest

import "testing"

// intervalJoin is the interval join scenario: the orders of amount 0 (o) joined with the orders p of the same
// user whose id MOD 11 < 3 (the same topic read by a second table) and whose event time is within 1 s of
// o's → exactly-once kafka (the interval join is insert-only, outer joins included). With 30 users, an o has
// seven candidate orders of its user in its interval (its own included), so about one o in ten has no
// partner: join is JOIN or LEFT JOIN, and a LEFT JOIN writes those with a NULL p_id once the watermark passes
// o's interval.
func intervalJoin(t *testing.T, seed uint64, join string) {
	const users = 30
	s := scenario{
		users:  users,
		tables: []string{eventOrders("orders", "id * 10"), eventOrders("partners", "id * 10"), eoSink("pairs", "o_id BIGINT, p_id BIGINT, user_id BIGINT")},
		insert: `INSERT INTO pairs SELECT o.id, p.id, o.user_id
FROM (SELECT * FROM orders WHERE amount = 0) o ` + join + ` (SELECT * FROM partners WHERE MOD(id, 11) < 3) p
  ON o.user_id = p.user_id AND p.ts BETWEEN o.ts - INTERVAL '1' SECOND AND o.ts + INTERVAL '1' SECOND;`,
		parallelism: []int{2, 1, 3},
		topic:       "pairs",
		key:         []string{"o_id", "p_id"},
		val:         []string{"user_id"},
		want: func(total int) map[string]expect {
			wm := passed(total, linearTS)
			want := map[string]expect{}
			for o := 0; o < total; o += 7 {
				matched := false
				for p := o - 3*users; p <= o+3*users && p < total; p += users {
					if p >= 0 && p%11 < 3 {
						matched = true
						want[row(o, p)] = expect{row(o % users), linearTS(max(o, p)) <= wm}
					}
				}
				if !matched && join == "LEFT JOIN" {
					want[row(o, nil)] = expect{row(o % users), linearTS(o)+1000 <= wm}
				}
			}
			return want
		},
	}
	s.run(t, seed)
}

// TestIntervalJoinKill: the inner interval join; pairs are written as both sides arrive.
func TestIntervalJoinKill(t *testing.T) { intervalJoin(t, 40, "JOIN") }

// TestIntervalLeftJoinKill: the LEFT OUTER interval join; an order without partner is written with NULL once
// the watermark passes its interval, and never also with a partner.
func TestIntervalLeftJoinKill(t *testing.T) { intervalJoin(t, 41, "LEFT JOIN") }
