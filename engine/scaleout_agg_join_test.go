package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A GROUP BY over an interval join or an event-time temporal join runs as two keyed stages
// (scaleout_stage.go): the join's rows go through '<name>-agg2-repartition' to a GROUP BY stage. In-process
// members and a P=1 job of the same query; a member is cancelled mid-run and started again.

// bucketTotal is a bucket's aggregates: COUNT(*), COUNT(v), SUM(v), MAX(v) (-1: NULL).
type bucketTotal struct{ N, Matched, Total, Top int64 }

// bucketsOf aggregates joined rows "id/v" (v "-" when NULL-padded) per id % 10, as the tests' queries do.
func bucketsOf(t *testing.T, rows []string) map[int64]bucketTotal {
	t.Helper()
	out := map[int64]bucketTotal{}
	for _, r := range rows {
		id, v, _ := strings.Cut(r, "/")
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			t.Fatalf("row %q", r)
		}
		b, ok := out[n%10]
		if !ok {
			b = bucketTotal{Total: -1, Top: -1}
		}
		b.N++
		if v != "-" {
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("row %q", r)
			}
			b.Matched++
			b.Total = max(b.Total, 0) + x
			b.Top = max(b.Top, x)
		}
		out[n%10] = b
	}
	return out
}

// bucketsDDL is the upsert-kafka sink of the buckets on topic.
func bucketsDDL(topic string) string {
	return `CREATE TABLE ` + topic + ` (bucket INT, n BIGINT, matched BIGINT, total BIGINT, top BIGINT,
  PRIMARY KEY (bucket) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = '` + topic + `',
  'properties.bootstrap.servers' = 'ADDR', 'key.format' = 'json', 'value.format' = 'json')`
}

// readBuckets reads the compacted view of a buckets topic (read_committed).
func readBuckets(t *testing.T, addr, topic string) map[int64]bucketTotal {
	type val struct{ N, Matched, Total, Top *int64 }
	or := func(p *int64) int64 {
		if p == nil {
			return -1
		}
		return *p
	}
	return readCompacted(t, addr, topic, func(k struct{ Bucket int64 }) int64 { return k.Bucket },
		func(v val) bucketTotal { return bucketTotal{or(v.N), or(v.Matched), or(v.Total), or(v.Top)} })
}

// aggJoinScripts are a scale-out member's script (job name) and a P=1 job's of insert (its sink
// 'buckets', the P=1 one 'buckets1') over the tables of ddl.
func aggJoinScripts(addr, job, ddl, insert string) (member, single string) {
	member = strings.Join([]string{
		`SET 'sluice.scale-out.enabled' = 'true'`,
		`SET 'pipeline.name' = '` + job + `'`,
		`SET 'sluice.scale-out.session-timeout' = '2 s'`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s'`,
		ddl, bucketsDDL("buckets"), fmt.Sprintf(insert, "buckets")}, ";\n") + ";\n"
	single = strings.Join([]string{ddl, bucketsDDL("buckets1"), fmt.Sprintf(insert, "buckets1")}, ";\n") + ";\n"
	return strings.ReplaceAll(member, "ADDR", addr), strings.ReplaceAll(single, "ADDR", addr)
}

// checkBuckets waits until the scale-out job's and the P=1 job's buckets are want.
func checkBuckets(t *testing.T, addr, what string, want map[int64]bucketTotal, outs ...*syncBuffer) {
	t.Helper()
	var got, got1 map[int64]bucketTotal
	w := fmt.Sprint(want)
	if !waitUntil(40*time.Second, func() bool {
		got, got1 = readBuckets(t, addr, "buckets"), readBuckets(t, addr, "buckets1")
		return fmt.Sprint(got) == w && fmt.Sprint(got1) == w
	}) {
		var texts []string
		for _, o := range outs {
			texts = append(texts, o.String())
		}
		t.Fatalf("%s:\nscale-out %v\nP=1       %v\nwant      %v\n%s", what, got, got1, want, strings.Join(texts, "\n---\n"))
	}
}

