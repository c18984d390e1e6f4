package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Stateless scale-out plans: kafka scans (a UNION ALL of them here) -> Calcs -> a kafka sink. No internal
// topics; each member reads its source partitions and writes the sink in the transactions that commit them.

// produceRefunds writes refunds id from..from+n-1 ({"id", "user_id": id % users, "amount": id % 5}).
func produceRefunds(t *testing.T, addr string, from, n, users int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Topic: "refunds", Key: []byte(fmt.Sprint(i)),
			Value: fmt.Appendf(nil, `{"id":%d,"user_id":%d,"amount":%d}`, i, i%users, i%5)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

const scaleOutUnionInsert = `INSERT INTO copy
  SELECT id, user_id, amount * 10 FROM orders WHERE amount > 2
  UNION ALL SELECT id, user_id, -amount FROM refunds
  UNION ALL SELECT id, user_id, 1000 FROM orders WHERE user_id = 7`

// scaleOutUnionWant is the multiset of rows scaleOutUnionInsert writes for orders 0..orders-1 and refunds
// 0..refunds-1 (users as in produceOrders / produceRefunds).
func scaleOutUnionWant(orders, refunds, users int) map[[3]int64]int {
	want := map[[3]int64]int{}
	for i := range orders {
		if i%7 > 2 {
			want[[3]int64{int64(i), int64(i % users), int64(i%7) * 10}]++
		}
		if i%users == 7 {
			want[[3]int64{int64(i), 7, 1000}]++
		}
	}
	for i := range refunds {
		want[[3]int64{int64(i), int64(i % users), -int64(i % 5)}]++
	}
	return want
}

// readCopy reads the kafka topic 'copy' (read_committed) as a multiset of rows.
func readCopy(t *testing.T, addr string) (map[[3]int64]int, int) {
	got := map[[3]int64]int{}
	recs := readCommitted(t, addr, "copy")
	for _, r := range recs {
		var v struct {
			ID     int64 `json:"id"`
			UserID int64 `json:"user_id"`
			Amount int64 `json:"amount"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable value %q", r.Value)
		}
		got[[3]int64{v.ID, v.UserID, v.Amount}]++
	}
	return got, len(recs)
}

// multisetDiff describes how got differs from want (empty when equal).
func multisetDiff(got, want map[[3]int64]int) string {
	var b strings.Builder
	n := 0
	for k, w := range want {
		if g := got[k]; g != w && n < 10 {
			fmt.Fprintf(&b, "%v: %d times, want %d; ", k, g, w)
			n++
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok && n < 10 {
			fmt.Fprintf(&b, "%v: %d times, want none; ", k, g)
			n++
		}
	}
	return b.String()
}

// TestScaleOutStatelessMembersInProcess: two in-process members run a UNION ALL of two kafka tables (one of
// them scanned twice) with filters and projections into an append kafka sink, the second member joining
// while the first runs. Read with read_committed, the sink holds every expected row exactly once (no loss,
// no duplicate from the rebalance's aborted transactions); the members' rows in add up to the rows the
// three scans decoded and their rows out to the sink's rows.
func TestScaleOutStatelessMembersInProcess(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const users = 20
	orders, refunds := 2000, 500
	produceOrders(t, addr, 0, orders, users)
	produceRefunds(t, addr, 0, refunds, users)
	script := scaleOutTestScript(addr,
		strings.ReplaceAll(scaleOutOrdersDDL, "orders", "refunds"),
		`CREATE TABLE copy (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'copy', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json')`,
		scaleOutUnionInsert)
	a, aOut := startTestMember(t, script)
	if !waitUntil(10*time.Second, func() bool {
		return strings.Contains(aOut.String(), "a stateless plan (no repartition or changelog topic")
	}) {
		t.Fatalf("the member does not run a stateless plan:\n%s", aOut)
	}
	var got map[[3]int64]int
	var diff string
	if !waitUntil(30*time.Second, func() bool {
		got, _ = readCopy(t, addr)
		diff = multisetDiff(got, scaleOutUnionWant(orders, refunds, users))
		return diff == ""
	}) {
		t.Fatalf("one member: %s\n%s", diff, aOut)
	}
	b, bOut := startTestMember(t, script)
	// Rows keep coming until the second member has committed rows of its own, then more.
	for b.Metrics().RowsIn == 0 {
		if orders > 20000 {
			t.Fatalf("the second member did not join:\n%s", bOut)
		}
		produceOrders(t, addr, orders, 200, users)
		produceRefunds(t, addr, refunds, 50, users)
		orders, refunds = orders+200, refunds+50
		time.Sleep(300 * time.Millisecond)
	}
	produceOrders(t, addr, orders, 1000, users)
	produceRefunds(t, addr, refunds, 300, users)
	orders, refunds = orders+1000, refunds+300
	want := scaleOutUnionWant(orders, refunds, users)
	if !waitUntil(30*time.Second, func() bool {
		got, _ = readCopy(t, addr)
		diff = multisetDiff(got, want)
		return diff == ""
	}) {
		t.Fatalf("two members: %s\n%s\n---\n%s", diff, aOut, bOut)
	}
	wantOut := int64(0)
	for _, n := range want {
		wantOut += int64(n)
	}
	wantIn := int64(2*orders + refunds) // orders is scanned twice
	var in, out int64
	if !waitUntil(10*time.Second, func() bool {
		ma, mb := a.Metrics(), b.Metrics()
		in, out = ma.RowsIn+mb.RowsIn, ma.RowsOut+mb.RowsOut
		return in == wantIn && out == wantOut
	}) {
		t.Fatalf("rows in %d (want %d), rows out %d (want %d)\n%s\n---\n%s", in, wantIn, out, wantOut, aOut, bOut)
	}
	if _, n := readCopy(t, addr); int64(n) != wantOut {
		t.Fatalf("%d records in 'copy', want %d", n, wantOut)
	}
	t.Logf("rows in %d+%d, rows out %d+%d", a.Metrics().RowsIn, b.Metrics().RowsIn, a.Metrics().RowsOut, b.Metrics().RowsOut)
}
