package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// A Top-N directly over a regular join (scaleout_stage_rank.go, cutScaleOutRankOverJoin): the join is stage
// 1 ('-join-' topics), the Top-N stage 2 ('-rank2-' topics).

// shipTopDDL is the upsert-kafka table of the Top-N over the join on topic, keyed by user and row number.
func shipTopDDL(name, topic string) string {
	return fmt.Sprintf(`CREATE TABLE %s (user_id BIGINT, rn BIGINT, id BIGINT, amount BIGINT, PRIMARY KEY (user_id, rn) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = '%s', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json')`, name, topic)
}

// shipTopInsert is the Top-N (the two largest amounts per user, the lower id first among equal ones) over
// the orders joined (kind: JOIN or LEFT JOIN) with their shipments, into sink. Two shipments of one order
// are two equal rows of the Top-N's output (the carrier is not written), so the order among them does not
// show.
func shipTopInsert(sink, kind string) string {
	return `INSERT INTO ` + sink + ` SELECT user_id, rn, id, amount FROM (
  SELECT o.id, o.user_id, o.amount, s.carrier, ROW_NUMBER() OVER (PARTITION BY o.user_id ORDER BY o.amount DESC, o.id) AS rn
  FROM orders o ` + kind + ` shipments s ON o.id = s.order_id) WHERE rn <= 2`
}

const shipmentsDDL = `CREATE TABLE shipments (order_id BIGINT, carrier STRING) WITH (
  'connector' = 'kafka', 'topic' = 'shipments', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json')`

// readShipTop reads the compacted view of the Top-N's topic (read_committed): (user, rn) -> (id, amount).
func readShipTop(t *testing.T, addr, topic string) map[rankKey][2]int64 {
	return readCompacted(t, addr, topic, func(k struct{ User_id, Rn int64 }) rankKey { return rankKey{k.User_id, k.Rn} },
		func(v struct{ Id, Amount int64 }) [2]int64 { return [2]int64{v.Id, v.Amount} })
}

// wantShipTop is the Top-N of produceOrders' orders 0..orders-1 of users users joined with the shipments
// ships (order ids): per user, the join's rows (one per shipment; a LEFT JOIN's order without one is one
// row) by amount descending, then id, the first two.
func wantShipTop(orders, users int, ships []int, left bool) map[rankKey][2]int64 {
	per := map[int]int{}
	for _, i := range ships {
		per[i]++
	}
	rows := map[int][][2]int64{} // user -> (id, amount) per join row
	for i := range orders {
		n := per[i]
		if n == 0 && left {
			n = 1
		}
		for range n {
			rows[i%users] = append(rows[i%users], [2]int64{int64(i), int64(i % 7)})
		}
	}
	return topTwo(rows)
}

// TestScaleOutTopNOverJoinInProcess: a ROW_NUMBER() Top-N directly over a regular join (inner, and LEFT,
// whose NULL-padded rows the Top-N gets retracted when their shipment comes) runs as two keyed stages.
// Member A runs alone, member B joins while orders and shipments come (B restores Top-N partitions from
// '-rank2-changelog') and leaves again (A restores B's, keeps its own). The first 500 orders' shipments hold
// every user's top rows (the largest amount, the lowest ids), so later rows enter a Top-N only when it was
// restored without them. Throughout, the compacted result equals the one computed from the input and the
// one a P=1 job of the same query writes.
func TestScaleOutTopNOverJoinInProcess(t *testing.T) {
	for _, kind := range []string{"JOIN", "LEFT JOIN"} {
		t.Run(kind, func(t *testing.T) {
			addr := scaleOutTestBroker(t)
			const users, cl2 = 20, "totals-job-rank2-changelog"
			produceOrders(t, addr, 0, 2000, users)
			shipped := span(0, 500)
			produceShipments(t, addr, shipped...)
			script := scaleOutTestScript(addr, shipmentsDDL, shipTopDDL("top", "top"), shipTopInsert("top", kind))
			single := strings.ReplaceAll(strings.Join([]string{scaleOutOrdersDDL, shipmentsDDL, shipTopDDL("top1", "top1"), shipTopInsert("top1", kind)}, ";\n")+";\n", "ADDR", addr)
			_, pOut := startTestMember(t, single) // P=1: no scale-out option
			orders := 2000
			check := func(what string, outs ...*syncBuffer) {
				t.Helper()
				want := fmt.Sprint(wantShipTop(orders, users, shipped, kind == "LEFT JOIN"))
				waitScaleOutAndP1(t, addr, "top", "top1", readShipTop, want, what, outs, pOut)
			}
			a, aOut := startTestMember(t, script)
			check("one member", aOut)
			if !strings.Contains(aOut.String(), "two keyed stages, internal topics 'totals-job-join-repartition', 'totals-job-join-changelog', 'totals-job-rank2-repartition' and '"+cl2+"'") {
				t.Fatalf("member A did not announce two stages:\n%s", aOut)
			}
			// more: orders and shipments of new orders, and a second shipment of an old order (not in the top:
			// amount below 6).
			old := 1
			more := func(n int) {
				ships := append(span(orders, orders+n/2), old)
				produceOrders(t, addr, orders, n, users)
				produceShipments(t, addr, ships...)
				shipped = append(shipped, ships...)
				orders += n
				old = (old + 1) % 500
				if old%7 == 6 {
					old++
				}
			}
			b, bOut := startTestMember(t, script)
			for !strings.Contains(bOut.String(), "from '"+cl2+"'") {
				if orders > 20000 {
					t.Fatalf("the second member did not restore a Top-N partition:\n%s", bOut)
				}
				more(200)
				time.Sleep(300 * time.Millisecond)
			}
			more(1000)
			check("two members", aOut, bOut)
			restoredB, _, _ := b.scaleOut.stage(2).snapshot()
			if len(restoredB) == 0 {
				t.Fatalf("member B's stats show no restored Top-N partition:\n%s", bOut)
			}

			leaveGroup(t, b, addr, "totals-job", "totals-job-rank2-repartition", 8, aOut)
			more(1000)
			check("member A after B left", aOut, bOut)
			checkStageKept(t, a, 2, aOut)
			t.Logf("orders %d, shipments %d; B restored Top-N partitions %v", orders, len(shipped), restoredB)
		})
	}
}

