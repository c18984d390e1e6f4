package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
)

// emitLog records the rows a keyed operator's subtasks emit (one call of its function per output row,
// identified by the row's user and a key) in phases: 0 the old job before the checkpoint was triggered, 1 the
// old job after, 2 the restored job. Once armed it holds the subtask of user 0 in its next output row of
// user 0.
type emitLog struct {
	mu      sync.Mutex
	armed   atomic.Bool
	held    atomic.Bool
	blocked chan struct{}
	release chan struct{}
	phase   int
	seen    [3]map[[2]int64]int
	during  map[[2]int64]bool // rows emitted by the other subtasks while user 0's subtask is held
	user    int64             // the held user (0 unless the operator says)
}

func newEmitLog() *emitLog {
	return &emitLog{blocked: make(chan struct{}), release: make(chan struct{}), during: map[[2]int64]bool{},
		seen: [3]map[[2]int64]int{{}, {}, {}}}
}

func (l *emitLog) call(user, key int64) int64 {
	if user == l.user && l.armed.CompareAndSwap(true, false) {
		l.held.Store(true)
		close(l.blocked)
		<-l.release
		l.held.Store(false)
	} else if l.held.Load() {
		l.mu.Lock()
		l.during[[2]int64{user, key}] = true
		l.mu.Unlock()
	}
	l.mu.Lock()
	l.seen[l.phase][[2]int64{user, key}]++
	l.mu.Unlock()
	return key
}

// callTime is call for a key of event time (a window's end, epoch milliseconds).
func (l *emitLog) callTime(user int64, at time.Time) int64 { return l.call(user, at.UnixMilli()) }

func (l *emitLog) setPhase(p int) {
	l.mu.Lock()
	l.phase = p
	l.mu.Unlock()
}

func (l *emitLog) emitted(p int) map[[2]int64]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.seen[p])
}

// ahead returns the rows the other subtasks emitted while user 0's subtask was held for which beyond holds.
func (l *emitLog) ahead(beyond func(k [2]int64) bool) [][2]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ks [][2]int64
	for k := range l.during {
		if beyond(k) {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b [2]int64) int { return int(a[0]-b[0])*1_000_000 + int(a[1]-b[1]) })
	return ks
}

// An opRescale is an event-time keyed operator restored from an unaligned checkpoint at another parallelism:
// the job's insert (its function hold(user, key) returns key), the sink table it writes (upsert-kafka,
// ADDR for the broker), and its expectation.
type opRescale struct {
	name, sink, insert string
	hold               any // hold's Go function, given the log (emitLog.call or callTime)
	// lateIDs are orders sent again after the restore that the uninterrupted job drops as late (or that match
	// nothing there)
	lateIDs []int
	// want is the sink's compacted table (JSON key → JSON value) and the rows emitted (user, key) of the
	// uninterrupted job over the orders ids and the orders late that arrived at watermark lateWM, once its
	// watermark is wm
	want func(ids, late []int, lateWM, wm int64) (map[string]string, map[[2]int64]bool)
	// after reports whether a row is emitted by the held subtask only after the checkpoint (its event time
	// or its input after the watermark, or the rows, it had when it was held)
	after func(k [2]int64) bool
	// ahead is the number of orders read before the checkpoint (0: 1300): the held subtask was held in orders
	// 1000 to 1099, the others read on to ahead - 1. Every poll of a source subtask makes items in the
	// held subtask's queue (16 at most, exec.xQueue; a full one stops the sources, and the checkpoint's barrier
	// with them): the interval join reads orders up to 1199 only.
	ahead int
	// heldUser is the user whose subtask is held (0 when not set)
	heldUser int64
	// ranAhead reports whether a row emitted by another subtask while the held one was held is one of the
	// latest the checkpoint's other subtasks emit before the cut (they ran ahead of the held one)
	ranAhead func(k [2]int64) bool
}

// wmAfter is the sources' watermark once they read orders 0 to n-1 (order i at i × 10 ms in partition
// i % 4; each partition's watermark 1 s behind its last order, the lowest one's order n-4).
func wmAfter(n int) int64 { return int64(n-4)*10 - 1000 }

// flushIDs move the watermark past every order below 2000 (one order in each partition at 30 s).
var flushIDs = []int{3000, 3001, 3002, 3003}

