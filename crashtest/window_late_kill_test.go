package crashtest

import (
	"slices"
	"sort"
	"testing"
	"time"
)

// Window aggregates over out-of-order input with late rows, killed at random moments (the harness of
// scenario_test.go) → exactly-once kafka: every window written once with the values of a run without kills,
// none lost. The orders topic has one partition, so that which rows are late does not depend on how the
// source's polls interleave partitions: the watermark (1 s behind the largest event time) advances after
// every pushed batch of at most 500 records (max.poll.records), and
//   - every third order is 700 ms behind its place (lateTS): never late, as the watermark is at least 1 s
//     behind every order before it;
//   - from order 10,000 on, every 37th order is 60 s behind: always late (the batch before it reaches
//     within 500 orders, 5 s, of it), dropped by an unkilled run and, after a restore, again — the window
//     operator's fired watermark and the source's watermark come back from the checkpoint, so the late row
//     replayed behind the restored position neither reopens a window written before the kill nor joins a
//     later one.
// A bug that forgets either shows as a window written twice or with a wrong count. The orders are preloaded
// past 10,000 so that late rows come in every run.

const lateFrom, lateEvery, lateBy, skewEvery, skewBy = 10000, 37, 60000, 3, 700

// lateShift is the SQL of lateTS's shift, subtracted from the base event time.
const lateShift = `CASE WHEN id >= 10000 AND MOD(id, 37) = 0 THEN 60000 WHEN MOD(id, 3) = 0 THEN 700 ELSE 0 END`

// lateTS returns order i's event time for base time base(i), and whether the order is late.
func lateTS(i int, base func(int) int64) (int64, bool) {
	switch {
	case i >= lateFrom && i%lateEvery == 0:
		return base(i) - lateBy, true
	case i%skewEvery == 0:
		return base(i) - skewBy, false
	}
	return base(i), false
}

type winKey struct {
	user   int
	ws, we int64
}

type winAgg struct{ cnt, total, first, last int }

func (a *winAgg) add(i int) {
	if a.cnt == 0 || i < a.first {
		a.first = i
	}
	a.last = max(a.last, i)
	a.cnt++
	a.total += i % 7
}

// ordersWindowsWant is the want of a scenario whose sink holds per user and window COUNT, SUM, MIN(id) and
// MAX(id) of the orders (order i of user i % users at event time tsOf(i), in windows(ts)): every window, to
// be written once its end is passed (passed).
func ordersWindowsWant(users int, tsOf func(int) int64, windows func(ts int64) [][2]int64) func(total int) map[string]expect {
	return func(total int) map[string]expect {
		aggs := map[winKey]*winAgg{}
		for i := 0; i < total; i++ {
			for _, w := range windows(tsOf(i)) {
				k := winKey{i % users, w[0], w[1]}
				if aggs[k] == nil {
					aggs[k] = &winAgg{}
				}
				aggs[k].add(i)
			}
		}
		wm := passed(total, tsOf)
		want := make(map[string]expect, len(aggs))
		for k, a := range aggs {
			want[row(k.user, k.ws, k.we)] = expect{row(a.cnt, a.total, a.first, a.last), k.we <= wm}
		}
		return want
	}
}

// tumbleOf1s is the window of event time ts in TUMBLE windows of 1 s.
func tumbleOf1s(ts int64) [][2]int64 { return [][2]int64{{ts / 1000 * 1000, ts/1000*1000 + 1000}} }

