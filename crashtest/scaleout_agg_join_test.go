package crashtest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// A GROUP BY over a scale-out interval join (engine/scaleout_stage.go: two keyed stages, the join's rows
// through '<name>-agg2-repartition') run by three sql-client processes over the feed of
// TestScaleOutIntervalJoinKill.

const ivBuckets = 16

// ivBucketsOf turns the interval join's rows ("auction/price", "auction/-") into the buckets the query
// writes: per auction % 16, "bucket:rows/matched/total" (total "-": NULL), each once.
func ivBucketsOf(rows map[string]int) map[string]int {
	type bucket struct{ n, matched, total int64 }
	by := map[int64]*bucket{}
	for r, c := range rows {
		a, p, _ := strings.Cut(r, "/")
		id, _ := strconv.ParseInt(a, 10, 64)
		b := by[id%ivBuckets]
		if b == nil {
			b = &bucket{total: -1}
			by[id%ivBuckets] = b
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

// ivBucketsDiff compares the compacted 'buckets' topic (read_committed) with want ("" when equal).
func ivBucketsDiff(t *testing.T, addr string, want map[string]int) string {
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
		`CREATE TABLE buckets (bucket INT, n BIGINT, matched BIGINT, total BIGINT, PRIMARY KEY (bucket) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'buckets', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');`,
		`INSERT INTO buckets SELECT a.id % 16, COUNT(*), COUNT(b.price), SUM(b.price) FROM auctions a LEFT JOIN bids b
  ON a.id = b.auction AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '10' SECOND GROUP BY a.id % 16;`)
	killMemberJoined(t, t.TempDir(), addr, sql, f, joinKill{"buckets", 100,
		func(n int) map[string]int { return ivBucketsOf(intervalJoinWant(n)) }, ivBucketsDiff, ""})
}