// windowsOf is the expectation of an aggregate per user and window (COUNT and SUM of amount) over the
// windows wins(ts) of an order at ts: those ending at or before wm + 1 fired. A late order counts in its
// windows that had not fired when it arrived (as Flink's slicing window operators, which drop it only once
// its slice's last window fired).
func windowsOf(wins func(ts int64) []int64) func(ids, late []int, lateWM, wm int64) (map[string]string, map[[2]int64]bool) {
	return func(ids, late []int, lateWM, wm int64) (map[string]string, map[[2]int64]bool) {
		type agg struct{ cnt, total int }
		aggs := map[[2]int64]*agg{}
		for n, i := range append(slices.Clone(ids), late...) {
			for _, end := range wins(int64(i) * 10) {
				if n >= len(ids) && end-1 <= lateWM {
					continue
				}
				k := [2]int64{int64(i % 37), end}
				if aggs[k] == nil {
					aggs[k] = &agg{}
				}
				aggs[k].cnt++
				aggs[k].total += i % 7
			}
		}
		want, rows := map[string]string{}, map[[2]int64]bool{}
		for k, a := range aggs {
			if k[1]-1 <= wm {
				rows[k] = true
				want[fmt.Sprintf(`{"user_id":%d,"we":%d}`, k[0], k[1])] = fmt.Sprintf(`{"user_id":%d,"we":%d,"cnt":%d,"total":%d}`, k[0], k[1], a.cnt, a.total)
			}
		}
		return want, rows
	}
}

const winsSink = `CREATE TABLE wins (user_id BIGINT, we BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (user_id, we) NOT ENFORCED)
  WITH ('connector' = 'upsert-kafka', 'topic' = 'wins', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');`

func idRange(lo, hi int) []int {
	var ids []int
	for i := lo; i < hi; i++ {
		ids = append(ids, i)
	}
	return ids
}

