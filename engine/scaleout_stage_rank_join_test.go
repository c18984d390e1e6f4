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
	w := map[rankKey][2]int64{}
	for u, rs := range rows {
		slices.SortFunc(rs, func(a, b [2]int64) int {
			if a[1] != b[1] {
				return int(b[1] - a[1])
			}
			return int(a[0] - b[0])
		})
		for i := 0; i < 2 && i < len(rs); i++ {
			w[rankKey{int64(u), int64(i + 1)}] = rs[i]
		}
	}
	return w
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
