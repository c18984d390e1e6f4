package crashtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A scale-out interval join (engine/scaleout_interval.go) run by three sql-client processes: auctions (4
// partitions) LEFT JOIN bids (8 partitions) ON the auction id, the bid within 10 s after the auction.

const ivAuctionParts, ivBidParts = 4, 8

// ivBidOf is the bid of partition bp at second s (its time s + 500 ms): the auction it names (that of
// partition bp % 4 at second s - k, k = (s + bp) % 13: within the 10 s bound for k <= 9) and its price.
func ivBidOf(s, bp int) (auction, price, k int) {
	k = (s + bp) % 13
	return (s-k)*ivAuctionParts + bp%ivAuctionParts, bp*10_000_000 + s, k
}

// feedIntervalJoin produces, every tick, the next second: auction s*4 + p at second s into partition p of
// 'auctions', and one bid at second s + 500 ms into every partition of 'bids'.
func feedIntervalJoin(t *testing.T, addr string) *feeder {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return ticker(t, 0, func(s int) (int, error) {
		var recs []*kgo.Record
		ts := clickBase.Add(time.Duration(s) * time.Second)
		for p := range ivAuctionParts {
			recs = append(recs, &kgo.Record{Topic: "auctions", Partition: int32(p),
				Value: fmt.Appendf(nil, `{"id":%d,"ts":"%s"}`, s*ivAuctionParts+p, ts.Format("2006-01-02 15:04:05.000"))})
		}
		for bp := range ivBidParts {
			a, price, _ := ivBidOf(s, bp)
			recs = append(recs, &kgo.Record{Topic: "bids", Partition: int32(bp),
				Value: fmt.Appendf(nil, `{"auction":%d,"price":%d,"ts":"%s"}`, a, price, ts.Add(500*time.Millisecond).Format("2006-01-02 15:04:05.000"))})
		}
		return 1, cl.ProduceSync(context.Background(), recs...).FirstErr()
	}, nil)
}

// intervalJoinWant is the LEFT JOIN's rows ("auction/price", "auction/-" when NULL-padded) of the first n
// seconds: every match, and every auction without one whose bound (its time + 10 s) is below the final
// watermark, the auctions' (n-1 s) - 1 s.
func intervalJoinWant(n int) map[string]int {
	want := map[string]int{}
	matched := map[int]bool{}
	for s := range n {
		for bp := range ivBidParts {
			a, price, k := ivBidOf(s, bp)
			if k <= 9 && s-k >= 0 {
				want[fmt.Sprintf("%d/%d", a, price)]++
				matched[a] = true
			}
		}
	}
	for s := range n {
		for p := range ivAuctionParts {
			if a := s*ivAuctionParts + p; !matched[a] && s+10 < n-2 {
				want[fmt.Sprintf("%d/-", a)]++
			}
		}
	}
	return want
}

// intervalJoinDiff compares 'joined' (read_committed) with want as multisets ("" when equal).
func intervalJoinDiff(t *testing.T, addr string, want map[string]int) string {
	return multisetDiff(want, idValueRows(t, addr, "joined", "price"))
}

// TestScaleOutIntervalJoinKill: three processes run a LEFT interval join over topics fed during the run
// (watermarks cross the processes through the repartition topic); one is killed with SIGKILL. The survivors
// restore its partitions' rows, match counts and source watermarks from the join's changelog, and
// read_committed the sink holds every match, and every auction without one that the final watermark
// closes NULL-padded, exactly once.
func TestScaleOutIntervalJoinKill(t *testing.T) {
	addr := auctionBidsBroker(t)
	dir := t.TempDir()
	f := feedIntervalJoin(t, addr)
	sql := script(addr,
		`SET 'sluice.scale-out.enabled' = 'true';`,
		`SET 'pipeline.name' = 'interval-job';`,
		`SET 'sluice.scale-out.session-timeout' = '2 s';`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s';`,
		auctionBidsTables,
		`INSERT INTO joined SELECT a.id, b.price FROM auctions a LEFT JOIN bids b
  ON a.id = b.auction AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '10' SECOND;`)
	killMemberJoined(t, dir, addr, sql, f, joinKill{"joined", 100, intervalJoinWant, intervalJoinDiff, "auction without a bid"})
}

// joinKill is what killMemberJoined checks: the sink topic, the rows it holds before the kill, the rows wanted
// for n seconds of events, how the topic differs from them, and what a NULL-padded row stands for ("": the
// query pads none).
type joinKill struct {
	topic     string
	min       int
	want      func(n int) map[string]int
	diff      func(t *testing.T, addr string, want map[string]int) string
	unmatched string
}

// auctionBidsBroker starts the broker of the join kill tests: auctions and bids topics, groups that notice a
// killed member within a second.
func auctionBidsBroker(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(ivBidParts),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(ivAuctionParts, "auctions"), kfake.SeedTopics(ivBidParts, "bids"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// auctionBidsTables is the DDL of the join kill tests' tables: auctions and bids with event time, and the
// joined sink.
const auctionBidsTables = `CREATE TABLE auctions (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'auctions', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'bids', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE joined (id BIGINT, price BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'joined', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json');`

// killMemberJoined runs sql (a LEFT join of two fed tables into k.topic, fed by f; or a one-input query with
// k.unmatched "") on three members, kills the first once k.min rows were written, ends the feed 5 s later and
// checks that the survivors' topic holds k.want(n) for the n seconds of events, each row once, NULL-padded
// ones included, and that a survivor restored state from the changelog.
func killMemberJoined(t *testing.T, dir, addr, sql string, f *feeder, k joinKill) {
	t.Helper()
	members := startMembers(t, dir, sql, "restored partitions", func() bool { return len(consume(t, addr, k.topic, true)) > k.min })
	time.Sleep(2 * time.Second) // the group settles: every member owns partitions
	before := restoredEntries(members[1].Output()) + restoredEntries(members[2].Output())
	members[0].Kill()
	killedAt := time.Now()
	time.Sleep(5 * time.Second)
	n := f.end()
	want := k.want(n)
	padded := 0
	for k := range want {
		if k[len(k)-1] == '-' {
			padded++
		}
	}
	if padded == 0 && k.unmatched != "" {
		t.Fatalf("%d s of events: no %s, the test checks no NULL-padded row", n, k.unmatched)
	}
	var diff string
	ok := waitFor(40*time.Second, func() bool {
		diff = k.diff(t, addr, want)
		return diff == ""
	})
	for i, c := range members[1:] {
		if c.Exited() {
			t.Fatalf("member %d ended by itself:\n%s", i+1, indent(c.Output()))
		}
	}
	if !ok {
		t.Fatalf("after killing a member (%d s of events): %s\nsurvivors:\n%s\n---\n%s", n, diff, indent(members[1].Output()), indent(members[2].Output()))
	}
	if restoredEntries(members[1].Output())+restoredEntries(members[2].Output()) == before {
		t.Fatalf("no survivor restored state from the changelog after the kill:\n%s\n---\n%s", indent(members[1].Output()), indent(members[2].Output()))
	}
	t.Logf("3 members, 1 killed: %d s of events, %d rows (%d NULL-padded) each once %s after the kill", n, len(want), padded, time.Since(killedAt).Round(100*time.Millisecond))
}
