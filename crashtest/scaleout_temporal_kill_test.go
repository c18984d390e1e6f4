package crashtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A scale-out event-time temporal join (engine/scaleout_temporal.go) run by three sql-client processes:
// orders (4 partitions) LEFT JOIN rates FOR SYSTEM_TIME AS OF the order's time (a versioned 'kafka' table
// with a PRIMARY KEY, 4 partitions). Second s has order s*4 + p at s + 500 ms on orders partition p, with
// key (s*4 + p) % 13 (key 12 never has a version: NULL-padded), and a version of every key k < 12 with
// s % 3 == k % 3 at s on rates partition k % 4 (rate k*1000000 + s): every partition has rows every second.

const tkParts, tkKeys = 4, 12

// tkRateOf is the rate of order (s, key) — the key's latest version at or before s — and false for none.
func tkRateOf(s, key int, upsert bool) (int, bool) {
	if key >= tkKeys {
		return 0, false
	}
	v := s - ((s-key)%3+3)%3
	if v < 0 || upsert && tkDeleted(v, key) {
		return 0, false
	}
	return key*1_000_000 + v, true
}

// tkDeleted reports whether the upsert-kafka feed deletes key k's version of second s right after writing
// it (every other version of a key): the tombstone ends the version at its own time (the normalize's -D
// carries the key's last row), so the orders until the key's next version have no rate. Which orders it
// affects does not depend on timing: an order after s waits for a watermark that the rates partition's
// later rows, behind the tombstone, raise.
func tkDeleted(s, k int) bool { return (s/3+k)%2 == 0 }

// feedTemporalJoin feeds orders and rates (upsert: record keys {"k":K} and a tombstone after every deleted
// version, tkDeleted).
func feedTemporalJoin(t *testing.T, addr string, upsert bool) *feeder {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return ticker(t, 0, func(s int) (int, error) {
		var recs []*kgo.Record
		ts := clickBase.Add(time.Duration(s) * time.Second)
		for k := range tkKeys {
			if s%3 == k%3 {
				r := &kgo.Record{Topic: "rates", Partition: int32(k % tkParts),
					Value: fmt.Appendf(nil, `{"k":%d,"rate":%d,"rt":"%s"}`, k, k*1_000_000+s, ts.Format("2006-01-02 15:04:05.000"))}
				recs = append(recs, r)
				if upsert {
					r.Key = fmt.Appendf(nil, `{"k":%d}`, k)
					if tkDeleted(s, k) {
						recs = append(recs, &kgo.Record{Topic: "rates", Partition: r.Partition, Key: r.Key})
					}
				}
			}
		}
		for p := range tkParts {
			id := s*tkParts + p
			recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(p),
				Value: fmt.Appendf(nil, `{"id":%d,"k":%d,"ts":"%s"}`, id, id%13, ts.Add(500*time.Millisecond).Format("2006-01-02 15:04:05.000"))})
		}
		return 1, cl.ProduceSync(context.Background(), recs...).FirstErr()
	}, nil)
}

// temporalJoinWant is the LEFT JOIN's rows ("id/rate", "id/-" when NULL-padded) of the first n seconds: the
// orders at or before the final watermark, the minimum over the partitions' last times (n-1 s) less 1 s.
func temporalJoinWant(n int, upsert bool) map[string]int {
	want := map[string]int{}
	for s := range n {
		if s*1000+500 > (n-2)*1000 {
			continue
		}
		for p := range tkParts {
			id := s*tkParts + p
			if r, ok := tkRateOf(s, id%13, upsert); ok {
				want[fmt.Sprintf("%d/%d", id, r)]++
			} else {
				want[fmt.Sprintf("%d/-", id)]++
			}
		}
	}
	return want
}

// temporalJoinDiff compares 'priced' (read_committed) with want as multisets ("" when equal): rows lost,
// written more than once, unexpected (a wrong rate, or an order emitted before the watermark passed it).
func temporalJoinDiff(t *testing.T, addr string, want map[string]int) string {
	return multisetDiff(want, idValueRows(t, addr, "priced", "rate"))
}

// TestScaleOutTemporalJoinKill: three processes run a LEFT temporal join over topics fed during the run
// (watermarks cross the processes through the repartition topic); one is killed with SIGKILL. The survivors
// restore its partitions' waiting orders, versions and source watermarks from the join's changelog, and
// read_committed the sink holds every order the final watermark passed, with the rate valid at its time
// (NULL-padded without one), exactly once.
func TestScaleOutTemporalJoinKill(t *testing.T) { runTemporalJoinKill(t, false) }

// TestScaleOutTemporalJoinUpsertKill: TestScaleOutTemporalJoinKill with rates an 'upsert-kafka' table whose
// feed deletes every other version of a key right after writing it: the survivors also restore the
// normalize's last rows, and the orders after a deleted version until the key's next one are NULL-padded.
func TestScaleOutTemporalJoinUpsertKill(t *testing.T) { runTemporalJoinKill(t, true) }

func runTemporalJoinKill(t *testing.T, upsert bool) {
	addr, f, tables := temporalKillSetup(t, upsert)
	sql := script(addr, tables,
		`CREATE TABLE priced (id BIGINT, rate BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'priced', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json');`,
		`INSERT INTO priced SELECT o.id, r.rate FROM orders AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r
  ON o.k = r.k;`)
	killMemberJoined(t, t.TempDir(), addr, sql, f, joinKill{"priced", 40, func(n int) map[string]int { return temporalJoinWant(n, upsert) },
		temporalJoinDiff, "order without a rate"})
}

// temporalKillSetup starts the broker and the feed of the temporal join kill tests and returns the scale-out
// options (job 'temporal-job') and the orders and rates tables.
func temporalKillSetup(t *testing.T, upsert bool) (addr string, f *feeder, tables string) {
	rates := `'connector' = 'kafka', 'topic' = 'rates', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json'`
	if upsert {
		rates = `'connector' = 'upsert-kafka', 'topic' = 'rates', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json'`
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(tkParts),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(tkParts, "orders"), kfake.SeedTopics(tkParts, "rates"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr = c.ListenAddrs()[0]
	f = feedTemporalJoin(t, addr, upsert)
	tables = strings.Join([]string{
		`SET 'sluice.scale-out.enabled' = 'true';`,
		`SET 'pipeline.name' = 'temporal-job';`,
		`SET 'sluice.scale-out.session-timeout' = '2 s';`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s';`,
		`CREATE TABLE orders (id BIGINT, k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');`,
		`CREATE TABLE rates (k BIGINT, rate BIGINT, rt TIMESTAMP(3), WATERMARK FOR rt AS rt - INTERVAL '1' SECOND,
  PRIMARY KEY (k) NOT ENFORCED) WITH (
  ` + rates + `);`}, "\n")
	return addr, f, tables
}
