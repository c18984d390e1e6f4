package crashtest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// A GROUP BY over a scale-out interval or temporal join (engine/scaleout_stage.go: two keyed stages, the
// join's rows through '<name>-agg2-repartition') run by three sql-client processes over the feeds of
// TestScaleOutIntervalJoinKill and TestScaleOutTemporalJoinKill.

const bucketCount = 16

// joinedBuckets turns a join's rows ("id/value", "id/-") into the buckets the queries write: per id % 16,
// "bucket:rows/matched/total" (total "-": NULL), each once.
func joinedBuckets(rows map[string]int) map[string]int {
	type bucket struct{ n, matched, total int64 }
	by := map[int64]*bucket{}
	for r, c := range rows {
		a, p, _ := strings.Cut(r, "/")
		id, _ := strconv.ParseInt(a, 10, 64)
		b := by[id%bucketCount]
		if b == nil {
			b = &bucket{total: -1}
			by[id%bucketCount] = b
		}
		b.n += int64(c)
		if p != "-" {
			price, _ := strconv.ParseInt(p, 10, 64)
			b.matched += int64(c)
			b.total = max(b.total, 0) + price*int64(c)
		}
	}
	out := map[string]int{}
	for k, b := range by {
		out[bucketRow(k, b.n, b.matched, b.total)] = 1
	}
	return out
}

func bucketRow(k, n, matched, total int64) string {
	t := "-"
	if total >= 0 {
		t = fmt.Sprint(total)
	}
	return fmt.Sprintf("%d:%d/%d/%s", k, n, matched, t)
}

// bucketsDiff compares the compacted 'buckets' topic (read_committed) with want ("" when equal).
func bucketsDiff(t *testing.T, addr string, want map[string]int) string {
	last := map[int64]string{}
	for _, r := range consume(t, addr, "buckets", true) {
		var k struct {
			Bucket int64 `json:"bucket"`
		}
		if err := json.Unmarshal(r.Key, &k); err != nil {
			t.Fatalf("unreadable key %q", r.Key)
		}
		if r.Value == nil {
			delete(last, k.Bucket)
			continue
		}
		var v struct {
			N, Matched int64
			Total      *int64
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable value %q", r.Value)
		}
		total := int64(-1)
		if v.Total != nil {
			total = *v.Total
		}
		last[k.Bucket] = bucketRow(k.Bucket, v.N, v.Matched, total)
	}
	got := map[string]int{}
	for _, row := range last {
		got[row]++
	}
	return multisetDiff(want, got)
}

// bucketsTable is the upsert-kafka sink of the buckets.
const bucketsTable = `CREATE TABLE buckets (bucket INT, n BIGINT, matched BIGINT, total BIGINT, PRIMARY KEY (bucket) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'buckets', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');`

// TestScaleOutIntervalJoinThenGroupByKill: three processes run a GROUP BY over a LEFT interval join (two
// keyed stages) over topics fed during the run; one is killed with SIGKILL. The survivors restore its
// partitions of both stages (the join's rows, match counts and watermarks; the buckets' accumulators), and
// the compacted buckets (rows, matches and their price sum, NULL-padded auctions included) equal those of
// every join row exactly once.
func TestScaleOutIntervalJoinThenGroupByKill(t *testing.T) {
	addr := auctionBidsBroker(t)
	f := feedIntervalJoin(t, addr)
	sql := script(addr,
		`SET 'sluice.scale-out.enabled' = 'true';`,
		`SET 'pipeline.name' = 'ivagg-job';`,
		`SET 'sluice.scale-out.session-timeout' = '2 s';`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s';`,
		auctionBidsTables,
		bucketsTable,
		`INSERT INTO buckets SELECT a.id % 16, COUNT(*), COUNT(b.price), SUM(b.price) FROM auctions a LEFT JOIN bids b
  ON a.id = b.auction AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '10' SECOND GROUP BY a.id % 16;`)
	killMemberJoined(t, t.TempDir(), addr, sql, f, joinKill{"buckets", 100,
		func(n int) map[string]int { return joinedBuckets(intervalJoinWant(n)) }, bucketsDiff, ""})
}

// TestScaleOutTemporalJoinThenGroupByKill: three processes run a GROUP BY over a LEFT temporal join over an
// 'upsert-kafka' versioned table (two keyed stages; the feed deletes every other version) while orders and
// rates come; one is killed with SIGKILL. The survivors restore its partitions of both stages, and the
// compacted buckets (orders, those with a rate and their rates' sum) equal those of every join row exactly
// once.
func TestScaleOutTemporalJoinThenGroupByKill(t *testing.T) {
	addr, f, tables := temporalKillSetup(t, true)
	sql := script(addr, tables, bucketsTable,
		`INSERT INTO buckets SELECT o.id % 16, COUNT(*), COUNT(r.rate), SUM(r.rate) FROM orders AS o
  LEFT JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k GROUP BY o.id % 16;`)
	killMemberJoined(t, t.TempDir(), addr, sql, f, joinKill{"buckets", 40,
		func(n int) map[string]int { return joinedBuckets(temporalJoinWant(n, true)) }, bucketsDiff, ""})
}
