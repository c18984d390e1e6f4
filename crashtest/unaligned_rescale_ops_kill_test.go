package crashtest

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUnalignedKillRescaleWindow's kills for the other event-time operators that take per key group late
// floors when an unaligned checkpoint is restored at another parallelism (exec/window_slice_floor.go,
// join_floor.go, over_floor.go): HOP and CUMULATE window aggregates in one job, an interval join and an OVER
// aggregate in another, each behind a keyed exchange, the parallelism 2, 3, 1, 4 in turn (a restore at 1 of
// channel state is refused, and the next run restores it at 4). Each keeps to few kills (up to 3 × as many
// while no run restored rows in flight at another parallelism).

// rescaleOpsKills is the number of kills of each test (whatever -crash.kills, but none with -crash.kills 0):
// each run waits for a checkpoint of its own, so 6 runs take about 30 s.
func rescaleOpsKills() int {
	if *kills == 0 {
		return 0
	}
	return 6
}

// checkRedistributed fails the test unless the runs restored in-flight rows of one of ops (operator names'
// first words) taken at another parallelism.
func checkRedistributed(t *testing.T, outs []string, ops ...string) {
	t.Helper()
	n, refused := 0, 0
	var per []string
	for _, op := range ops {
		k := redistributedOf(outs, op)
		n += k
		per = append(per, op+" "+strconv.Itoa(k))
	}
	for _, out := range outs {
		refused += strings.Count(out, p1Refusal)
	}
	t.Logf("in-flight rows restored at another parallelism: %s; %d restores at parallelism 1 refused", strings.Join(per, ", "), refused)
	if n == 0 && !*noRestore && *kills > 0 {
		t.Fatalf("no run restored in-flight rows taken at another parallelism: the scenario did not test their redistribution\nlast client output:\n%s",
			indent(outs[len(outs)-1]))
	}
}

// TestUnalignedKillRescaleHopCumulate: HOP windows of 2 s sliding by 1 s and CUMULATE windows of step 1 s
// and size 3 s per user (order i at event time i ms), COUNT, SUM, MIN and MAX → exactly-once kafka, unaligned
// checkpoints every 100 ms.
func TestUnalignedKillRescaleHopCumulate(t *testing.T) {
	const users = 50
	tsOf := func(id int) int64 { return int64(id) }
	wins := func(topic string, windows func(ts int64) [][2]int64) *scenario {
		return &scenario{
			topic: topic,
			key:   []string{"user_id", "ws", "we"},
			val:   []string{"cnt", "total", "first_id", "last_id"},
			want:  ordersWindowsWant(users, tsOf, windows),
		}
	}
	hop := wins("hops", func(ts int64) [][2]int64 {
		s := ts / 1000 * 1000
		return [][2]int64{{s - 1000, s + 1000}, {s, s + 2000}}
	})
	cum := wins("cums", func(ts int64) [][2]int64 {
		var ws [][2]int64
		start := ts / 3000 * 3000
		for e := ts/1000*1000 + 1000; e <= start+3000; e += 1000 {
			ws = append(ws, [2]int64{start, e})
		}
		return ws
	})
	const cols = "user_id BIGINT, ws TIMESTAMP(3), we TIMESTAMP(3), cnt BIGINT, total BIGINT, first_id BIGINT, last_id BIGINT"
	const aggs = "SELECT user_id, window_start, window_end, COUNT(*), SUM(amount), MIN(id), MAX(id) FROM TABLE("
	s := hop
	s.users = users
	s.preload = 50000
	s.settings = unalignedSets
	s.tables = []string{groupOffsets(eventOrders("events", "id")), groupOffsets(eventOrders("events2", "id")),
		sinkOn(eoSink("hops", cols)), sinkOn(eoSink("cums", cols))}
	s.insert = `EXECUTE STATEMENT SET BEGIN
INSERT INTO hops ` + aggs + `HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND)) GROUP BY user_id, window_start, window_end;
INSERT INTO cums ` + aggs + `CUMULATE(TABLE events2, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '3' SECOND)) GROUP BY user_id, window_start, window_end;
END;`
	s.parallelism = []int{2, 3, 1, 4}
	s.refusal = p1Refusal
	s.env = []string{keyedDelay(3 * time.Millisecond)}
	s.settle = true
	s.kills = rescaleOpsKills()
	t.Parallel()
	outs := s.runSlowSink(t, 193, 100*time.Millisecond, func(outs []string) bool { return redistributedOf(outs, "WindowAggregate") == 0 }, cum)
	checkRedistributed(t, outs, "WindowAggregate")
}