// rescaleOps are the operators of TestUnalignedRescaleOpsRestore. The held subtask had the watermark
// wmAfter(1100) (its windows ending at 9 s fired, its OVER rows up to 9.96 s emitted, its join rows up to
// order 1100 at most read); the others wmAfter(1300) (windows up to 11 s, OVER rows up to 11.96 s, every
// order below 1300; the interval join's below 1200).
func rescaleOps(l *emitLog) []opRescale {
	held, fast := wmAfter(1100), wmAfter(1300)
	windowAfter := func(k [2]int64) bool { return k[1]-1 > held }
	windowAhead := func(k [2]int64) bool { return k[1]-1 > held && k[1]-1 <= fast }
	return []opRescale{{
		name: "hop",
		sink: winsSink,
		insert: `INSERT INTO wins SELECT user_id, hold(user_id, window_end), COUNT(*), SUM(amount)
  FROM TABLE(HOP(TABLE o, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND)) GROUP BY user_id, window_start, window_end`,
		hold:    l.callTime,
		lateIDs: idRange(900, 1100), // slices of 9 s (dropped) and 10 s (counted in the window ending at 12 s)
		want: windowsOf(func(ts int64) []int64 {
			s := ts / 1000 * 1000
			return []int64{s + 1000, s + 2000}
		}),
		after:    windowAfter,
		ranAhead: windowAhead,
	}, {
		name: "cumulate",
		sink: winsSink,
		insert: `INSERT INTO wins SELECT user_id, hold(user_id, window_end), COUNT(*), SUM(amount)
  FROM TABLE(CUMULATE(TABLE o, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '3' SECOND)) GROUP BY user_id, window_start, window_end`,
		hold:    l.callTime,
		lateIDs: idRange(900, 1100),
		want: windowsOf(func(ts int64) []int64 {
			var ends []int64
			start := ts / 3000 * 3000
			for e := ts/1000*1000 + 1000; e <= start+3000; e += 1000 {
				ends = append(ends, e)
			}
			return ends
		}),
		after:    windowAfter,
		ranAhead: windowAhead,
	}, {
		name: "interval-join",
		// one scan of the orders feeds both sides (fewer senders into the held subtask's queue)
		sink: `SET 'table.optimizer.reuse-source-enabled' = 'true';
CREATE TABLE pairs2 (pair BIGINT, o_id BIGINT, p_id BIGINT, PRIMARY KEY (pair) NOT ENFORCED)
  WITH ('connector' = 'upsert-kafka', 'topic' = 'pairs2', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');`,
		insert: `INSERT INTO pairs2 SELECT hold(a.user_id, a.id * 100000 + b.id), a.id, b.id
  FROM (SELECT * FROM o WHERE amount = 0) a JOIN (SELECT * FROM o WHERE MOD(id, 11) < 3) b
  ON a.user_id = b.user_id AND b.ts BETWEEN a.ts - INTERVAL '1' SECOND AND a.ts + INTERVAL '1' SECOND`,
		hold:  l.call,
		ahead: 1200,
		// user 26's first row from order 1000 on has order 1099 (the last one before the hold): held there, so that
		// fewer of their items queue behind it
		heldUser: 26,
		// behind the watermark (wmAfter(1200)) by more than the interval: they match no row unexpired there;
		// the held subtask's state keeps rows of its users up to 1 s behind its own watermark (wmAfter(1100)),
		// which they would match without the key groups' floors
		lateIDs: idRange(800, 896),
		want: func(ids, _ []int, _, _ int64) (map[string]string, map[[2]int64]bool) {
			want, rows := map[string]string{}, map[[2]int64]bool{}
			for _, a := range ids {
				for _, b := range ids {
					if a%7 == 0 && b%11 < 3 && a%37 == b%37 && b*10 >= a*10-1000 && b*10 <= a*10+1000 {
						pair := int64(a)*100000 + int64(b)
						rows[[2]int64{int64(a % 37), pair}] = true
						want[fmt.Sprintf(`{"pair":%d}`, pair)] = fmt.Sprintf(`{"pair":%d,"o_id":%d,"p_id":%d}`, pair, a, b)
					}
				}
			}
			return want, rows
		},
		// orders from 1100 on were produced once the held subtask was held
		after:    func(k [2]int64) bool { return max(k[1]/100000, k[1]%100000) >= 1100 },
		ranAhead: func(k [2]int64) bool { return max(k[1]/100000, k[1]%100000) >= 1100 },
	}, {
		name: "over",
		sink: `CREATE TABLE nth (id BIGINT, n BIGINT, total BIGINT, PRIMARY KEY (id) NOT ENFORCED)
  WITH ('connector' = 'upsert-kafka', 'topic' = 'nth', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');`,
		insert: `INSERT INTO nth SELECT hold(user_id, id), n, total FROM (SELECT id, user_id,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n,
  SUM(amount) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS total FROM o)`,
		hold:    l.call,
		lateIDs: idRange(900, 1100),
		// late orders (behind the watermark) are dropped
		want: func(ids, _ []int, _, wm int64) (map[string]string, map[[2]int64]bool) {
			want, rows := map[string]string{}, map[[2]int64]bool{}
			n, total := map[int]int{}, map[int]int{}
			for _, i := range slices.Sorted(slices.Values(ids)) {
				if int64(i)*10 > wm {
					continue
				}
				u := i % 37
				n[u]++
				total[u] += i % 7
				rows[[2]int64{int64(u), int64(i)}] = true
				want[fmt.Sprintf(`{"id":%d}`, i)] = fmt.Sprintf(`{"id":%d,"n":%d,"total":%d}`, i, n[u], total[u])
			}
			return want, rows
		},
		after:    func(k [2]int64) bool { return k[1]*10 > held },
		ranAhead: func(k [2]int64) bool { return k[1]*10 > held && k[1]*10 <= fast },
	}}
}

// TestUnalignedRescaleOpsRestore is TestUnalignedRescaleWindowRestore for HOP and CUMULATE window
// aggregates, an event-time interval join and an event-time OVER aggregate (exec/window_slice_floor.go,
// join_floor.go, over_floor.go): the operator runs behind a keyed exchange into upsert-kafka with unaligned
// checkpoints; the subtask of user 0 is held in an output row while the sources read on and the other
// subtasks run ahead (their watermark 2 s further); a checkpoint overtakes the held subtask's queue (rows and
// watermarks in flight) and a new job restores it at another parallelism (up and down). Orders that the
// uninterrupted job drops as late (or that match nothing) are sent again, then new orders and orders that
// move the watermark past them all. The restored job emits no row twice and none that the old job emitted
// before the checkpoint, it emits every row of the held subtask's users that the old one had not (its rows
// in flight are not dropped as late), and the sink's table is in the end the uninterrupted job's, computed
// from the input.
func TestUnalignedRescaleOpsRestore(t *testing.T) {
	for i, op := range rescaleOps(newEmitLog()) {
		for _, tc := range []struct{ from, to int }{{2, 3}, {3, 2}} {
			t.Run(fmt.Sprintf("%s/%d-%d", op.name, tc.from, tc.to), func(t *testing.T) {
				retrySetup(t, func() string {
					l := newEmitLog()
					return testOpRescale(t, rescaleOps(l)[i], l, tc.from, tc.to)
				})
			})
		}
	}
}

