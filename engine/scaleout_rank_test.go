package engine

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A Top-N and deduplication as scale-out jobs (scaleout_rank.go): ROW_NUMBER() OVER (PARTITION BY user_id
// ...) over the orders of scaleout_member_test.go, into upsert-kafka tables keyed as the planner keys the
// Top-N's output (no upsert materializer).

// rankSinkDDL is an upsert-kafka table keyed by (user_id, rn) for a Top-N's rows.
func rankSinkDDL(name string) string {
	return `CREATE TABLE ` + name + ` (user_id BIGINT, rn BIGINT, id BIGINT, amount BIGINT, PRIMARY KEY (user_id, rn) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = '` + name + `', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json')`
}

// top3Insert writes each user's three orders of the highest amount (the lowest id first among equal
// amounts: the order is total, so the result does not depend on the order rows arrive in).
func top3Insert(sink string) string {
	return `INSERT INTO ` + sink + ` SELECT user_id, rn, id, amount FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY amount DESC, id ASC) AS rn FROM orders) WHERE rn <= 3`
}

// wantTop3 is the Top-3 of orders 0..n-1 (user id % users, amount id % 7) as "user/rn" -> "id/amount".
func wantTop3(n, users int) map[string]string {
	by := map[int][]int{}
	for i := range n {
		by[i%users] = append(by[i%users], i)
	}
	want := map[string]string{}
	for u, ids := range by {
		sort.Slice(ids, func(a, b int) bool {
			if ids[a]%7 != ids[b]%7 {
				return ids[a]%7 > ids[b]%7
			}
			return ids[a] < ids[b]
		})
		for r := 0; r < 3 && r < len(ids); r++ {
			want[fmt.Sprintf("%d/%d", u, r+1)] = fmt.Sprintf("%d/%d", ids[r], ids[r]%7)
		}
	}
	return want
}

// readRanked reads the compacted view (read_committed) of an upsert-kafka table of rankSinkDDL as
// "user/rn" -> "id/amount".
func readRanked(t *testing.T, addr, topic string) map[string]string {
	return readCompacted(t, addr, topic, func(k struct {
		UserID int64 `json:"user_id"`
		RN     int64 `json:"rn"`
	}) string {
		return fmt.Sprintf("%d/%d", k.UserID, k.RN)
	}, func(v struct {
		ID     int64 `json:"id"`
		Amount int64 `json:"amount"`
	}) string {
		return fmt.Sprintf("%d/%d", v.ID, v.Amount)
	})
}

// restoredEntries adds up the entries of the member's "restored partitions" notices.
func restoredEntries(out string) int {
	n := 0
	for _, m := range regexp.MustCompile(`restored partitions \[[0-9 ]*\] from '[^']*' \(([0-9]+) entries\)`).FindAllStringSubmatch(out, -1) {
		k, _ := strconv.Atoi(m[1])
		n += k
	}
	return n
}

// TestScaleOutRankMembersInProcess: a Top-3 per user run by two in-process members, the second joining
// while the first runs (orders keep coming until it restored Top-N state from the changelog), and by a P=1
// job of the same query. The members' compacted output (read_committed) is exactly the true Top-3 of every
// user, row number by row number, and equals the P=1 job's.
func TestScaleOutRankMembersInProcess(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const users = 40
	produceOrders(t, addr, 0, 2000, users)
	script := scaleOutTestScript(addr, rankSinkDDL("top3"), top3Insert("top3"))
	single := strings.ReplaceAll(strings.Join([]string{scaleOutOrdersDDL, rankSinkDDL("top3_p1"), top3Insert("top3_p1")}, ";\n")+";\n", "ADDR", addr)
	_, aOut := startTestMember(t, script)
	startTestMember(t, single)
	want := wantTop3(2000, users)
	var got, got1 map[string]string
	if !waitUntil(30*time.Second, func() bool {
		got, got1 = readRanked(t, addr, "top3"), readRanked(t, addr, "top3_p1")
		return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
	}) {
		t.Fatalf("one member: scale-out %v\nP=1 %v\nwant %v\n%s", got, got1, want, aOut)
	}
	_, bOut := startTestMember(t, script)
	n := 2000
	for restoredEntries(bOut.String()) == 0 {
		if n > 20000 {
			t.Fatalf("the second member restored no Top-N state:\n%s", bOut)
		}
		produceOrders(t, addr, n, 200, users)
		n += 200
		time.Sleep(300 * time.Millisecond)
	}
	produceOrders(t, addr, n, 2000, users)
	n += 2000
	want = wantTop3(n, users)
	if !waitUntil(40*time.Second, func() bool {
		got, got1 = readRanked(t, addr, "top3"), readRanked(t, addr, "top3_p1")
		return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
	}) {
		t.Fatalf("two members: scale-out %v\nP=1 %v\nwant %v\n%s\n---\n%s", got, got1, want, aOut, bOut)
	}
	if len(want) != 3*users {
		t.Fatalf("the expected Top-3 has %d rows, want %d", len(want), 3*users)
	}
}

// TestScaleOutDedupKeepLastInProcess: deduplication keeping each user's last order (ORDER BY id DESC,
// rn = 1) into an upsert-kafka table keyed by user_id, across a restart of the only member (its state comes
// back from the changelog; without it the rows written again with lower ids would win): the compacted
// output is each user's highest id.
func TestScaleOutDedupKeepLastInProcess(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const users = 30
	produceOrders(t, addr, 0, 1000, users)
	script := scaleOutTestScript(addr, `CREATE TABLE last_order (user_id BIGINT, id BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'last_order', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json')`,
		`INSERT INTO last_order SELECT user_id, id FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY id DESC) AS rn FROM orders) WHERE rn = 1`)
	read := func() map[int64]int64 {
		got := map[int64]int64{}
		for _, r := range readCommitted(t, addr, "last_order") {
			var k, v struct {
				UserID int64 `json:"user_id"`
				ID     int64 `json:"id"`
			}
			_ = json.Unmarshal(r.Key, &k)
			if r.Value == nil {
				delete(got, k.UserID)
				continue
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("unreadable value %q", r.Value)
			}
			got[k.UserID] = v.ID
		}
		return got
	}
	want := func(n int) map[int64]int64 {
		w := map[int64]int64{}
		for i := n - users; i < n; i++ {
			w[int64(i%users)] = int64(i)
		}
		return w
	}
	a, aOut := startTestMember(t, script)
	var got map[int64]int64
	if !waitUntil(30*time.Second, func() bool { got = read(); return fmt.Sprint(got) == fmt.Sprint(want(1000)) }) {
		t.Fatalf("got %v\n%s", got, aOut)
	}
	a.Cancel()
	// A new member restores every partition; orders 1000..1014 (half the users) must replace the restored
	// rows, and orders 0..99 written again (lower ids than every restored row) must not replace any.
	_, bOut := startTestMember(t, script)
	produceOrders(t, addr, 1000, 15, users)
	produceOrders(t, addr, 0, 100, users)
	if !waitUntil(30*time.Second, func() bool { got = read(); return fmt.Sprint(got) == fmt.Sprint(want(1015)) }) {
		t.Fatalf("got %v\n%s", got, bOut)
	}
	if restoredEntries(bOut.String()) == 0 {
		t.Fatalf("the new member restored nothing:\n%s", bOut)
	}
}

// TestScaleOutDedupKeepFirstAppendInProcess: deduplication keeping each user's first order on processing
// time (ROW_NUMBER() ... ORDER BY a PROCTIME() attribute, rn = 1) is insert-only, as in Flink, so it writes
// an append kafka table. Two members, the second joining while orders for every user keep coming: read
// with read_committed, every user is written exactly once (the new owner of a partition restored its first
// rows from the changelog, so the later orders do not write a user again), with one of its own orders.
func TestScaleOutDedupKeepFirstAppendInProcess(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const users = 60
	produceOrders(t, addr, 0, 600, users)
	script := scaleOutTestScript(addr, `CREATE TEMPORARY VIEW orders_pt AS SELECT *, PROCTIME() AS pt FROM orders`,
		`CREATE TABLE firsts (user_id BIGINT, id BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'firsts', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json')`,
		`INSERT INTO firsts SELECT user_id, id FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY pt) AS rn FROM orders_pt) WHERE rn = 1`)
	read := func() (map[int64]int, string) {
		seen, bad := map[int64]int{}, ""
		for _, r := range readCommitted(t, addr, "firsts") {
			var v struct {
				UserID int64 `json:"user_id"`
				ID     int64 `json:"id"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("unreadable value %q", r.Value)
			}
			seen[v.UserID]++
			if v.ID%users != v.UserID && bad == "" {
				bad = string(r.Value)
			}
		}
		return seen, bad
	}
	once := func(seen map[int64]int) bool {
		for u := range int64(users) {
			if seen[u] != 1 {
				return false
			}
		}
		return len(seen) == users
	}
	a, aOut := startTestMember(t, script)
	var seen map[int64]int
	var bad string
	if !waitUntil(30*time.Second, func() bool { seen, bad = read(); return once(seen) }) {
		t.Fatalf("one member: %v\n%s", seen, aOut)
	}
	b, bOut := startTestMember(t, script)
	n := 600
	for restoredEntries(bOut.String()) == 0 {
		if n > 20000 {
			t.Fatalf("the second member restored no state:\n%s", bOut)
		}
		produceOrders(t, addr, n, 200, users)
		n += 200
		time.Sleep(300 * time.Millisecond)
	}
	produceOrders(t, addr, n, 1000, users)
	n += 1000
	// The members' rows in count the source rows of committed transactions: all of them are processed.
	if !waitUntil(30*time.Second, func() bool { return a.Metrics().RowsIn+b.Metrics().RowsIn == int64(n) }) {
		t.Fatalf("rows in %d + %d, want %d\n%s\n---\n%s", a.Metrics().RowsIn, b.Metrics().RowsIn, n, aOut, bOut)
	}
	if !waitUntil(30*time.Second, func() bool { seen, bad = read(); return once(seen) }) || bad != "" {
		t.Fatalf("two members: counts per user %v, wrong row %q\n%s\n---\n%s", seen, bad, aOut, bOut)
	}
}