// TestUnalignedKillRescaleIntervalOver: an event-time interval join (intervalJoin's: the orders of amount 0
// joined with their user's orders of id MOD 11 < 3 within 1 s, 30 users, order i at i × 10 ms) → exactly-once
// kafka, and an event-time OVER per user numbering each user's orders and summing their amounts (ROWS
// UNBOUNDED PRECEDING) → upsert-kafka, unaligned checkpoints every 100 ms.
func TestUnalignedKillRescaleIntervalOver(t *testing.T) {
	const users = 30
	s := scenario{
		users:    users,
		preload:  20000,
		settings: unalignedSets,
		tables: []string{groupOffsets(eventOrders("orders", "id * 10")), groupOffsets(eventOrders("partners", "id * 10")),
			groupOffsets(eventOrders("events", "id * 10")),
			sinkOn(eoSink("pairs", "o_id BIGINT, p_id BIGINT, user_id BIGINT")),
			sinkOn(upsertSink("nth", "id BIGINT, n BIGINT, total BIGINT", "id"))},
		insert: `EXECUTE STATEMENT SET BEGIN
INSERT INTO pairs SELECT o.id, p.id, o.user_id
FROM (SELECT * FROM orders WHERE amount = 0) o JOIN (SELECT * FROM partners WHERE MOD(id, 11) < 3) p
  ON o.user_id = p.user_id AND p.ts BETWEEN o.ts - INTERVAL '1' SECOND AND o.ts + INTERVAL '1' SECOND;
INSERT INTO nth SELECT id,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
  SUM(amount) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM events;
END;`,
		parallelism: []int{2, 3, 1, 4},
		refusal:     p1Refusal,
		env:         []string{keyedDelay(3 * time.Millisecond)},
		settle:      true,
		kills:       rescaleOpsKills(),
		topic:       "pairs",
		key:         []string{"o_id", "p_id"},
		val:         []string{"user_id"},
		want: func(total int) map[string]expect {
			wm := passed(total, linearTS)
			want := map[string]expect{}
			for o := 0; o < total; o += 7 {
				for p := o - 3*users; p <= o+3*users && p < total; p += users {
					if p >= 0 && p%11 < 3 {
						want[row(o, p)] = expect{row(o % users), linearTS(max(o, p)) <= wm}
					}
				}
			}
			return want
		},
	}
	nth := &scenario{
		topic:  "nth",
		upsert: true,
		key:    []string{"id"},
		val:    []string{"n", "total"},
		want: func(total int) map[string]expect {
			wm := passed(total, linearTS)
			n, sum := make([]int, users), make([]int, users)
			want := make(map[string]expect, total)
			for i := 0; i < total; i++ {
				n[i%users]++
				sum[i%users] += i % 7
				want[row(i)] = expect{row(n[i%users], sum[i%users]), linearTS(i) <= wm}
			}
			return want
		},
	}
	t.Parallel()
	outs := s.runSlowSink(t, 194, 100*time.Millisecond, func(outs []string) bool {
		return redistributedOf(outs, "IntervalJoin")+redistributedOf(outs, "OverAggregate") == 0
	}, nth)
	checkRedistributed(t, outs, "IntervalJoin", "OverAggregate")
}