// testOpRescale runs op's test once. It returns why not when the sources stopped before the other subtasks
// ran ahead (the held subtask's queue full: exec.xQueue items, which the sources' polls, not the orders,
// make): the test's setup, not the restore, failed. Once they ran ahead the checkpoint must start, also
// with a source subtask waiting for room in the held subtask's queue (the overdraft: exec/exchange_overdraft.go;
// before it, the checkpoint did not start in 10 of 10 attempts of the interval join in CI).
func testOpRescale(t *testing.T, op opRescale, l *emitLog, from, to int) (stalled string) {
	ahead := op.ahead
	if ahead == 0 {
		ahead = 1300
	}
	l.user = op.heldUser
	addr := exchangeBroker(t)
	u, err := expr.NewUDF("hold", op.hold)
	if err != nil {
		t.Fatal(err)
	}
	sink := strings.ReplaceAll(op.sink, "ADDR", addr)
	produceExchangeOrders(t, addr, "ord", 0, 1000)
	s, notice := barrierSession(t, addr, from, "1 h", u)
	execScript(t, s, unalignedOn+"SET 'execution.checkpointing.externalized-checkpoint-retention' = 'RETAIN_ON_CANCELLATION';\n"+sink)
	j := startInsert(t, s, op.insert)
	released := false
	defer func() {
		if !released {
			close(l.release)
		}
		j.Cancel()
		_ = j.Wait(context.Background())
	}()
	want0, _ := op.want(idRange(0, 1000), nil, 0, wmAfter(1000))
	waitUpsertTopic(t, addr, op.sink, want0)
	j.mu.Lock()
	g := j.graph
	j.mu.Unlock()
	if len(g.exchanges) != 1 || !g.exchanges[0].x.CanUnalign() {
		t.Fatalf("%d exchanges; want 1 that takes unaligned barriers", len(g.exchanges))
	}
	x := g.exchanges[0].x
	// the subtask of user 0 is held in its next output row of user 0
	l.armed.Store(true)
	produceExchangeOrders(t, addr, "ord", 1000, 100)
	select {
	case <-l.blocked:
	case <-time.After(20 * time.Second):
		t.Fatalf("the subtask of user 0 never emitted a row\n%s", notice)
	}
	// the other subtasks run 2 s ahead; the held one queues the rows and watermarks
	produceOrdersAtOnce(t, addr, "ord", 1100, ahead-1100) // in few polls: few items in the held queue
	if n := int64(ahead); !waitUntil(20*time.Second, func() bool { return j.Metrics().RowsIn >= n }) {
		return fmt.Sprintf("the sources read %d of %d rows while the subtask of user 0 was held", j.Metrics().RowsIn, n)
	}
	// until the other subtasks emitted every row up to their watermark (stable for 300 ms)
	_, all := op.want(idRange(0, ahead), nil, 0, wmAfter(ahead))
	var fast map[int64]bool
	complete := func() bool {
		fast = map[int64]bool{}
		for _, k := range l.ahead(op.ranAhead) {
			fast[k[0]] = true
		}
		got := map[[2]int64]bool{}
		for _, k := range l.ahead(op.ranAhead) {
			got[k] = true
		}
		for k := range all {
			if fast[k[0]] && op.ranAhead(k) && !got[k] {
				return false
			}
		}
		return len(fast) > 0
	}
	if !waitUntil(20*time.Second, func() bool {
		if !complete() {
			return false
		}
		n := len(fast)
		time.Sleep(300 * time.Millisecond)
		return complete() && len(fast) == n
	}) {
		return fmt.Sprintf("the other subtasks emitted %d rows ahead of the held one", len(l.ahead(op.ranAhead)))
	}
	if len(fast) >= 37 || fast[op.heldUser] {
		t.Fatalf("users of the other subtasks %v", slices.Sorted(maps.Keys(fast)))
	}
	c0 := exec.UnalignedTotals()
	l.setPhase(1)
	path := checkpointHeld(t, g, "the checkpoint did not start", x.InBarrier, func() { close(l.release); released = true })
	c1 := exec.UnalignedTotals()
	t.Logf("%d items spilled by the overdraft", c1.Spilled-c0.Spilled)
	if c1.Watermark-c0.Watermark < 1 || c1.Written-c0.Written < 2 {
		t.Fatalf("the barrier overtook %d watermarks and the checkpoint wrote %d items; want a watermark and rows in flight", c1.Watermark-c0.Watermark, c1.Written-c0.Written)
	}
	want1, _ := op.want(idRange(0, ahead), nil, 0, wmAfter(ahead))
	waitUpsertTopic(t, addr, op.sink, want1) // the old job runs on
	j.Cancel()
	_ = j.Wait(context.Background())
	before := l.emitted(0)

	// restored at another parallelism
	l.setPhase(2)
	s2, notice2 := barrierSession(t, addr, to, "1 h", u)
	execScript(t, s2, fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", path)+sink)
	j2 := startInsert(t, s2, op.insert)
	defer func() {
		j2.Cancel()
		_ = j2.Wait(context.Background())
	}()
	produceOrderIDs(t, addr, op.lateIDs)
	produceExchangeOrders(t, addr, "ord", ahead, 2000-ahead)
	produceOrderIDs(t, addr, flushIDs)
	ids := append(idRange(0, 2000), flushIDs...)
	want, rows := op.want(ids, op.lateIDs, wmAfter(ahead), wmAfter(3004))
	waitUpsertTopic(t, addr, op.sink, want)
	if n := int64(len(op.lateIDs) + 2000 - ahead + len(flushIDs)); !waitUntil(20*time.Second, func() bool { return j2.Metrics().RowsIn >= n }) {
		t.Fatalf("the restored job read %d of %d rows\n%s", j2.Metrics().RowsIn, n, notice2)
	}
	time.Sleep(200 * time.Millisecond) // rows the late orders would emit
	waitUpsertTopic(t, addr, op.sink, want)
	restored := l.emitted(2)
	for k, n := range restored {
		if n > 1 {
			t.Errorf("the restored job emitted %v %d times", k, n)
		}
		if before[k] > 0 {
			t.Errorf("the restored job emitted %v, emitted before the checkpoint", k)
		}
		if !rows[k] {
			t.Errorf("the restored job emitted %v, not a row of the uninterrupted job", k)
		}
	}
	// the held subtask's users' rows after its watermark (their input in flight) and every user's later ones
	missing := 0
	for k := range rows {
		if op.after(k) && !fast[k[0]] && restored[k] == 0 {
			if missing++; missing <= 5 {
				t.Errorf("the restored job did not emit %v of the held subtask (emitted before the checkpoint: %d)", k, before[k])
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d rows of the held subtask's users missing", missing)
	}
	if c2 := exec.UnalignedTotals(); c2.Replayed-c1.Replayed < 1 {
		t.Fatal("no item of channel state was replayed")
	}
	j2.mu.Lock()
	g2 := j2.graph
	j2.mu.Unlock()
	if _, at := g2.exchanges[0].x.RestoredInFlight(); at != from {
		t.Fatalf("restored rows in flight taken at %d; want taken at %d", at, from)
	}
	return ""
}

// waitUpsertTopic is waitUpsert on the upsert-kafka table of sink's DDL (its last CREATE TABLE), failing with
// the rows that differ.
func waitUpsertTopic(t *testing.T, addr, sink string, want map[string]string) {
	t.Helper()
	i := strings.LastIndex(sink, "'topic' = '")
	topic, _, _ := strings.Cut(sink[i+len("'topic' = '"):], "'")
	var got map[string]string
	if waitUntil(60*time.Second, func() bool {
		got = upsertTable(t, addr, topic)
		return maps.Equal(got, want)
	}) {
		return
	}
	var diff []string
	for k, w := range want {
		if got[k] != w {
			diff = append(diff, fmt.Sprintf("%s: got %q, want %q", k, got[k], w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diff = append(diff, fmt.Sprintf("%s: got %q, want none", k, g))
		}
	}
	slices.Sort(diff)
	t.Fatalf("%s: %d rows, want %d; %d differ:\n%s", topic, len(got), len(want), len(diff), strings.Join(diff[:min(len(diff), 20)], "\n"))
}