// A GROUP BY over a Top-N of one scan (cutScaleOutAggOverRank): the Top-N is stage 1 ('-rank-' topics, its
// changelog of output rows), the GROUP BY stage 2 ('-agg2-' topics).

// topOrder is order i of the GROUP BY over Top-N test: a user of 500 and an amount in 0..999 that does not
// grow with i, so a user's top two change less and less often but now and then.
func topOrder(i int) (user, amount int) { return i % 500, int((uint32(i)*2654435761)>>12) % 1000 }

// produceTopOrders writes orders from..from+n-1 of topOrder.
func produceTopOrders(t *testing.T, addr string, from, n int) {
	produceOrderRecords(t, addr, from, n, func(i int) (id, user, amount int) {
		u, a := topOrder(i)
		return i, u, a
	})
}

// topHistInsert is the GROUP BY amount over the top two amounts per user (ties do not show: tied rows of a
// user are equal in amount and user).
func topHistInsert(sink string) string {
	return `INSERT INTO ` + sink + ` SELECT amount, COUNT(*), SUM(user_id) FROM (
  SELECT user_id, amount, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY amount DESC) AS rn FROM orders) WHERE rn <= 2 GROUP BY amount`
}

// wantTopHist is topHistInsert's result over orders 0..n-1: per amount, the users with it among their top
// two (count, sum of the users).
func wantTopHist(n int) map[int64]testTotal {
	per := map[int][]int{}
	for i := range n {
		u, a := topOrder(i)
		per[u] = append(per[u], a)
	}
	w := map[int64]testTotal{}
	for u, as := range per {
		slices.Sort(as)
		slices.Reverse(as)
		for _, a := range as[:min(2, len(as))] {
			tt := w[int64(a)]
			tt.Cnt++
			tt.Total += int64(u)
			w[int64(a)] = tt
		}
	}
	return w
}

// TestScaleOutGroupByOverTopNInProcess: a GROUP BY over a ROW_NUMBER() Top-N runs as two keyed stages, the
// Top-N's changes (a row pushed out of the top retracted) going through '-agg2-repartition'. Member A runs
// alone, member B joins while orders come (B restores Top-N partitions from '-rank-changelog' and GROUP BY
// partitions from '-agg2-changelog') and leaves again. A new order enters a user's top two only when its
// amount beats the restored ones, so a Top-N restored without its rows changes the histogram wrongly.
// Throughout, the result equals the one computed from the input and the one a P=1 job writes.
func TestScaleOutGroupByOverTopNInProcess(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const cl1, cl2 = "totals-job-rank-changelog", "totals-job-agg2-changelog"
	produceTopOrders(t, addr, 0, 2000)
	totalsDDL := func(name, topic string) string {
		return strings.ReplaceAll(strings.ReplaceAll(scaleOutTotalsDDL, "TABLE totals", "TABLE "+name), "'topic' = 'totals'", "'topic' = '"+topic+"'")
	}
	script := scaleOutTestScript(addr, totalsDDL("totals", "totals"), topHistInsert("totals"))
	single := strings.ReplaceAll(strings.Join([]string{scaleOutOrdersDDL, totalsDDL("totals1", "totals1"), topHistInsert("totals1")}, ";\n")+";\n", "ADDR", addr)
	_, pOut := startTestMember(t, single) // P=1: no scale-out option
	n := 2000
	read := func(t *testing.T, addr, topic string) map[int64]testTotal {
		return readCompacted(t, addr, topic, func(k struct {
			UserID int64 `json:"user_id"`
		}) int64 {
			return k.UserID
		}, func(v testTotal) testTotal { return v })
	}
	check := func(what string, outs ...*syncBuffer) {
		t.Helper()
		waitScaleOutAndP1(t, addr, "totals", "totals1", read, fmt.Sprint(wantTopHist(n)), what, outs, pOut)
	}
	a, aOut := startTestMember(t, script)
	check("one member", aOut)
	if !strings.Contains(aOut.String(), "two keyed stages, internal topics 'totals-job-rank-repartition', '"+cl1+"', 'totals-job-agg2-repartition' and '"+cl2+"'") {
		t.Fatalf("member A did not announce two stages:\n%s", aOut)
	}
	b, bOut := startTestMember(t, script)
	for !strings.Contains(bOut.String(), "from '"+cl1+"'") || !strings.Contains(bOut.String(), "from '"+cl2+"'") {
		if n > 30000 {
			t.Fatalf("the second member did not restore partitions of both stages:\n%s", bOut)
		}
		produceTopOrders(t, addr, n, 300)
		n += 300
		time.Sleep(300 * time.Millisecond)
	}
	produceTopOrders(t, addr, n, 3000)
	n += 3000
	check("two members", aOut, bOut)
	leaveGroup(t, b, addr, "totals-job", "totals-job-agg2-repartition", 8, aOut)
	produceTopOrders(t, addr, n, 3000)
	n += 3000
	check("member A after B left", aOut, bOut)
	checkStageKept(t, a, 2, aOut)
	t.Logf("orders %d, histogram amounts %d", n, len(wantTopHist(n)))
}
