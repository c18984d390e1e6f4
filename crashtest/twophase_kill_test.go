package crashtest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Two-phase aggregation across subtasks (engine/twophase.go) killed at random moments: with
// 'table.optimizer.agg-phase-strategy' = 'TWO_PHASE' and mini-batch on, each source subtask of the
// 4-partition input runs a local aggregate at the end of its chain and routes its partial rows by group key
// into the global aggregate's keyed subtasks. Every checkpoint first applies all locals' partials into the
// exchange; a restore redistributes the global's groups by key group. (TestTwoPhaseKill runs the append
// orders at parallelism 2, 1, 3 in turn.)

// twoPhaseSets are the settings of the two-phase scenarios.
var twoPhaseSets = []string{
	`SET 'table.exec.mini-batch.enabled' = 'true';`,
	`SET 'table.exec.mini-batch.allow-latency' = '100 ms';`,
	`SET 'table.exec.mini-batch.size' = '500';`,
	`SET 'table.optimizer.agg-phase-strategy' = 'TWO_PHASE';`,
}

// groupOffsets turns a Kafka table's DDL from earliest-offset to the group's committed offsets (committed at
// every checkpoint): a run that is not restored from a checkpoint goes on from there with empty state, so the
// scenario fails if a restore is skipped (from the earliest offset it would recompute everything).
func groupOffsets(ddl string) string {
	return strings.Replace(ddl, `'scan.startup.mode' = 'earliest-offset'`,
		`'scan.startup.mode' = 'group-offsets', 'properties.auto.offset.reset' = 'earliest'`, 1)
}

// TestTwoPhaseKillExchange: the orders (append) GROUP BY user_id (COUNT, SUM, MIN, MAX) at parallelism 2 in
// every run.
func TestTwoPhaseKillExchange(t *testing.T) {
	const users = 300
	s := scenario{
		users:    users,
		settings: twoPhaseSets,
		tables: []string{groupOffsets(eventOrders("orders", "id * 10")),
			upsertSink("totals", "user_id BIGINT, cnt BIGINT, total BIGINT, first_id BIGINT, last_id BIGINT", "user_id")},
		insert:      `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount), MIN(id), MAX(id) FROM orders GROUP BY user_id;`,
		parallelism: []int{2},
		topic:       "totals",
		upsert:      true,
		key:         []string{"user_id"},
		val:         []string{"cnt", "total", "first_id", "last_id"},
		want: func(total int) map[string]expect {
			cnt, sum, last := make([]int, users), make([]int, users), make([]int, users)
			for i := 0; i < total; i++ {
				cnt[i%users]++
				sum[i%users] += i % 7
				last[i%users] = i
			}
			want := map[string]expect{}
			for u := 0; u < users && u < total; u++ {
				want[row(u)] = expect{row(cnt[u], sum[u], u, last[u]), true}
			}
			return want
		},
	}
	s.run(t, 90)
}

// The changelog of the two-phase scenarios: cdcEntities rows, event k changing row k % cdcEntities in its
// round k / cdcEntities: created when absent, deleted in every fourth round (two rows of three; the third is
// updated, so that the expectation is never empty), else updated to new values.
const cdcEntities = 400

type cdcRow struct{ bucket, amount int }

// cdcAfter is the row that event k writes (when it does not delete).
func cdcAfter(k int) cdcRow { return cdcRow{bucket: (k/7 + k%5) % 13, amount: k % 11} }

// cdcStep applies event k to live and returns its debezium op and the before and after rows (nil: none).
func cdcStep(k int, live map[int]cdcRow) (op string, before, after *cdcRow) {
	e := k % cdcEntities
	old, ok := live[e]
	switch {
	case !ok:
		a := cdcAfter(k)
		live[e] = a
		return "c", nil, &a
	case (k/cdcEntities)%4 == 3 && e%3 != 0:
		delete(live, e)
		return "d", &old, nil
	default:
		a := cdcAfter(k)
		live[e] = a
		return "u", &old, &a
	}
}

func cdcJSON(id int, r *cdcRow) string {
	if r == nil {
		return "null"
	}
	return fmt.Sprintf(`{"id":%d,"bucket":%d,"amount":%d}`, id, r.bucket, r.amount)
}

// cdcFeeder returns the generator of the changelog topic cdc: 200 events per tick, keyed by the row's id.
func cdcFeeder() func(n int) ([]*kgo.Record, int) {
	live := map[int]cdcRow{}
	return func(n int) ([]*kgo.Record, int) {
		recs := make([]*kgo.Record, 200)
		for i := range recs {
			k := n + i
			op, before, after := cdcStep(k, live)
			id := k % cdcEntities
			recs[i] = &kgo.Record{Topic: "cdc", Key: []byte(fmt.Sprint(id)),
				Value: []byte(fmt.Sprintf(`{"before":%s,"after":%s,"op":"%s"}`, cdcJSON(id, before), cdcJSON(id, after), op))}
		}
		return recs, len(recs)
	}
}

// twoPhaseChangelog: a two-phase GROUP BY bucket (COUNT, SUM, COUNT of a filtered column) over the
// debezium-json changelog cdc (inserts, updates, deletes: the locals fold retractions, a bucket whose last
// row leaves is deleted from the upsert-kafka table).
func twoPhaseChangelog(t *testing.T, seed uint64, parallelism []int) {
	s := scenario{
		settings: twoPhaseSets,
		tables: []string{`CREATE TABLE cdc (id BIGINT, bucket BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'cdc', 'properties.bootstrap.servers' = 'ADDR',
  'properties.group.id' = 'crash-cdc', 'scan.startup.mode' = 'group-offsets', 'properties.auto.offset.reset' = 'earliest',
  'format' = 'debezium-json');`,
			upsertSink("buckets", "bucket BIGINT, cnt BIGINT, total BIGINT, big BIGINT", "bucket")},
		insert: `INSERT INTO buckets SELECT bucket, COUNT(*), SUM(amount), COUNT(CASE WHEN amount > 5 THEN 1 END)
  FROM cdc GROUP BY bucket;`,
		parallelism: parallelism,
		topic:       "buckets",
		upsert:      true,
		key:         []string{"bucket"},
		val:         []string{"cnt", "total", "big"},
		want: func(total int) map[string]expect {
			live := map[int]cdcRow{}
			for k := 0; k < total; k++ {
				cdcStep(k, live)
			}
			var cnt, sum, big [13]int
			for _, r := range live {
				cnt[r.bucket]++
				sum[r.bucket] += r.amount
				if r.amount > 5 {
					big[r.bucket]++
				}
			}
			want := map[string]expect{}
			for b := range cnt {
				if cnt[b] > 0 {
					want[row(b)] = expect{row(cnt[b], sum[b], big[b]), true}
				}
			}
			return want
		},
	}
	s.runFed(t, seed, func(addr, _ string) *feeder { return feedRecords(t, addr, cdcFeeder()) })
}

// TestTwoPhaseChangelogKill: over the changelog at parallelism 2 in every run.
func TestTwoPhaseChangelogKill(t *testing.T) { twoPhaseChangelog(t, 91, []int{2}) }

// TestTwoPhaseChangelogKillRescale: the same, the parallelism changing between restores (2, 1, 3, ...).
func TestTwoPhaseChangelogKillRescale(t *testing.T) { twoPhaseChangelog(t, 92, []int{2, 1, 3}) }