// lateWindowAgg runs the window aggregate of windowAgg (COUNT, SUM, MIN(id), MAX(id) per user and window)
// over the orders with event time lateTS(i, base), base's SQL being baseSQL; aggs computes the expected
// windows from the orders that are not late, given each order's event time.
//
// At parallelism 1 the late orders are late in every run. Above 1 the source subtask that owns no partition
// holds the keyed window subtasks' watermark back until it has announced itself idle, so a late order read
// before that (in any run, killed or not) is not late: there windows (the windows of an event time, slicing
// windows only) tells the windows a late order may be counted in, and a window may hold any subset of them.
// Every window must still be written once: a late order replayed after a restore must not reopen a window
// written before the kill.
func lateWindowAgg(t *testing.T, seed uint64, parallelism []int, baseSQL string, base func(int) int64, window string,
	aggs func(total int, ts func(int) int64, late func(int) bool) map[winKey]*winAgg, windows func(ts int64) [][2]int64) {
	const users = 50
	loose := slices.Max(parallelism) > 1
	if loose && windows == nil {
		t.Fatal("late orders above parallelism 1 need the windows of an event time")
	}
	var alts map[string]map[string]bool // row → the values it may have besides the expected one
	s := scenario{
		users:      users,
		preload:    lateFrom + 2000,
		partitions: 1,
		// The windows come out once the watermark passed them and a checkpoint committed them, 2-3 s after a
		// start (the source subtask without partition holds the watermark until it is idle): most kills must
		// come later.
		later: 1500 * time.Millisecond,
		tables: []string{eventOrders("orders", baseSQL+" - "+lateShift),
			eoSink("wins", "user_id BIGINT, ws TIMESTAMP(3), we TIMESTAMP(3), cnt BIGINT, total BIGINT, first_id BIGINT, last_id BIGINT")},
		insert: `INSERT INTO wins SELECT user_id, window_start, window_end, COUNT(*), SUM(amount), MIN(id), MAX(id)
  FROM TABLE(` + window + `) GROUP BY user_id, window_start, window_end;`,
		parallelism: parallelism,
		topic:       "wins",
		key:         []string{"user_id", "ws", "we"},
		val:         []string{"cnt", "total", "first_id", "last_id"},
		also:        func(k, v string) bool { return alts[k][v] },
		want: func(total int) map[string]expect {
			ts := func(i int) int64 { v, _ := lateTS(i, base); return v }
			late := func(i int) bool { _, l := lateTS(i, base); return l }
			// The final watermark is 1 s behind the largest event time read, at least base(total-1) - skewBy.
			wm := base(total-1) - skewBy - 1000
			got := aggs(total, ts, late)
			want := make(map[string]expect, len(got))
			for k, a := range got {
				want[row(k.user, k.ws, k.we)] = expect{row(a.cnt, a.total, a.first, a.last), k.we <= wm}
			}
			lates := 0
			open := map[winKey][]int{}
			for i := lateFrom; i < total; i++ {
				if !late(i) {
					continue
				}
				lates++
				if loose {
					for _, w := range windows(ts(i)) {
						k := winKey{i % users, w[0], w[1]}
						open[k] = append(open[k], i)
					}
				}
			}
			alts = map[string]map[string]bool{}
			for k, ids := range open {
				a := got[k]
				if a == nil || len(ids) > 8 {
					t.Fatalf("window %v: %d late orders, base %v", k, len(ids), a)
				}
				m := map[string]bool{}
				for sub := 1; sub < 1<<len(ids); sub++ {
					b := *a
					for j, i := range ids {
						if sub&(1<<j) != 0 {
							b.add(i)
						}
					}
					m[row(b.cnt, b.total, b.first, b.last)] = true
				}
				alts[row(k.user, k.ws, k.we)] = m
			}
			t.Logf("%d late orders dropped by the expectation (%d windows may count some of them)", lates, len(alts))
			if lates == 0 {
				t.Errorf("no late order among the %d fed", total)
			}
			return want
		},
	}
	s.run(t, seed)
}

// slicing returns aggs for windows assigned per row: windows(ts) lists the [start, end) windows of an event
// time.
func slicing(users int, windows func(ts int64) [][2]int64) func(int, func(int) int64, func(int) bool) map[winKey]*winAgg {
	return func(total int, ts func(int) int64, late func(int) bool) map[winKey]*winAgg {
		m := map[winKey]*winAgg{}
		for i := 0; i < total; i++ {
			if late(i) {
				continue
			}
			for _, w := range windows(ts(i)) {
				k := winKey{i % users, w[0], w[1]}
				if m[k] == nil {
					m[k] = &winAgg{}
				}
				m[k].add(i)
			}
		}
		return m
	}
}