// stopMember cancels a member's job and waits until it ended.
func stopMember(t *testing.T, j *Job) {
	t.Helper()
	j.Cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = j.Wait(ctx)
}

// checkOtherPlanRefused starts a member of other under the running job's name: the group refuses it (its
// job fails naming the plans), and the running members go on.
func checkOtherPlanRefused(t *testing.T, other string) {
	t.Helper()
	o, oOut := startTestMember(t, other)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.Wait(ctx); err == nil || !strings.Contains(err.Error(), "runs another plan than this process") {
		t.Fatalf("a member of another plan should fail in the group, got %v\n%s", err, oOut)
	}
}

const ivAggInsert = `INSERT INTO %s SELECT a.id %% 10, COUNT(*), COUNT(b.price), SUM(b.price), MAX(b.price)
  FROM auctions a LEFT JOIN bids b ON a.id = b.auction AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '10' SECOND
  GROUP BY a.id %% 10`

// TestScaleOutIntervalJoinThenGroupByInProcess: a GROUP BY over a LEFT interval join runs as two keyed
// stages: the join's rows (matches, and NULL-padded auctions once the watermark closes their interval)
// through '<name>-agg2-repartition' to an insert-only aggregate. Member A runs alone, B joins mid-run
// (restoring partitions of both stages), is cancelled while rows come and is started again (A takes its
// partitions over, the new B restores some back). At each phase the compacted buckets equal those computed
// from the join's expected rows and a P=1 job's: no row lost or counted twice. A member of another plan
// under the job's name is refused by the group, and the job goes on.
func TestScaleOutIntervalJoinThenGroupByInProcess(t *testing.T) {
	addr := intervalCluster(t)
	d := &ivData{}
	feed := func(from, to int) {
		recs := d.auctionsTo(from, to)
		for p := range 4 {
			recs = append(recs, d.bidsTo(p, from, to)...)
		}
		produceRecords(t, addr, recs)
	}
	feed(0, 40)
	script, single := aggJoinScripts(addr, "ivagg-job", auctionsBidsDDL, ivAggInsert)
	a, aOut := startTestMember(t, script)
	_, pOut := startTestMember(t, single)
	// The watermark after feed(0, to) is to - 3 s: the latest auction of partition 0 is at to - 2 s, less 1 s.
	check := func(what string, wm int, outs ...*syncBuffer) {
		t.Helper()
		checkBuckets(t, addr, what, bucketsOf(t, d.want(wm, nil)), append(outs, pOut)...)
	}
	check("one member", 37, aOut)
	if !strings.Contains(aOut.String(), "two keyed stages, internal topics 'ivagg-job-join-repartition', 'ivagg-job-join-changelog', 'ivagg-job-agg2-repartition' and 'ivagg-job-agg2-changelog'") {
		t.Fatalf("member A did not announce two stages:\n%s", aOut)
	}

	b, bOut := startTestMember(t, script)
	to := 40
	for ; to < 80 || !strings.Contains(bOut.String(), "from 'ivagg-job-agg2-changelog'"); to += 4 {
		if to > 400 {
			t.Fatalf("member B did not restore a second-stage partition:\n%s", bOut)
		}
		feed(to, to+4)
		time.Sleep(300 * time.Millisecond)
	}
	check("two members", to-3, aOut, bOut)
	if !strings.Contains(bOut.String(), "from 'ivagg-job-join-changelog'") || b.Metrics().RowsOut == 0 {
		t.Fatalf("member B restored no join partition or wrote no bucket (rows out %d):\n%s", b.Metrics().RowsOut, bOut)
	}

	// B is cancelled between two batches of rows, and started again while more come.
	feed(to, to+4)
	stopMember(t, b)
	feed(to+4, to+8)
	b2, b2Out := startTestMember(t, script)
	for to += 8; !strings.Contains(b2Out.String(), "from 'ivagg-job-agg2-changelog'"); to += 4 {
		if to > 800 {
			t.Fatalf("the restarted member did not restore a second-stage partition:\n%s", b2Out)
		}
		feed(to, to+4)
		time.Sleep(300 * time.Millisecond)
	}
	feed(to, to+4)
	to += 4
	check("after B restarted", to-3, aOut, bOut, b2Out)

	checkOtherPlanRefused(t, strings.Replace(script, "MAX(b.price)", "MIN(b.price)", 1))
	feed(to, to+4)
	to += 4
	check("after the other plan was refused", to-3, aOut, b2Out)
	if a.Metrics().RowsOut == 0 || b2.Metrics().RowsOut == 0 {
		t.Fatalf("rows out %d and %d: both members should have written buckets", a.Metrics().RowsOut, b2.Metrics().RowsOut)
	}
}

