package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A later stage's Top-N over an insert-only input (scaleout_stage_rank_append.go): orders JOIN users (both
// insert-only scans: the join's output is insert-only) ranked per user. Each user's orders are produced to
// one source partition in order, the join and the Top-N are keyed by the user too, so a user's join rows
// reach its Top-N in the order they were produced: the expected result, ties by arrival included, is
// computed from the input.

// tieUsers is the number of users of the tie tests.
const tieUsers = 40

// tieOrder is order i of the tie tests: a user, and an amount that grows slowly (every six orders of a
// user) with a jitter of 0..2, so that a user's top three change often and often hold equal amounts.
func tieOrder(i int) (user, amount int) {
	return i % tieUsers, i/(tieUsers*6) + int((uint32(i)*2654435761)>>13)%3
}

const tieUsersDDL = `CREATE TABLE users (id BIGINT, name STRING) WITH (
  'connector' = 'kafka', 'topic' = 'users', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json')`

// produceTieRecords writes the records of topic, each keyed by key (all of one key go to one partition, in
// order).
func produceTieRecords(t *testing.T, addr, topic string, n int, rec func(i int) (key int, value string)) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range n {
		k, v := rec(i)
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Append(nil, k), Value: []byte(v)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// produceTieOrders writes orders from..from+n-1 of tieOrder, keyed by user.
func produceTieOrders(t *testing.T, addr string, from, n int) {
	produceTieRecords(t, addr, "orders", n, func(i int) (int, string) {
		u, a := tieOrder(from + i)
		return u, fmt.Sprintf(`{"id":%d,"user_id":%d,"amount":%d}`, from+i, u, a)
	})
}

// tieTopInsert is the three largest amounts per user (ties in arrival order) over orders JOIN users, into
// sink (shipTopDDL's columns).
func tieTopInsert(sink string) string {
	return `INSERT INTO ` + sink + ` SELECT user_id, rn, id, amount FROM (
  SELECT o.id, o.user_id, o.amount, u.name, ROW_NUMBER() OVER (PARTITION BY o.user_id ORDER BY o.amount DESC) AS rn
  FROM orders o JOIN users u ON o.user_id = u.id) WHERE rn <= 3`
}

// wantTieTop is tieTopInsert's result over orders 0..n-1: per user, its orders in arrival order sorted
// stably by amount descending, the first three.
func wantTieTop(n int) map[rankKey][2]int64 {
	per := map[int64][][2]int64{}
	for i := range n {
		u, a := tieOrder(i)
		per[int64(u)] = append(per[int64(u)], [2]int64{int64(i), int64(a)})
	}
	w := map[rankKey][2]int64{}
	for u, rows := range per {
		slices.SortStableFunc(rows, func(a, b [2]int64) int { return int(b[1] - a[1]) })
		for r, row := range rows[:min(3, len(rows))] {
			w[rankKey{u, int64(r + 1)}] = row
		}
	}
	return w
}

// liveEntries counts the keys of changelog topic cl whose last committed record is not a tombstone, and its
// committed records.
func liveEntries(t *testing.T, addr, cl string) (live, records int) {
	last := map[string]bool{}
	recs := readCommitted(t, addr, cl)
	for _, r := range recs {
		last[string(r.Key)] = r.Value != nil
	}
	for _, ok := range last {
		if ok {
			live++
		}
	}
	return live, len(recs)
}

// startTieJob produces the users, starts member A and waits until it has read them (so that every order
// meets its user in the join when it arrives), and returns the member script.
func startTieJob(t *testing.T, addr string, stmts ...string) (string, *Job, *syncBuffer) {
	produceTieRecords(t, addr, "users", tieUsers, func(i int) (int, string) { return i, fmt.Sprintf(`{"id":%d,"name":"u%d"}`, i, i) })
	script := scaleOutTestScript(addr, append([]string{tieUsersDDL}, stmts...)...)
	a, aOut := startTestMember(t, script)
	if !waitUntil(30*time.Second, func() bool { return a.Metrics().RowsIn == tieUsers }) {
		t.Fatalf("member A read %d users, want %d\n%s", a.Metrics().RowsIn, tieUsers, aOut)
	}
	return script, a, aOut
}

// runTieMembers drives the members of a tie test: A alone, B joins while orders come (until B restored a
// partition of changelog topic cl), B is cancelled while orders come, B starts again while orders come;
// check is called with the orders produced after each phase.
func runTieMembers(t *testing.T, addr, script, cl string, aOut *syncBuffer, check func(what string, n int, outs ...*syncBuffer)) int {
	n := 0
	more := func(k int) {
		produceTieOrders(t, addr, n, k)
		n += k
	}
	more(3000)
	check("one member", n, aOut)
	b, bOut := startTestMember(t, script)
	for !strings.Contains(bOut.String(), "from '"+cl+"'") {
		if n > 40000 {
			t.Fatalf("the second member did not restore a partition of '%s':\n%s", cl, bOut)
		}
		more(400)
		time.Sleep(300 * time.Millisecond)
	}
	more(2000)
	check("two members", n, aOut, bOut)
	b.Cancel()
	for range 5 {
		more(400)
		time.Sleep(200 * time.Millisecond)
	}
	check("member A after B was cancelled", n, aOut, bOut)
	_, b2Out := startTestMember(t, script)
	for !strings.Contains(b2Out.String(), "from '"+cl+"'") {
		if n > 80000 {
			t.Fatalf("the restarted member did not restore a partition of '%s':\n%s", cl, b2Out)
		}
		more(400)
		time.Sleep(300 * time.Millisecond)
	}
	more(2000)
	check("member B restarted", n, aOut, b2Out)
	return n
}

// TestScaleOutTopNOverInsertOnlyJoin: a Top-N over an INNER join of two insert-only scans keeps only its top
// rows: its changelog topic's live entries are exactly the result's rows (three per user), not every join
// row. Member B joins, is cancelled and starts again while orders come, so Top-N partitions are restored
// (by B and by A) in the middle of runs of equal amounts; the result, ties in arrival order, equals the one
// computed from the input throughout, so a restore that does not give the Rank the rows in the order the
// sink numbered them fails it.
func TestScaleOutTopNOverInsertOnlyJoin(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const cl = "totals-job-rank2-changelog"
	script, _, aOut := startTieJob(t, addr, shipTopDDL("top", "top"), tieTopInsert("top"))
	if !strings.Contains(aOut.String(), "two keyed stages") {
		t.Fatalf("member A did not announce two stages:\n%s", aOut)
	}
	check := func(what string, n int, outs ...*syncBuffer) {
		t.Helper()
		want := wantTieTop(n)
		var got map[rankKey][2]int64
		if !waitUntil(40*time.Second, func() bool { got = readShipTop(t, addr, "top"); return fmt.Sprint(got) == fmt.Sprint(want) }) {
			t.Fatalf("%s: got %v\nwant %v\n%s", what, got, want, outs)
		}
		live, recs := liveEntries(t, addr, cl)
		t.Logf("%s: orders %d, '%s' live entries %d, records %d", what, n, cl, live, recs)
		if live != len(want) {
			t.Fatalf("%s: '%s' holds %d live entries, want %d (the result's rows: three per user)", what, cl, live, len(want))
		}
	}
	n := runTieMembers(t, addr, script, cl, aOut, check)
	t.Logf("orders %d", n)
}

// tieHistInsert is the GROUP BY amount over tieTopInsert's Top-N: per amount, how many of the users' top
// three rows have it and the sum of their users.
func tieHistInsert(sink string) string {
	return `INSERT INTO ` + sink + ` SELECT amount, COUNT(*), SUM(user_id) FROM (
  SELECT o.id, o.user_id, o.amount, u.name, ROW_NUMBER() OVER (PARTITION BY o.user_id ORDER BY o.amount DESC) AS rn
  FROM orders o JOIN users u ON o.user_id = u.id) WHERE rn <= 3 GROUP BY amount`
}

// TestScaleOutGroupByOverTopNOverJoin: a GROUP BY over a Top-N over a regular join runs as three keyed
// stages (join, Top-N, GROUP BY: '-join-', '-rank2-', '-agg3-' topics), the Top-N's changes going on to the
// GROUP BY. Member B joins, is cancelled and starts again while orders come; the result equals the one
// computed from the input throughout.
func TestScaleOutGroupByOverTopNOverJoin(t *testing.T) {
	addr := scaleOutTestBroker(t)
	totals := strings.ReplaceAll(scaleOutTotalsDDL, "user_id BIGINT", "amount BIGINT")
	totals = strings.ReplaceAll(totals, "PRIMARY KEY (user_id)", "PRIMARY KEY (amount)")
	script, _, aOut := startTieJob(t, addr, totals, tieHistInsert("totals"))
	if !strings.Contains(aOut.String(), "three keyed stages, internal topics 'totals-job-join-repartition', 'totals-job-join-changelog', 'totals-job-rank2-repartition', 'totals-job-rank2-changelog', 'totals-job-agg3-repartition' and 'totals-job-agg3-changelog'") {
		t.Fatalf("member A did not announce three stages:\n%s", aOut)
	}
	read := func() map[int64]testTotal {
		return readCompacted(t, addr, "totals", func(k struct{ Amount int64 }) int64 { return k.Amount },
			func(v testTotal) testTotal { return v })
	}
	check := func(what string, n int, outs ...*syncBuffer) {
		t.Helper()
		want := map[int64]testTotal{}
		for k, v := range wantTieTop(n) {
			tt := want[v[1]]
			tt.Cnt++
			tt.Total += k.User
			want[v[1]] = tt
		}
		var got map[int64]testTotal
		if !waitUntil(40*time.Second, func() bool { got = read(); return fmt.Sprint(got) == fmt.Sprint(want) }) {
			t.Fatalf("%s: got %v\nwant %v\n%s", what, got, want, outs)
		}
	}
	n := runTieMembers(t, addr, script, "totals-job-rank2-changelog", aOut, check)
	t.Logf("orders %d", n)
}
