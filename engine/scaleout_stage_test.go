package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A scale-out job with two keyed stages (scaleout_stage.go): a histogram, GROUP BY over GROUP BY.

// histUser is the user of order i: skewed, so that users have different counts and the histogram moves
// (a user's count leaving one bucket retracts it there).
func histUser(i int) int { return (i % 7) * (i % 11) }

// produceHistOrders writes orders from..from+n-1 ({"id", "user_id": histUser(id), "amount": id % 5}).
func produceHistOrders(t *testing.T, addr string, from, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Topic: "orders", Key: []byte(fmt.Sprint(i)),
			Value: fmt.Appendf(nil, `{"id":%d,"user_id":%d,"amount":%d}`, i, histUser(i), i%5)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// wantHist is the histogram of the first n orders: per order count, the users with that many orders.
func wantHist(n int) map[int64]int64 {
	per := map[int]int64{}
	for i := range n {
		per[histUser(i)]++
	}
	h := map[int64]int64{}
	for _, c := range per {
		h[c]++
	}
	return h
}

// histDDL is an upsert-kafka table of the histogram on topic.
func histDDL(name, topic string) string {
	return fmt.Sprintf(`CREATE TABLE %s (cnt BIGINT, users BIGINT, PRIMARY KEY (cnt) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = '%s', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json')`, name, topic)
}

// histInsert is the two-level query into sink.
func histInsert(sink string) string {
	return `INSERT INTO ` + sink + ` SELECT cnt, COUNT(*) FROM (SELECT user_id, COUNT(*) AS cnt FROM orders GROUP BY user_id) GROUP BY cnt`
}

// readHist reads the compacted view of the upsert-kafka histogram topic (read_committed).
func readHist(t *testing.T, addr, topic string) map[int64]int64 {
	return readCompacted(t, addr, topic, func(k struct{ Cnt int64 }) int64 { return k.Cnt },
		func(v struct{ Users int64 }) int64 { return v.Users })
}

// TestScaleOutTwoStagesMembersInProcess: a histogram (GROUP BY cnt over GROUP BY user_id) runs as two keyed
// stages. Member A runs alone, member B joins while orders come (both stages' partitions move: B restores
// them from both changelogs) and leaves again (A restores B's). Throughout, the compacted histogram equals
// the one computed from the input and the one a P=1 job of the same query writes, so the second
// aggregate took the first's retractions (a bucket a user left loses it; an emptied bucket is deleted).
func TestScaleOutTwoStagesMembersInProcess(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const cl2 = "totals-job-agg2-changelog"
	produceHistOrders(t, addr, 0, 3000)
	script := scaleOutTestScript(addr, `SET 'metrics.reporter.prom.port' = '0'`, histDDL("hist", "hist"), histInsert("hist"))
	single := strings.ReplaceAll(strings.Join([]string{scaleOutOrdersDDL, histDDL("hist1", "hist1"), histInsert("hist1")}, ";\n")+";\n", "ADDR", addr)
	_, pOut := startTestMember(t, single) // P=1: no scale-out option
	a, aOut := startTestMember(t, script)
	n := 3000
	check := func(what string, outs ...*syncBuffer) {
		t.Helper()
		waitScaleOutAndP1(t, addr, "hist", "hist1", readHist, fmt.Sprint(wantHist(n)), what, outs, pOut)
	}
	check("one member", aOut)
	if !strings.Contains(aOut.String(), "two keyed stages, internal topics 'totals-job-agg-repartition', 'totals-job-agg-changelog', 'totals-job-agg2-repartition' and '"+cl2+"'") {
		t.Fatalf("member A did not announce two stages:\n%s", aOut)
	}

	b, bOut := startTestMember(t, script)
	for !strings.Contains(bOut.String(), "from '"+cl2+"'") {
		if n > 30000 {
			t.Fatalf("the second member did not restore a second-stage partition:\n%s", bOut)
		}
		produceHistOrders(t, addr, n, 300)
		n += 300
		time.Sleep(300 * time.Millisecond)
	}
	produceHistOrders(t, addr, n, 2000)
	n += 2000
	check("two members", aOut, bOut)
	if b.Metrics().RowsOut == 0 {
		t.Fatalf("member B wrote no histogram row:\n%s", bOut)
	}

	leaveGroup(t, b, addr, "totals-job", "totals-job-agg2-repartition", 8, aOut)
	produceHistOrders(t, addr, n, 2000)
	n += 2000
	check("member A after B left", aOut, bOut)
	if k, parts := groupMembers(t, addr, "totals-job", "totals-job-agg2-repartition"); k != 1 || len(parts[firstKey(parts)]) != 8 {
		t.Fatalf("member A owns second-stage partitions %v", parts)
	}
	checkStageKept(t, a, 2, aOut) // A kept its own second-stage partitions over B's join and leave
	checkStagePrometheus(t, a, aOut)
	t.Logf("orders %d, histogram buckets %d; A rows out %d", n, len(wantHist(n)), a.Metrics().RowsOut)
}

// TestScaleOutJoinThenGroupByInProcess: a GROUP BY over a regular join (inner, and LEFT, whose NULL-padded
// rows are retracted when their shipment comes) runs as two keyed stages, the join's output going through
// '<name>-agg2-repartition'. Member A runs alone, member B joins mid-run while orders and shipments come
// (shipments of old orders only match through restored join state); the compacted totals per user equal
// those computed from the input.
func TestScaleOutJoinThenGroupByInProcess(t *testing.T) {
	for _, kind := range []string{"JOIN", "LEFT JOIN"} {
		t.Run(kind, func(t *testing.T) {
			addr := scaleOutTestBroker(t)
			const users = 20
			produceOrders(t, addr, 0, 2000, users)
			shipped := span(0, 500)
			produceShipments(t, addr, shipped...)
			script := scaleOutTestScript(addr,
				`CREATE TABLE shipments (order_id BIGINT, carrier STRING) WITH (
  'connector' = 'kafka', 'topic' = 'shipments', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json')`, scaleOutTotalsDDL,
				`INSERT INTO totals SELECT o.user_id, COUNT(s.carrier), SUM(o.amount) FROM orders o `+kind+` shipments s ON o.id = s.order_id GROUP BY o.user_id`)
			// want: per user, the shipments of its orders and the amounts of the join's rows (an order without a
			// shipment is one NULL-padded row in a LEFT JOIN, none in an inner one).
			want := func(orders int, ships []int) map[int64]testTotal {
				per := map[int]int{}
				for _, i := range ships {
					per[i]++
				}
				w := map[int64]testTotal{}
				for i := range orders {
					rows := per[i]
					if rows == 0 && kind == "LEFT JOIN" {
						rows = 1
					}
					if rows == 0 {
						continue
					}
					tt := w[int64(i%users)]
					tt.Cnt += int64(per[i])
					tt.Total += int64(rows * (i % 7))
					w[int64(i%users)] = tt
				}
				return w
			}
			check := func(what string, orders int, outs ...*syncBuffer) {
				t.Helper()
				w := fmt.Sprint(want(orders, shipped))
				var got map[int64]testTotal
				if !waitUntil(40*time.Second, func() bool { got = readTotals(t, addr); return fmt.Sprint(got) == w }) {
					t.Fatalf("%s: got %v, want %v\n%s", what, got, w, outs)
				}
			}
			_, aOut := startTestMember(t, script)
			check("one member", 2000, aOut)
			b, bOut := startTestMember(t, script)
			orders, next := 2000, 500
			for !strings.Contains(bOut.String(), "from 'totals-job-agg2-changelog'") {
				if orders > 20000 {
					t.Fatalf("the second member did not restore a second-stage partition:\n%s", bOut)
				}
				produceShipments(t, addr, orders+100, next)
				shipped = append(shipped, orders+100, next)
				produceOrders(t, addr, orders, 200, users)
				orders, next = orders+200, next+1
				time.Sleep(300 * time.Millisecond)
			}
			produceShipments(t, addr, span(next, 2000)...)
			produceShipments(t, addr, span(0, 100)...)
			shipped = append(append(shipped, span(next, 2000)...), span(0, 100)...)
			check("two members", orders, aOut, bOut)
			if b.Metrics().RowsOut == 0 {
				t.Fatalf("member B wrote no total:\n%s", bOut)
			}
		})
	}
}

// waitScaleOutAndP1 waits until both the scale-out job's sink topic and the P=1 job's (p1Topic), read with
// read, print as want; else it fails naming what was checked, with the members' and the P=1 job's output.
func waitScaleOutAndP1[V any](t *testing.T, addr, topic, p1Topic string, read func(*testing.T, string, string) V, want, what string, outs []*syncBuffer, pOut *syncBuffer) {
	t.Helper()
	var got, gotP V
	if !waitUntil(40*time.Second, func() bool {
		got, gotP = read(t, addr, topic), read(t, addr, p1Topic)
		return fmt.Sprint(got) == want && fmt.Sprint(gotP) == want
	}) {
		t.Fatalf("%s: scale-out %v, P=1 %v, want %v\n%s\n---\n%s", what, got, gotP, want, outs, pOut)
	}
}
