package crashtest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Nexmark q4 as written (cmd/sluice/nexmark/q4.sql's INSERT) over kafka tables auction and bid: a regular
// join, a GROUP BY auction and a GROUP BY category, three keyed stages (engine/scaleout_stage.go).

const q4KillAuctions = 200

// scaleOutQ4Query is q4's tables and INSERT (the sink 'q4' keyed by category).
const scaleOutQ4Query = "CREATE TABLE auction (id BIGINT, category BIGINT, `dateTime` TIMESTAMP(3), expires TIMESTAMP(3),\n" +
	"  WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) WITH (\n" +
	"  'connector' = 'kafka', 'topic' = 'auction', 'properties.bootstrap.servers' = 'ADDR',\n" +
	"  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');\n" +
	"CREATE TABLE bid (auction BIGINT, price BIGINT, `dateTime` TIMESTAMP(3),\n" +
	"  WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) WITH (\n" +
	"  'connector' = 'kafka', 'topic' = 'bid', 'properties.bootstrap.servers' = 'ADDR',\n" +
	"  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');\n" +
	"CREATE TABLE q4 (id BIGINT, final BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH (\n" +
	"  'connector' = 'upsert-kafka', 'topic' = 'q4', 'properties.bootstrap.servers' = 'ADDR',\n" +
	"  'key.format' = 'json', 'value.format' = 'json');\n" +
	`INSERT INTO q4
SELECT
    Q.category,
    AVG(Q.final)
FROM (
    SELECT MAX(B.price) AS final, A.category
    FROM auction A, bid B
    WHERE A.id = B.auction AND B.` + "`dateTime`" + ` BETWEEN A.` + "`dateTime`" + ` AND A.expires
    GROUP BY A.id, A.category
) Q
GROUP BY Q.category;`

// q4KillTime is second s after the test's epoch, as the json format reads it.
func q4KillTime(s int) string {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(s) * time.Second).Format("2006-01-02 15:04:05.000")
}

// q4KillBid is bid j: auction j % 200 (of category auction % 7), price j (every bid in its auction's time
// raises the auction's maximum, so all three stages change all the time), at a second inside the
// auction's [dateTime, expires] unless j % 130 > 100.
func q4KillBid(j int) (auction, price, sec int) {
	a := j % q4KillAuctions
	return a, j, a + j%130
}

// q4KillRecords are the auctions (with first) and bids from..from+n-1.
func q4KillRecords(first bool, from, n int) []*kgo.Record {
	var recs []*kgo.Record
	if first {
		for i := range q4KillAuctions {
			recs = append(recs, &kgo.Record{Topic: "auction", Key: []byte(fmt.Sprint(i)),
				Value: fmt.Appendf(nil, `{"id":%d,"category":%d,"dateTime":"%s","expires":"%s"}`, i, i%7, q4KillTime(i), q4KillTime(i+100))})
		}
	}
	for j := from; j < from+n; j++ {
		a, p, s := q4KillBid(j)
		recs = append(recs, &kgo.Record{Topic: "bid", Key: []byte(fmt.Sprint(a)),
			Value: fmt.Appendf(nil, `{"auction":%d,"price":%d,"dateTime":"%s"}`, a, p, q4KillTime(s))})
	}
	return recs
}

// expectedQ4 is q4 over the auctions and bids 0..n-1: per category the average (truncated) of its auctions'
// highest bid within their time.
func expectedQ4(n int) map[int64]int64 {
	best := map[int]int{}
	for j := range n {
		a, p, s := q4KillBid(j)
		if s >= a && s <= a+100 && p >= best[a] {
			best[a] = p
		}
	}
	sum, cnt := map[int64]int64{}, map[int64]int64{}
	for a, p := range best {
		sum[int64(a%7)] += int64(p)
		cnt[int64(a%7)]++
	}
	w := map[int64]int64{}
	for c := range sum {
		w[c] = sum[c] / cnt[c]
	}
	return w
}

// q4Of reads 'q4' (read_committed) as a compacted topic reads.
func q4Of(t *testing.T, addr string) map[int64]int64 {
	got := map[int64]int64{}
	for _, r := range consume(t, addr, "q4", true) {
		var k struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(r.Key, &k); err != nil {
			t.Fatalf("unreadable key %q", r.Key)
		}
		if r.Value == nil {
			delete(got, k.ID)
			continue
		}
		var v struct {
			Final int64 `json:"final"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable value %q", r.Value)
		}
		got[k.ID] = v.Final
	}
	return got
}

// TestScaleOutNexmarkQ4Kill: three processes run Nexmark q4 as written (a regular join, two GROUP BYs:
// three keyed stages) while bids keep coming; one is killed with SIGKILL mid-run. The survivors restore its
// partitions of the join and both aggregates, and the compacted averages per category equal the ones
// computed from the input (what a P=1 run writes).
func TestScaleOutNexmarkQ4Kill(t *testing.T) {
	const perTick = 20
	var want map[int64]int64
	r := scaleOutKillRunFed(t, scaleOutQ4Query, func(addr string) *feeder {
		produce(t, addr, "auction", q4KillRecords(true, 0, 0))
		return feedRecords(t, addr, func(n int) ([]*kgo.Record, int) { return q4KillRecords(false, n, perTick), perTick })
	}, func(addr string) bool { return len(q4Of(t, addr)) > 0 },
		func(addr string, total int) string {
			if want == nil {
				want = expectedQ4(total)
			}
			got := q4Of(t, addr)
			if fmt.Sprint(got) == fmt.Sprint(want) {
				return ""
			}
			return fmt.Sprintf("averages %v, want %v", got, want)
		})
	t.Logf("3 members, 1 killed: %d bids, averages of %d categories exact %s after the kill; survivors restored %d and %d state entries since",
		r.total, len(want), r.took.Round(100*time.Millisecond), r.restored[0], r.restored[1])
}
