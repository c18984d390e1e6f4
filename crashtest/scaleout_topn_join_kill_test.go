package crashtest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A ROW_NUMBER() Top-N directly over a regular join, two keyed stages (engine/scaleout_stage_rank.go,
// cutScaleOutRankOverJoin): the join of orders with their shipments (stage 1, keyed by order id) and the
// three largest amounts per user (stage 2, keyed by user), run by members killed and restarted.

const (
	sjUsers   = 300  // users of the orders
	sjLag     = 1000 // a late shipment comes when the orders reach its order's id + sjLag
	sjLead    = 500  // an early shipment comes when the orders reach its order's id - sjLead
	sjPerTick = 10   // orders a tick of the feed adds after the first 1000
)

// sjOrder is order i: user i % sjUsers, an amount in 0..999 that does not grow with i (a user's top three
// change less and less often, but now and then throughout), its shipment (carrier "c<i%3>") early when
// i % 7 == 1, none when i % 7 == 0 (every user has orders never shipped, NULL-padded under a LEFT JOIN,
// absent under JOIN), late otherwise.
func sjOrder(i int) (user, amount int, early, shipped bool) {
	return i % sjUsers, int((uint32(i)*2654435761)>>12) % 1000, i%7 == 1, i%7 != 0
}

// sjRecords are orders n..n+k-1 and the shipments that come with them: the late ones of orders
// n-sjLag..n+k-1-sjLag and the early ones of orders n+sjLead..n+k-1+sjLead (with the first orders, also
// those of the orders before).
func sjRecords(n, k int) []*kgo.Record {
	var recs []*kgo.Record
	for i := n; i < n+k; i++ {
		u, a, _, _ := sjOrder(i)
		recs = append(recs, &kgo.Record{Topic: "orders", Key: []byte(fmt.Sprint(u)),
			Value: fmt.Appendf(nil, `{"id":%d,"user_id":%d,"amount":%d}`, i, u, a)})
	}
	ship := func(i int) {
		recs = append(recs, &kgo.Record{Topic: "shipments", Key: []byte(fmt.Sprint(i)),
			Value: fmt.Appendf(nil, `{"order_id":%d,"carrier":"c%d"}`, i, i%3)})
	}
	for i := max(0, n-sjLag); i < n+k-sjLag; i++ {
		if _, _, early, shipped := sjOrder(i); shipped && !early {
			ship(i)
		}
	}
	from := n + sjLead
	if n == 0 {
		from = 0
	}
	for i := from; i < n+k+sjLead; i++ {
		if _, _, early, _ := sjOrder(i); early {
			ship(i)
		}
	}
	return recs
}

// topNOverJoinQuery is the Top-N over orders kind (JOIN or LEFT JOIN) shipments into 'shiptop'. Under an
// inner join an order enters its user's ranking when its shipment comes (at once when the shipment came
// first); under a LEFT JOIN it enters NULL-padded and a late shipment retracts that row and adds the
// joined one (a top row leaves and comes back with its carrier). A Top-N restored without a partition's
// rows ranks the later orders of its users in their place; a join restored without a partition's orders
// and early shipments drops (inner) or never completes (LEFT) the orders they wait for; a retraction taken
// twice removes a row that is still there.
func topNOverJoinQuery(kind string) string {
	return `CREATE TABLE shipments (order_id BIGINT, carrier STRING) WITH (
  'connector' = 'kafka', 'topic' = 'shipments', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE shiptop (user_id BIGINT, rn BIGINT, id BIGINT, amount BIGINT, carrier STRING,
  PRIMARY KEY (user_id, rn) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'shiptop', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
INSERT INTO shiptop SELECT user_id, rn, id, amount, carrier FROM (
  SELECT o.id, o.user_id, o.amount, s.carrier,
    ROW_NUMBER() OVER (PARTITION BY o.user_id ORDER BY o.amount DESC, o.id) AS rn
  FROM orders o ` + kind + ` shipments s ON o.id = s.order_id) WHERE rn <= 3;`
}

// expectedTopNOverJoin is topNOverJoinQuery's result over orders 0..n-1 and their shipments (the early
// ones, and the late ones of the orders below n-sjLag): "user/rn" -> "id/amount/carrier" (JSON texts, a
// NULL carrier "null").
func expectedTopNOverJoin(n int, left bool) map[string]string {
	type row struct{ id, amount int }
	rows := map[int][]row{}
	carrier := map[int]string{}
	for i := range n {
		u, a, early, shipped := sjOrder(i)
		switch {
		case early || shipped && i < n-sjLag:
			carrier[i] = fmt.Sprintf(`"c%d"`, i%3)
		case left:
			carrier[i] = "null"
		default:
			continue
		}
		rows[u] = append(rows[u], row{i, a})
	}
	want := map[string]string{}
	for u, rs := range rows {
		slices.SortFunc(rs, func(x, y row) int { return cmp.Or(cmp.Compare(y.amount, x.amount), cmp.Compare(x.id, y.id)) })
		for k, r := range rs[:min(3, len(rs))] {
			want[fmt.Sprintf("%d/%d", u, k+1)] = fmt.Sprintf("%d/%d/%s", r.id, r.amount, carrier[r.id])
		}
	}
	return want
}

// TestScaleOutTopNOverJoinKill: three processes run topNOverJoinQuery (inner and LEFT) while orders and
// shipments keep coming; members picked at random are killed with SIGKILL and restarted
// (scaleOutRestartKills). The members restore the join's and the Top-N's partitions from their changelogs,
// and the compacted Top-N equals the one computed from the input: no key lost, none wrong or unexpected.
func TestScaleOutTopNOverJoinKill(t *testing.T) {
	for _, kind := range []string{"JOIN", "LEFT JOIN"} {
		t.Run(kind, func(t *testing.T) {
			cols := []string{"id", "amount", "carrier"}
			var want map[string]string
			r := scaleOutRestartKills(t, topNOverJoinQuery(kind), func(addr string) *feeder {
				return feedRecords(t, addr, func(n int) ([]*kgo.Record, int) {
					k := sjPerTick
					if n == 0 {
						k = 1000
					}
					return sjRecords(n, k), k
				})
			}, func(addr string) bool {
				return len(compactedOf(t, addr, "shiptop", []string{"user_id", "rn"}, cols)) > 0
			},
				func(addr string, total int) string {
					if want == nil {
						want = expectedTopNOverJoin(total, kind == "LEFT JOIN")
					}
					return diffKeyed(compactedOf(t, addr, "shiptop", []string{"user_id", "rn"}, cols), want)
				})
			t.Logf("3 members, %d killed and restarted: %d orders, %d Top-N rows exact %s after the last restart; members restored %d state entries since the first kill",
				r.kills, r.total, len(want), r.took.Round(100*time.Millisecond), r.restored)
		})
	}
}