const tjAggInsert = `INSERT INTO %s SELECT o.id %% 10, COUNT(*), COUNT(r.rate), SUM(r.rate), MAX(r.rate)
  FROM orders AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k GROUP BY o.id %% 10`

// TestScaleOutTemporalJoinThenGroupByInProcess: a GROUP BY over a LEFT event-time temporal join runs as two
// keyed stages. Member A runs alone, B joins mid-run, is cancelled while rows come and started again; at each
// phase the compacted buckets equal those computed from the join's expected rows (every order up to the
// watermark with the version valid at its time) and a P=1 job's. A member of another plan is refused.
func TestScaleOutTemporalJoinThenGroupByInProcess(t *testing.T) {
	addr := temporalCluster(t)
	d := &tjData{}
	feed := func(from, to int) { produceRecords(t, addr, d.secondsTo(from, to, true, -1)) }
	feed(0, 20)
	script, single := aggJoinScripts(addr, "tjagg-job", ordersRatesDDL, tjAggInsert)
	a, aOut := startTestMember(t, script)
	_, pOut := startTestMember(t, single)
	// The watermark after feed(0, to) is to - 2 s: every partition's latest row is at to - 1 s, less 1 s.
	check := func(what string, wm int, outs ...*syncBuffer) {
		t.Helper()
		checkBuckets(t, addr, what, bucketsOf(t, d.want(true, wm)), append(outs, pOut)...)
	}
	check("one member", 18, aOut)
	if !strings.Contains(aOut.String(), "two keyed stages, internal topics 'tjagg-job-join-repartition', 'tjagg-job-join-changelog', 'tjagg-job-agg2-repartition' and 'tjagg-job-agg2-changelog'") {
		t.Fatalf("member A did not announce two stages:\n%s", aOut)
	}

	b, bOut := startTestMember(t, script)
	to := 20
	for ; to < 40 || !strings.Contains(bOut.String(), "from 'tjagg-job-agg2-changelog'"); to += 2 {
		if to > 300 {
			t.Fatalf("member B did not restore a second-stage partition:\n%s", bOut)
		}
		feed(to, to+2)
		time.Sleep(300 * time.Millisecond)
	}
	check("two members", to-2, aOut, bOut)

	feed(to, to+2)
	stopMember(t, b)
	feed(to+2, to+4)
	b2, b2Out := startTestMember(t, script)
	for to += 4; !strings.Contains(b2Out.String(), "from 'tjagg-job-agg2-changelog'"); to += 2 {
		if to > 600 {
			t.Fatalf("the restarted member did not restore a second-stage partition:\n%s", b2Out)
		}
		feed(to, to+2)
		time.Sleep(300 * time.Millisecond)
	}
	feed(to, to+2)
	to += 2
	check("after B restarted", to-2, aOut, bOut, b2Out)

	checkOtherPlanRefused(t, strings.Replace(script, "MAX(r.rate)", "MIN(r.rate)", 1))
	feed(to, to+2)
	to += 2
	check("after the other plan was refused", to-2, aOut, b2Out)
	if a.Metrics().RowsOut == 0 || b2.Metrics().RowsOut == 0 {
		t.Fatalf("rows out %d and %d: both members should have written buckets", a.Metrics().RowsOut, b2.Metrics().RowsOut)
	}
}
