package crashtest

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestInsertOnlyJoinKillExchange: the append-only join store (a regular join keeps an insert-only side's
// rows as a list per key, without counts: exec.JoinConfig's LeftInsertOnly / RightInsertOnly) at
// parallelism 2 in every run, its keyed subtasks behind the hash exchange, over two insert-only topics:
// orders and partners (the same records, produced to both at every tick, so that a partner reaches its
// bucket about 1,000 orders after the order side: joinLeft, joinRight). An inner join of insert-only inputs
// is insert-only: → exactly-once Kafka, every pair required once. Killed at random moments and restored from
// the latest checkpoint, the restored state must hold each side's rows once: a row lost from the state loses
// pairs, a row restored twice duplicates them.
func TestInsertOnlyJoinKillExchange(t *testing.T) {
	s := scenario{
		tables: []string{eventOrders("orders", "id * 10"),
			strings.Replace(eventOrders("partners", "id * 10"), `'topic' = 'orders'`, `'topic' = 'partners'`, 1),
			eoSink("pairs", "o_id BIGINT, p_id BIGINT, b BIGINT")},
		insert:      `INSERT INTO pairs SELECT o.id, p.id, o.b FROM ` + joinLeft + ` o JOIN ` + joinRight + ` p ON o.b = p.b;`,
		parallelism: []int{2},
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
	s.runFed(t, 57, func(addr, _ string) *feeder {
		return feedRecords(t, addr, func(n int) ([]*kgo.Record, int) {
			recs := orders(n, 100, 30)
			for _, r := range orders(n, 100, 30) {
				r.Topic = "partners"
				recs = append(recs, r)
			}
			for _, r := range recs[:100] {
				r.Topic = "orders"
			}
			return recs, 100
		})
	})
}
