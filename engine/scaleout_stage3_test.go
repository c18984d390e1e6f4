package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A scale-out job with three keyed stages (scaleout_stage.go): GROUP BY over GROUP BY over GROUP BY.

// wantHist3 is the histogram of the histogram of the first n orders: per number of buckets' users, the
// buckets with that many users and the sum of their order counts.
func wantHist3(n int) map[int64][2]int64 {
	w := map[int64][2]int64{}
	for cnt, users := range wantHist(n) {
		v := w[users]
		w[users] = [2]int64{v[0] + 1, v[1] + cnt}
	}
	return w
}

// hist3DDL is an upsert-kafka table of the three-level query's results on topic.
func hist3DDL(name, topic string) string {
	return fmt.Sprintf(`CREATE TABLE %s (users BIGINT, buckets BIGINT, cnts BIGINT, PRIMARY KEY (users) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = '%s', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json')`, name, topic)
}

// hist3Insert is the three-level query into sink.
func hist3Insert(sink string) string {
	return `INSERT INTO ` + sink + ` SELECT users, COUNT(*), SUM(cnt) FROM (
  SELECT cnt, COUNT(*) AS users FROM (SELECT user_id, COUNT(*) AS cnt FROM orders GROUP BY user_id) GROUP BY cnt) GROUP BY users`
}

// readHist3 reads the compacted view of the three-level query's topic (read_committed).
func readHist3(t *testing.T, addr, topic string) map[int64][2]int64 {
	return readCompacted(t, addr, topic, func(k struct{ Users int64 }) int64 { return k.Users },
		func(v struct{ Buckets, Cnts int64 }) [2]int64 { return [2]int64{v.Buckets, v.Cnts} })
}

// TestScaleOutThreeStagesMembersInProcess: GROUP BY users over GROUP BY cnt over GROUP BY user_id runs as
// three keyed stages (topics '-agg-', '-agg2-', '-agg3-'). Member A runs alone, member B joins while
// orders come (B restores third-stage partitions from '-agg3-changelog') and leaves again (A restores
// B's, keeps its own). Throughout, the compacted result equals the one computed from the input and the
// one a P=1 job of the same query writes: the third aggregate took the second's retractions and its
// state moved with its partitions.
func TestScaleOutThreeStagesMembersInProcess(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const cl3 = "totals-job-agg3-changelog"
	produceHistOrders(t, addr, 0, 3000)
	script := scaleOutTestScript(addr, hist3DDL("h3", "h3"), hist3Insert("h3"))
	single := strings.ReplaceAll(strings.Join([]string{scaleOutOrdersDDL, hist3DDL("h31", "h31"), hist3Insert("h31")}, ";\n")+";\n", "ADDR", addr)
	_, pOut := startTestMember(t, single) // P=1: no scale-out option
	a, aOut := startTestMember(t, script)
	n := 3000
	check := func(what string, outs ...*syncBuffer) {
		t.Helper()
		waitScaleOutAndP1(t, addr, "h3", "h31", readHist3, fmt.Sprint(wantHist3(n)), what, outs, pOut)
	}
	check("one member", aOut)
	if !strings.Contains(aOut.String(), "three keyed stages, internal topics 'totals-job-agg-repartition', 'totals-job-agg-changelog', 'totals-job-agg2-repartition', 'totals-job-agg2-changelog', 'totals-job-agg3-repartition' and '"+cl3+"'") {
		t.Fatalf("member A did not announce three stages:\n%s", aOut)
	}

	b, bOut := startTestMember(t, script)
	for !strings.Contains(bOut.String(), "from '"+cl3+"'") {
		if n > 30000 {
			t.Fatalf("the second member did not restore a third-stage partition:\n%s", bOut)
		}
		produceHistOrders(t, addr, n, 300)
		n += 300
		time.Sleep(300 * time.Millisecond)
	}
	produceHistOrders(t, addr, n, 2000)
	n += 2000
	check("two members", aOut, bOut)
	restoredB, _, _ := b.scaleOut.stage(3).snapshot()
	if len(restoredB) == 0 {
		t.Fatalf("member B's stats show no restored third-stage partition:\n%s", bOut)
	}

	leaveGroup(t, b, addr, "totals-job", "totals-job-agg3-repartition", 8, aOut)
	produceHistOrders(t, addr, n, 2000)
	n += 2000
	check("member A after B left", aOut, bOut)
	restored, kept, _ := a.scaleOut.stage(3).snapshot()
	keptAny := 0
	for _, k := range kept {
		keptAny += k
	}
	if keptAny == 0 {
		t.Fatalf("member A kept no third-stage partition over the rebalances (restored %v)\n%s", restored, aOut)
	}
	t.Logf("orders %d, result rows %d; A stage 3 kept %v, restored %v; B restored %v; A rows out %d", n, len(wantHist3(n)), kept, restored, restoredB, a.Metrics().RowsOut)
}
