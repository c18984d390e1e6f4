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

// A regular join as a scale-out job (scaleout_join.go): orders JOIN shipments ON id = order_id, both
// insert-only kafka tables, into an append kafka table.

// produceShipments writes one shipment per order id in ids ({"order_id", "carrier": "c<id % 3>"}).
func produceShipments(t *testing.T, addr string, ids ...int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for _, i := range ids {
		recs = append(recs, &kgo.Record{Topic: "shipments", Value: fmt.Appendf(nil, `{"order_id":%d,"carrier":"c%d"}`, i, i%3)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func span(from, to int) []int {
	var ids []int
	for i := from; i < to; i++ {
		ids = append(ids, i)
	}
	return ids
}

// readShipped reads the kafka topic 'shipped' (read_committed) as a multiset of "id/user/carrier".
func readShipped(t *testing.T, addr string) map[string]int {
	got := map[string]int{}
	for _, r := range readCommitted(t, addr, "shipped") {
		var v struct {
			ID      int64  `json:"id"`
			UserID  int64  `json:"user_id"`
			Carrier string `json:"carrier"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable value %q", r.Value)
		}
		got[fmt.Sprintf("%d/%d/%s", v.ID, v.UserID, v.Carrier)]++
	}
	return got
}

// TestScaleOutJoinMembersInProcess: two in-process members run the join, the second joining while the
// first runs. Shipments come before and after their orders, and after the rebalance many arrive for orders
// whose join state was built before it (they only match through the state restored from the join's
// changelog). Read with read_committed, the sink holds each joined row exactly once.
func TestScaleOutJoinMembersInProcess(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const users = 20
	produceOrders(t, addr, 0, 2000, users)
	shipped := span(0, 500)
	produceShipments(t, addr, shipped...)
	script := scaleOutTestScript(addr,
		`CREATE TABLE shipments (order_id BIGINT, carrier STRING) WITH (
  'connector' = 'kafka', 'topic' = 'shipments', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json')`,
		`CREATE TABLE shipped (id BIGINT, user_id BIGINT, carrier STRING) WITH (
  'connector' = 'kafka', 'topic' = 'shipped', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json')`,
		`INSERT INTO shipped SELECT o.id, o.user_id, s.carrier FROM orders o JOIN shipments s ON o.id = s.order_id WHERE o.amount >= 0`)
	want := func(orders int, ships []int) map[string]int {
		w := map[string]int{}
		for _, i := range ships {
			if i < orders {
				w[fmt.Sprintf("%d/%d/c%d", i, i%users, i%3)]++
			}
		}
		return w
	}
	check := func(what string, orders int, outs ...*syncBuffer) {
		t.Helper()
		var got map[string]int
		w := want(orders, shipped)
		if !waitUntil(30*time.Second, func() bool { got = readShipped(t, addr); return fmt.Sprint(got) == fmt.Sprint(w) }) {
			var diff []string
			for k, n := range w {
				if got[k] != n && len(diff) < 10 {
					diff = append(diff, fmt.Sprintf("%s: %d times, want %d", k, got[k], n))
				}
			}
			for k, n := range got {
				if w[k] == 0 && len(diff) < 20 {
					diff = append(diff, fmt.Sprintf("%s: %d times, want none", k, n))
				}
			}
			var texts []string
			for _, o := range outs {
				texts = append(texts, o.String())
			}
			t.Fatalf("%s: %d rows, want %d: %s\n%s", what, len(got), len(w), strings.Join(diff, "; "), strings.Join(texts, "\n---\n"))
		}
	}
	a, aOut := startTestMember(t, script)
	check("one member", 2000, aOut)
	b, bOut := startTestMember(t, script)
	orders, next := 2000, 500
	for !strings.Contains(bOut.String(), "restored partitions") {
		if orders > 20000 {
			t.Fatalf("the second member did not join:\n%s", bOut)
		}
		// A shipment before its order (matched from the right side's state), and one for an old order.
		produceShipments(t, addr, orders+100, next)
		shipped = append(shipped, orders+100, next)
		produceOrders(t, addr, orders, 200, users)
		orders, next = orders+200, next+1
		time.Sleep(300 * time.Millisecond)
	}
	// Shipments of the early orders (their rows are in the restored state) and a second shipment of some.
	produceShipments(t, addr, span(next, 2000)...)
	produceShipments(t, addr, span(0, 100)...)
	shipped = append(append(shipped, span(next, 2000)...), span(0, 100)...)
	check("two members", orders, aOut, bOut)
	if a.Metrics().RowsOut == 0 || b.Metrics().RowsOut == 0 {
		t.Fatalf("rows out %d and %d: both members should have joined rows\n%s\n---\n%s", a.Metrics().RowsOut, b.Metrics().RowsOut, aOut, bOut)
	}
	var total int
	for _, n := range want(orders, shipped) {
		total += n
	}
	if !waitUntil(10*time.Second, func() bool { return a.Metrics().RowsOut+b.Metrics().RowsOut == int64(total) }) {
		t.Fatalf("rows out %d+%d, want %d", a.Metrics().RowsOut, b.Metrics().RowsOut, total)
	}
}

// TestScaleOutLeftJoinInProcess: a LEFT JOIN into upsert-kafka keyed by the join key, with two members, the
// second joining mid-run; shipments of orders seen before the rebalance arrive after it. The compacted
// output has every order, with its carrier when shipped and NULL otherwise: a restored partition knows
// which orders had no match yet (their NULL-padded rows are retracted when the shipment comes).
func TestScaleOutLeftJoinInProcess(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const users = 20
	produceOrders(t, addr, 0, 1000, users)
	script := scaleOutTestScript(addr,
		`SET 'table.exec.sink.upsert-materialize' = 'NONE'`,
		`CREATE TABLE shipments (order_id BIGINT, carrier STRING) WITH (
  'connector' = 'kafka', 'topic' = 'shipments', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json')`,
		`CREATE TABLE status (id BIGINT, carrier STRING, PRIMARY KEY (id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'status', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json')`,
		`INSERT INTO status SELECT o.id, s.carrier FROM orders o LEFT JOIN shipments s ON o.id = s.order_id`)
	read := func() map[int64]string {
		got := map[int64]string{}
		for _, r := range readCommitted(t, addr, "status") {
			var k struct {
				ID int64 `json:"id"`
			}
			var v struct {
				Carrier *string `json:"carrier"`
			}
			if json.Unmarshal(r.Key, &k) != nil || (r.Value != nil && json.Unmarshal(r.Value, &v) != nil) {
				t.Fatalf("unreadable record %q %q", r.Key, r.Value)
			}
			switch {
			case r.Value == nil:
				delete(got, k.ID)
			case v.Carrier == nil:
				got[k.ID] = "NULL"
			default:
				got[k.ID] = *v.Carrier
			}
		}
		return got
	}
	shipped := map[int]bool{}
	want := func(orders int) map[int64]string {
		w := map[int64]string{}
		for i := range orders {
			w[int64(i)] = "NULL"
			if shipped[i] {
				w[int64(i)] = fmt.Sprintf("c%d", i%3)
			}
		}
		return w
	}
	check := func(what string, orders int, outs ...*syncBuffer) {
		t.Helper()
		var got map[int64]string
		w := want(orders)
		if !waitUntil(30*time.Second, func() bool { got = read(); return fmt.Sprint(got) == fmt.Sprint(w) }) {
			var diff []string
			for k, v := range w {
				if got[k] != v && len(diff) < 10 {
					diff = append(diff, fmt.Sprintf("%d: %q, want %q", k, got[k], v))
				}
			}
			var texts []string
			for _, o := range outs {
				texts = append(texts, o.String())
			}
			t.Fatalf("%s: %d ids, want %d: %s\n%s", what, len(got), len(w), strings.Join(diff, "; "), strings.Join(texts, "\n---\n"))
		}
	}
	ship := func(ids ...int) {
		produceShipments(t, addr, ids...)
		for _, i := range ids {
			shipped[i] = true
		}
	}
	ship(span(0, 200)...)
	a, aOut := startTestMember(t, script)
	check("one member", 1000, aOut)
	b, bOut := startTestMember(t, script)
	orders := 1000
	for !strings.Contains(bOut.String(), "restored partitions") {
		if orders > 20000 {
			t.Fatalf("the second member did not join:\n%s", bOut)
		}
		produceOrders(t, addr, orders, 100, users)
		orders += 100
		time.Sleep(300 * time.Millisecond)
	}
	ship(span(200, 900)...)
	check("two members", orders, aOut, bOut)
	if a.Metrics().RowsOut == 0 || b.Metrics().RowsOut == 0 {
		t.Fatalf("rows out %d and %d: both members should have joined rows", a.Metrics().RowsOut, b.Metrics().RowsOut)
	}
}