// hop3s lists the HOP windows of 3 s sliding by 1 s holding event time ts.
func hop3s(ts int64) [][2]int64 {
	var ws [][2]int64
	for s := floorDiv(ts, 1000)*1000 - 2000; s <= ts; s += 1000 {
		ws = append(ws, [2]int64{s, s + 3000})
	}
	return ws
}

const hopSQL = `HOP(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '3' SECOND)`

// TestHopLateKill: HOP windows of 3 s sliding by 1 s over out-of-order orders with late ones, at parallelism
// 1 (every late order dropped).
func TestHopLateKill(t *testing.T) {
	lateWindowAgg(t, 90, []int{1}, "id * 10", linearTS, hopSQL, slicing(50, hop3s), hop3s)
}

// TestHopLateKillExchange: the same at parallelism 2 in every run (the window aggregate as 2 keyed subtasks
// behind the exchange; 2 source subtasks, one of them without partition).
func TestHopLateKillExchange(t *testing.T) {
	lateWindowAgg(t, 93, []int{2}, "id * 10", linearTS, hopSQL, slicing(50, hop3s), hop3s)
}

// cumulate3s lists the CUMULATE windows of step 1 s and size 3 s holding event time ts.
func cumulate3s(ts int64) [][2]int64 {
	var ws [][2]int64
	start := floorDiv(ts, 3000) * 3000
	for e := start + 1000; e <= start+3000; e += 1000 {
		if ts < e {
			ws = append(ws, [2]int64{start, e})
		}
	}
	return ws
}

// TestCumulateLateKill: CUMULATE windows of step 1 s and size 3 s over out-of-order orders with late ones,
// at parallelism 1.
func TestCumulateLateKill(t *testing.T) {
	lateWindowAgg(t, 91, []int{1}, "id * 10", linearTS,
		`CUMULATE(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '3' SECOND)`, slicing(50, cumulate3s), cumulate3s)
}

// TestSessionLateKill: SESSION windows (gap 2 s) per user over out-of-order orders with late ones (event
// times of sessionTS: a user's orders are 500 ms apart within a block of 1000 orders, ±700 ms, and blocks are
// more than 5 s apart). A late order lies in an earlier block's time, where its user's session closed long
// ago; dropping it may shorten a session. At parallelism 1 only: above it, a late order read before the
// watermark moves would be counted, extending or merging sessions (TestSessionKill kills sessions at
// parallelism 2, 1 and 3 over input without late rows).
func TestSessionLateKill(t *testing.T) {
	const users, gap = 50, 2000
	lateWindowAgg(t, 92, []int{1}, "id * 10 + (id - MOD(id, 1000)) * 5", sessionTS,
		`SESSION(TABLE orders PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '2' SECOND)`,
		func(total int, ts func(int) int64, late func(int) bool) map[winKey]*winAgg {
			per := make([][]int, users)
			for i := 0; i < total; i++ {
				if !late(i) {
					per[i%users] = append(per[i%users], i)
				}
			}
			m := map[winKey]*winAgg{}
			for u, ids := range per {
				sort.Slice(ids, func(a, b int) bool { return ts(ids[a]) < ts(ids[b]) })
				for j := 0; j < len(ids); {
					a := &winAgg{}
					start, end := ts(ids[j]), ts(ids[j])+gap
					for ; j < len(ids) && ts(ids[j]) <= end; j++ { // windows that touch merge, as in Flink
						a.add(ids[j])
						end = max(end, ts(ids[j])+gap)
					}
					m[winKey{u, start, end}] = a
				}
			}
			return m
		}, nil)
}
