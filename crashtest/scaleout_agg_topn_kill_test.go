package crashtest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A GROUP BY over a ROW_NUMBER() Top-N of one scan, two keyed stages (engine/scaleout_stage_rank.go,
// cutScaleOutAggOverRank): the two largest amounts per user (stage 1, keyed by user, its changelog the
// Top-N's rows) and per amount the users holding it among their top two (stage 2, keyed by amount), run by
// members killed and restarted.

const (
	atUsers   = 400 // users of the orders
	atAmounts = 500 // amounts are 0..atAmounts-1
	atPerTick = 10  // orders a tick of the feed adds after the first 1000
)

// atOrder is order i: user i % atUsers and an amount that does not grow with i, so that a user's top two
// change less and less often but now and then throughout the run.
func atOrder(i int) (user, amount int) {
	return i % atUsers, int((uint32(i)*2654435761)>>12) % atAmounts
}

// atRecords are orders n..n+k-1.
func atRecords(n, k int) []*kgo.Record {
	recs := make([]*kgo.Record, 0, k)
	for i := n; i < n+k; i++ {
		u, a := atOrder(i)
		recs = append(recs, &kgo.Record{Topic: "orders", Key: []byte(fmt.Sprint(u)),
			Value: fmt.Appendf(nil, `{"id":%d,"user_id":%d,"amount":%d}`, i, u, a)})
	}
	return recs
}

// aggOverTopNQuery counts per amount the users with it among their top two, and sums those users' ids.
// Every change of a user's top two retracts a row of one amount and adds one of another: an amount's count
// goes down and up again as rows leave and come back. A Top-N restored without a partition's rows takes
// the next order of each of its users into the top and the count of its amount up; a GROUP BY restored
// without a partition's counts starts them from zero; a retraction taken twice counts a row out twice.
// The tied rows of a user are equal in the columns the GROUP BY reads, so their order does not show.
const aggOverTopNQuery = `CREATE TABLE tophist (amount BIGINT, cnt BIGINT, users BIGINT, PRIMARY KEY (amount) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'tophist', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
INSERT INTO tophist SELECT amount, COUNT(*), SUM(user_id) FROM (
  SELECT user_id, amount, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY amount DESC) AS rn FROM orders)
WHERE rn <= 2 GROUP BY amount;`

// expectedAggOverTopN is aggOverTopNQuery's result over orders 0..n-1: amount -> "cnt/users".
func expectedAggOverTopN(n int) map[string]string {
	per := map[int][]int{}
	for i := range n {
		u, a := atOrder(i)
		per[u] = append(per[u], a)
	}
	cnt, sum := map[int]int{}, map[int]int{}
	for u, as := range per {
		slices.Sort(as)
		slices.Reverse(as)
		for _, a := range as[:min(2, len(as))] {
			cnt[a]++
			sum[a] += u
		}
	}
	want := map[string]string{}
	for a, c := range cnt {
		want[fmt.Sprint(a)] = fmt.Sprintf("%d/%d", c, sum[a])
	}
	return want
}

// TestScaleOutGroupByOverTopNKill: three processes run aggOverTopNQuery while orders keep coming; members
// picked at random are killed with SIGKILL and restarted (scaleOutRestartKills). The members restore the
// Top-N's and the GROUP BY's partitions from their changelogs, and the compacted histogram equals the one
// computed from the orders: no amount lost, none wrong or unexpected.
func TestScaleOutGroupByOverTopNKill(t *testing.T) {
	var want map[string]string
	read := func(addr string) map[string]string {
		return compactedOf(t, addr, "tophist", []string{"amount"}, []string{"cnt", "users"})
	}
	r := scaleOutRestartKills(t, aggOverTopNQuery, func(addr string) *feeder {
		return feedRecords(t, addr, func(n int) ([]*kgo.Record, int) {
			k := atPerTick
			if n == 0 {
				k = 1000
			}
			return atRecords(n, k), k
		})
	}, func(addr string) bool { return len(read(addr)) > 0 },
		func(addr string, total int) string {
			if want == nil {
				want = expectedAggOverTopN(total)
			}
			return diffKeyed(read(addr), want)
		})
	t.Logf("3 members, %d killed and restarted: %d orders, %d amounts exact %s after the last restart; members restored %d state entries since the first kill",
		r.kills, r.total, len(want), r.took.Round(100*time.Millisecond), r.restored)
}
