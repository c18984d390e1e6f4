package crashtest

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The event-time temporal join behind the exchange (engine/exchange_ops.go, exchangeTemporalJoin) killed at
// random moments: the orders (4 partitions, event time id * 10 ms) joined FOR SYSTEM_TIME AS OF their time
// with the versioned table rates (debezium-json with a PRIMARY KEY, 4 partitions, one rate per user every
// second: rate j is user j % tjUsers's from 50j + 5 ms on, an update of the version before it) at
// parallelism 2, both inputs hashed by user into the join's keyed subtasks → exactly-once Kafka. Each order is
// written once the watermark (the minimum over both inputs' partitions) passes its time, with the rate valid
// then: the waiting orders and the versions are the join's state, restored at every restart.

const tjUsers = 20

// rateAt returns the rate of user u valid at event time ts (ms): the latest j ≡ u (mod tjUsers) with
// 50j + 5 <= ts; false when there is none yet.
func rateAt(u int, ts int64) (int, bool) {
	if ts < 5 {
		return 0, false
	}
	last := int((ts - 5) / 50)
	if last < u {
		return 0, false
	}
	return u + (last-u)/tjUsers*tjUsers, true
}

func rateJSON(j int) string {
	return fmt.Sprintf(`{"user_id":%d,"rate":%d,"ut":%d}`, j%tjUsers, j, 50*j+5)
}

// temporalFeed returns the generator of both topics: per tick 100 orders n..n+99 (times 10n .. 10n + 990
// ms) and the 20 rates of the same second, each user's rates on one partition in order.
func temporalFeed(n int) ([]*kgo.Record, int) {
	recs := orders(n, 100, tjUsers)
	for i := range recs {
		recs[i].Topic = "orders"
	}
	for j := n / 5; j < (n+100)/5; j++ {
		v := fmt.Sprintf(`{"before":null,"after":%s,"op":"c"}`, rateJSON(j))
		if j >= tjUsers {
			v = fmt.Sprintf(`{"before":%s,"after":%s,"op":"u"}`, rateJSON(j-tjUsers), rateJSON(j))
		}
		recs = append(recs, &kgo.Record{Topic: "rates", Key: []byte(fmt.Sprint(j % tjUsers)), Value: []byte(v)})
	}
	return recs, 100
}

func temporalJoin(t *testing.T, seed uint64, parallelism []int) {
	s := scenario{
		tables: []string{eventOrders("orders", "id * 10"),
			`CREATE TABLE rates (user_id BIGINT, rate BIGINT, ut BIGINT, rt AS TO_TIMESTAMP_LTZ(ut, 3),
  WATERMARK FOR rt AS rt - INTERVAL '1' SECOND, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'kafka', 'topic' = 'rates', 'properties.bootstrap.servers' = 'ADDR',
  'properties.group.id' = 'crash-rates', 'scan.startup.mode' = 'earliest-offset', 'format' = 'debezium-json');`,
			eoSink("priced", "id BIGINT, user_id BIGINT, rate BIGINT")},
		insert: `INSERT INTO priced SELECT o.id, o.user_id, r.rate
  FROM orders AS o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.user_id = r.user_id;`,
		parallelism: parallelism,
		topic:       "priced",
		key:         []string{"id"},
		val:         []string{"user_id", "rate"},
		want: func(total int) map[string]expect {
			wm := passed(total, linearTS)
			want := map[string]expect{}
			for i := 0; i < total; i++ {
				if j, ok := rateAt(i%tjUsers, linearTS(i)); ok {
					want[row(i)] = expect{row(i%tjUsers, j), linearTS(i) <= wm}
				}
			}
			return want
		},
	}
	s.runFed(t, seed, func(addr, _ string) *feeder { return feedRecords(t, addr, temporalFeed) })
}

// TestTemporalJoinKillExchange: at parallelism 2 in every run.
func TestTemporalJoinKillExchange(t *testing.T) { temporalJoin(t, 93, []int{2}) }
