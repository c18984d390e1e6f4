package engine

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A Top-N as the last keyed stage (scaleout_stage_rank.go): the top two amounts per user by the sum of
// their scores, over a GROUP BY user_id, amount whose sums go up and down.

// rankOrder is order i of the Top-N tests: a user of 30, an amount of those allowed (amounts), a score in
// -100..100 (the id column), so that sums rise and fall and the top rows change both ways.
func rankOrder(i int, amounts int) (user, amount, score int) {
	return i % 30, (i / 30 * 7) % amounts, (i*7919)%201 - 100
}

// produceRankOrders writes orders from..from+n-1 of rankOrder with amounts in 0..amounts-1.
func produceRankOrders(t *testing.T, addr string, from, n, amounts int) {
	produceOrderRecords(t, addr, from, n, func(i int) (id, user, amount int) {
		u, a, s := rankOrder(i, amounts)
		return s, u, a
	})
}

// produceOrderRecords writes the orders from..from+n-1 to topic orders, keyed by i, with the id, user_id and
// amount order gives for i.
func produceOrderRecords(t *testing.T, addr string, from, n int, order func(i int) (id, user, amount int)) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		id, u, a := order(i)
		recs = append(recs, &kgo.Record{Topic: "orders", Key: []byte(fmt.Sprint(i)),
			Value: fmt.Appendf(nil, `{"id":%d,"user_id":%d,"amount":%d}`, id, u, a)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// rankKey is a row of the Top-N sink's key.
type rankKey struct{ User, Rn int64 }

// wantRankTop is the top two amounts per user by total (ties by amount) of the orders produced, given
// as (first order, count, amounts) runs.
func wantRankTop(runs [][3]int) map[rankKey][2]int64 {
	tot := map[[2]int]int64{}
	for _, r := range runs {
		for i := r[0]; i < r[0]+r[1]; i++ {
			u, a, s := rankOrder(i, r[2])
			tot[[2]int{u, a}] += int64(s)
		}
	}
	per := map[int][][2]int64{} // user -> (amount, total)
	for k, v := range tot {
		per[k[0]] = append(per[k[0]], [2]int64{int64(k[1]), v})
	}
	return topTwo(per)
}

// topTwo is per user of per (user -> (a, b) pairs) the first two pairs by b descending, then a ascending.
func topTwo[U ~int | ~int64](per map[U][][2]int64) map[rankKey][2]int64 {
	w := map[rankKey][2]int64{}
	for u, rows := range per {
		slices.SortFunc(rows, func(a, b [2]int64) int {
			if a[1] != b[1] {
				return int(b[1] - a[1])
			}
			return int(a[0] - b[0])
		})
		for i := 0; i < 2 && i < len(rows); i++ {
			w[rankKey{int64(u), int64(i + 1)}] = rows[i]
		}
	}
	return w
}

// rankTopDDL is the upsert-kafka table of the Top-N on topic, keyed by user and row number.
func rankTopDDL(name, topic string) string {
	return fmt.Sprintf(`CREATE TABLE %s (user_id BIGINT, rn BIGINT, amount BIGINT, total BIGINT, PRIMARY KEY (user_id, rn) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = '%s', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json')`, name, topic)
}

// rankTopInsert is the Top-N over the GROUP BY into sink.
func rankTopInsert(sink string) string {
	return `INSERT INTO ` + sink + ` SELECT user_id, rn, amount, total FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY total DESC, amount) AS rn FROM (
    SELECT user_id, amount, SUM(id) AS total FROM orders GROUP BY user_id, amount)) WHERE rn <= 2`
}

// readRankTop reads the compacted view of the Top-N's topic (read_committed).
func readRankTop(t *testing.T, addr, topic string) map[rankKey][2]int64 {
	return readCompacted(t, addr, topic, func(k struct{ User_id, Rn int64 }) rankKey { return rankKey{k.User_id, k.Rn} },
		func(v struct{ Amount, Total int64 }) [2]int64 { return [2]int64{v.Amount, v.Total} })
}

// TestScaleOutTopNOverGroupByInProcess: a ROW_NUMBER() Top-N over a GROUP BY runs as two keyed stages
// (topics '-agg-' and '-rank2-'). Member A runs alone, member B joins while orders come (B restores
// Top-N partitions from '-rank2-changelog') and leaves again (A restores B's, keeps its own). After B
// joined, orders come for three of the six amounts only, so the Top-N rows of the others change only when
// a restored Top-N holds them (an amount whose total falls below them brings them back). Throughout, the
// compacted result equals the one computed from the input and the one a P=1 job of the same query writes.
func TestScaleOutTopNOverGroupByInProcess(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const cl2 = "totals-job-rank2-changelog"
	runs := [][3]int{{0, 3000, 6}}
	produceRankOrders(t, addr, 0, 3000, 6)
	script := scaleOutTestScript(addr, rankTopDDL("top", "top"), rankTopInsert("top"))
	single := strings.ReplaceAll(strings.Join([]string{scaleOutOrdersDDL, rankTopDDL("top1", "top1"), rankTopInsert("top1")}, ";\n")+";\n", "ADDR", addr)
	_, pOut := startTestMember(t, single) // P=1: no scale-out option
	a, aOut := startTestMember(t, script)
	n := 3000
	more := func(k, amounts int) {
		produceRankOrders(t, addr, n, k, amounts)
		runs = append(runs, [3]int{n, k, amounts})
		n += k
	}
	check := func(what string, outs ...*syncBuffer) {
		t.Helper()
		waitScaleOutAndP1(t, addr, "top", "top1", readRankTop, fmt.Sprint(wantRankTop(runs)), what, outs, pOut)
	}
	check("one member", aOut)
	if !strings.Contains(aOut.String(), "two keyed stages, internal topics 'totals-job-agg-repartition', 'totals-job-agg-changelog', 'totals-job-rank2-repartition' and '"+cl2+"'") {
		t.Fatalf("member A did not announce two stages:\n%s", aOut)
	}

	b, bOut := startTestMember(t, script)
	for !strings.Contains(bOut.String(), "from '"+cl2+"'") {
		if n > 30000 {
			t.Fatalf("the second member did not restore a Top-N partition:\n%s", bOut)
		}
		more(300, 3)
		time.Sleep(300 * time.Millisecond)
	}
	more(2000, 3)
	check("two members", aOut, bOut)
	restoredB, _, _ := b.scaleOut.stage(2).snapshot()
	if len(restoredB) == 0 {
		t.Fatalf("member B's stats show no restored Top-N partition:\n%s", bOut)
	}

	leaveGroup(t, b, addr, "totals-job", "totals-job-rank2-repartition", 8, aOut)
	more(2000, 3)
	check("member A after B left", aOut, bOut)
	restored, kept, _ := a.scaleOut.stage(2).snapshot()
	checkStageKept(t, a, 2, aOut)
	t.Logf("orders %d, result rows %d; A stage 2 kept %v, restored %v; B restored %v", n, len(wantRankTop(runs)), kept, restored, restoredB)
}

// checkStageKept checks that job a's metrics (as DESCRIBE JOB, SHOW JOBS and the gateway show them) count
// partitions of keyed stage n kept over a rebalance and restored.
func checkStageKept(t *testing.T, a *Job, n int, aOut *syncBuffer) {
	t.Helper()
	var st ScaleOutStageMetrics
	for _, s := range a.Metrics().ScaleOut {
		if s.Stage == n {
			st = s
		}
	}
	if st.Kept == 0 || st.RestoredPartitions == 0 {
		t.Fatalf("member A's stage %d kept %d partitions over the rebalances and restored %d; want both > 0 (metrics %+v)\n%s", n, st.Kept, st.RestoredPartitions, a.Metrics().ScaleOut, aOut)
	}
	line := fmt.Sprintf("stage %d: restored %d partitions (%d changelog records), kept %d partitions over rebalances", n, st.RestoredPartitions, st.RestoredRecords, st.Kept)
	if d := describeJobText(a, time.UTC); !strings.Contains(d, line) {
		t.Fatalf("DESCRIBE JOB does not show %q:\n%s", line, d)
	}
	cell := fmt.Sprintf("%d: restored %d (%d records) kept %d dropped %d", n, st.RestoredPartitions, st.RestoredRecords, st.Kept, st.AbortDrops)
	if row := jobRow(a, time.UTC); row[len(row)-1] != formatScaleOut(a.Metrics().ScaleOut) || !strings.Contains(row[len(row)-1], cell) {
		t.Fatalf("SHOW JOBS's scale-out stages column %q does not show %q", row[len(row)-1], cell)
	}
}

// promAddr is the address of the Prometheus endpoint a member's session announced in its notices.
var promAddr = regexp.MustCompile(`Prometheus metrics of this session's jobs: http://(127\.0\.0\.1:\d+)/metrics`)

// checkStagePrometheus scrapes job a's session endpoint over HTTP (its script sets
// 'metrics.reporter.prom.port') and checks its per-stage counters against the job's metrics.
func checkStagePrometheus(t *testing.T, a *Job, aOut *syncBuffer) {
	t.Helper()
	m := promAddr.FindStringSubmatch(aOut.String())
	if m == nil {
		t.Fatalf("member A announced no Prometheus endpoint:\n%s", aOut)
	}
	got := scrape(t, m[1])
	stages := a.Metrics().ScaleOut
	if len(stages) < 2 {
		t.Fatalf("member A's metrics have %d keyed stages: %+v", len(stages), stages)
	}
	for _, st := range stages {
		for name, v := range map[string]int64{"scaleOutRestoredPartitions": int64(st.RestoredPartitions),
			"scaleOutRestoredRecords": st.RestoredRecords, "scaleOutKeptPartitions": int64(st.Kept), "scaleOutAbortDrops": int64(st.AbortDrops)} {
			k := fmt.Sprintf(`flink_jobmanager_job_%s{job_id="%s",job_name="totals_job",stage="%d"}`, name, a.ID(), st.Stage)
			g, ok := got[k]
			if !ok {
				t.Fatalf("the scrape has no %s:\n%v", k, got)
			}
			if int64(g) != v {
				t.Fatalf("%s = %v, the job's metrics say %d", k, g, v)
			}
		}
	}
}
