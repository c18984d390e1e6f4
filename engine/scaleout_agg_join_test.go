package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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

// aggJoinRun is a GROUP BY over a join run by in-process members (aggJoinRun.run).
type aggJoinRun struct {
	addr, job   string
	ddl, insert string                // the source tables; the INSERT, its sink table '%s'
	feed        func(from, to int)    // produces the rows of seconds from..to-1 on every source partition
	want        func(wm int) []string // the join's rows ("id/v") once the watermark is at second wm
	lag         int                   // the watermark after feed(.., to) is at second to - lag
	first, step int                   // the seconds fed before the first member starts, and per step
	other       [2]string             // a replacement in the INSERT that makes another plan
}

// run: member A runs alone, B joins mid-run (restoring partitions of both stages), is cancelled while rows
// come and is started again (A takes its partitions over, the new B restores some back). At each phase the
// compacted buckets equal those computed from the join's expected rows and a P=1 job's: no row lost or
// counted twice. A member of another plan under the job's name is refused by the group, and the job goes
// on.
func (r aggJoinRun) run(t *testing.T) {
	script, single := aggJoinScripts(r.addr, r.job, r.ddl, r.insert)
	r.feed(0, r.first)
	a, aOut := startTestMember(t, script)
	_, pOut := startTestMember(t, single)
	check := func(what string, to int, outs ...*syncBuffer) {
		t.Helper()
		checkBuckets(t, r.addr, what, bucketsOf(t, r.want(to-r.lag)), append(outs, pOut)...)
	}
	check("one member", r.first, aOut)
	if want := fmt.Sprintf("two keyed stages, internal topics '%[1]s-join-repartition', '%[1]s-join-changelog', '%[1]s-agg2-repartition' and '%[1]s-agg2-changelog'", r.job); !strings.Contains(aOut.String(), want) {
		t.Fatalf("member A did not announce two stages:\n%s", aOut)
	}
	// restored feeds rows in steps until out says that a partition of the stage's changelog was restored.
	to := r.first
	restored := func(what string, out *syncBuffer, min int) {
		t.Helper()
		for limit := to + 100*r.step; to < min || !strings.Contains(out.String(), "from '"+r.job+"-agg2-changelog'"); to += r.step {
			if to > limit {
				t.Fatalf("%s did not restore a second-stage partition:\n%s", what, out)
			}
			r.feed(to, to+r.step)
			time.Sleep(300 * time.Millisecond)
		}
	}

	b, bOut := startTestMember(t, script)
	restored("member B", bOut, 2*r.first)
	check("two members", to, aOut, bOut)
	if !strings.Contains(bOut.String(), "from '"+r.job+"-join-changelog'") || b.Metrics().RowsOut == 0 {
		t.Fatalf("member B restored no join partition or wrote no bucket (rows out %d):\n%s", b.Metrics().RowsOut, bOut)
	}

	// B is cancelled between two steps of rows, and started again while more come.
	r.feed(to, to+r.step)
	stopMember(t, b)
	r.feed(to+r.step, to+2*r.step)
	to += 2 * r.step
	b2, b2Out := startTestMember(t, script)
	restored("the restarted member", b2Out, 0)
	r.feed(to, to+r.step)
	to += r.step
	check("after B restarted", to, aOut, bOut, b2Out)

	checkOtherPlanRefused(t, strings.Replace(script, r.other[0], r.other[1], 1))
	r.feed(to, to+r.step)
	to += r.step
	check("after the other plan was refused", to, aOut, b2Out)
	if a.Metrics().RowsOut == 0 || b2.Metrics().RowsOut == 0 {
		t.Fatalf("rows out %d and %d: both members should have written buckets", a.Metrics().RowsOut, b2.Metrics().RowsOut)
	}
}

// secondsTo is the auctions and the bids of all four bid partitions of seconds from..to-1.
func (d *ivData) secondsTo(from, to int) []*kgo.Record {
	recs := d.auctionsTo(from, to)
	for p := range 4 {
		recs = append(recs, d.bidsTo(p, from, to)...)
	}
	return recs
}

// TestScaleOutIntervalJoinThenGroupByInProcess: a GROUP BY over a LEFT interval join runs as two keyed
// stages (aggJoinRun.run): the join's rows (matches, and NULL-padded auctions once the watermark closes their
// interval) go through '<name>-agg2-repartition' to an insert-only aggregate.
func TestScaleOutIntervalJoinThenGroupByInProcess(t *testing.T) {
	addr := intervalCluster(t)
	d := &ivData{}
	aggJoinRun{addr: addr, job: "ivagg-job", ddl: auctionsBidsDDL,
		insert: `INSERT INTO %s SELECT a.id %% 10, COUNT(*), COUNT(b.price), SUM(b.price), MAX(b.price)
  FROM auctions a LEFT JOIN bids b ON a.id = b.auction AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '10' SECOND
  GROUP BY a.id %% 10`,
		feed: func(from, to int) { produceRecords(t, addr, d.secondsTo(from, to)) },
		want: func(wm int) []string { return d.want(wm, nil) },
		// The latest auction of partition 0 is at to - 2 s, its watermark 1 s behind.
		lag: 3, first: 40, step: 4, other: [2]string{"MAX(b.price)", "MIN(b.price)"}}.run(t)
}

const tjAggInsert = `INSERT INTO %s SELECT o.id %% 10, COUNT(*), COUNT(r.rate), SUM(r.rate), MAX(r.rate)
  FROM orders AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k GROUP BY o.id %% 10`

// TestScaleOutTemporalJoinThenGroupByInProcess: a GROUP BY over a LEFT event-time temporal join runs as two
// keyed stages (aggJoinRun.run), over a versioned 'kafka' table and over an 'upsert-kafka' one (versioned rows
// through the normalize of scaleout_temporal_upsert.go; two keys deleted before the job starts). The join's
// rows: every order up to the watermark with the version valid at its time.
func TestScaleOutTemporalJoinThenGroupByInProcess(t *testing.T) {
	for _, format := range []string{"append", "upsert"} {
		t.Run(format, func(t *testing.T) {
			addr := temporalCluster(t)
			d, c := &tjData{}, &cdcRates{format: format}
			r := aggJoinRun{addr: addr, job: "tjagg-job", ddl: ordersRatesDDL, insert: tjAggInsert,
				feed: func(from, to int) { produceRecords(t, addr, d.secondsTo(from, to, true, -1)) },
				want: func(wm int) []string { return d.want(true, wm) },
				// Every partition's latest row is at to - 1 s, its watermark 1 s behind.
				lag: 2, first: 20, step: 2, other: [2]string{"MAX(r.rate)", "MIN(r.rate)"}}
			if format == "upsert" {
				r.ddl = cdcRatesDDL(format)
				r.feed = func(from, to int) {
					produceRecords(t, addr, c.records(d.secondsTo(from, to, true, -1)))
					if from == 0 {
						produceRecords(t, addr, c.deletes(1, 4)) // both last versioned at 19 s
					}
				}
				r.want = func(wm int) []string {
					var out []string
					for _, o := range d.orders {
						if o.sec > wm {
							continue
						}
						rate := "-"
						if v, ok := c.rate(d, o.key, o.sec); ok && o.key >= 0 {
							rate = fmt.Sprint(v)
						}
						out = append(out, fmt.Sprintf("%d/%s", o.id, rate))
					}
					return out
				}
			}
			r.run(t)
		})
	}
}

// TestScaleOutAggOverJoinRefused: GROUP BYs over an interval or temporal join that a scale-out job does not
// run are refused at submit, saying what and how to fix it.
func TestScaleOutAggOverJoinRefused(t *testing.T) {
	ivl := `SELECT a.seller AS k, COUNT(*) AS n FROM auctions a JOIN bids b ON a.id = b.auction
  AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '10' SECOND GROUP BY a.seller`
	tmp := `SELECT o.k, COUNT(*) AS n FROM orders AS o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k GROUP BY o.k`
	three := func(inner string) string {
		return `INSERT INTO counts SELECT c, COUNT(*) FROM (SELECT n, COUNT(*) AS c FROM (` + inner + `) GROUP BY n) GROUP BY c`
	}
	const fourStages = ": a join under three GROUP BY levels is four keyed stages (a scale-out job runs at most three: a GROUP BY over a GROUP BY over a join or over a GROUP BY of a table scan); write an inner result to a kafka table and aggregate it in another job"
	for _, c := range []struct{ name, ddl, stmts, want string }{
		{"three group bys over an interval join", auctionsBidsDDL, three(ivl), fourStages},
		{"three group bys over a temporal join", ordersRatesDDL, three(tmp), fourStages},
		{"state ttl with a temporal join", ordersRatesDDL, "SET 'table.exec.state.ttl' = '1 h';\nINSERT INTO counts " + tmp,
			"'table.exec.state.ttl' cannot be used with a scale-out temporal join: it does not expire the join's state (nor does the P=1 join; its state is bounded by the watermark); RESET 'table.exec.state.ttl'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			script := strings.Join([]string{
				`SET 'sluice.scale-out.enabled' = 'true'`,
				`SET 'pipeline.name' = 'refused-job'`, c.ddl,
				`CREATE TABLE counts (k BIGINT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'counts', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json')`, c.stmts}, ";\n") + ";\n"
			out, err := runScript(t, strings.ReplaceAll(script, "ADDR", "127.0.0.1:1"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant an error containing %q\n%s", err, c.want, out)
			}
		})
	}
}

// TestScaleOutIntervalJoinThreeStagesInProcess: a GROUP BY over a GROUP BY over a LEFT interval join runs as
// three keyed stages (the second insert-only, the third taking the second's retractions): a histogram of the
// buckets' row counts. Member A runs alone, B joins mid-run and restores partitions of the third stage; the
// compacted histogram equals the one computed from the join's expected rows and a P=1 job's.
func TestScaleOutIntervalJoinThreeStagesInProcess(t *testing.T) {
	addr := intervalCluster(t)
	d := &ivData{}
	feed := func(from, to int) { produceRecords(t, addr, d.secondsTo(from, to)) }
	insert := `INSERT INTO %s SELECT n, COUNT(*) FROM (SELECT a.id %% 10 AS bucket, COUNT(*) AS n FROM auctions a
  LEFT JOIN bids b ON a.id = b.auction AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '10' SECOND
  GROUP BY a.id %% 10) GROUP BY n`
	member := strings.ReplaceAll(strings.Join([]string{
		`SET 'sluice.scale-out.enabled' = 'true'`, `SET 'pipeline.name' = 'iv3-job'`,
		`SET 'sluice.scale-out.session-timeout' = '2 s'`, `SET 'sluice.scale-out.transaction-timeout' = '3 s'`,
		auctionsBidsDDL, histDDL("hist", "hist"), fmt.Sprintf(insert, "hist")}, ";\n")+";\n", "ADDR", addr)
	single := strings.ReplaceAll(strings.Join([]string{auctionsBidsDDL, histDDL("hist1", "hist1"), fmt.Sprintf(insert, "hist1")}, ";\n")+";\n", "ADDR", addr)
	feed(0, 40)
	_, aOut := startTestMember(t, member)
	_, pOut := startTestMember(t, single)
	want := func(to int) string { // the watermark is at to - 3 s (TestScaleOutIntervalJoinThenGroupByInProcess)
		h := map[int64]int64{}
		for _, b := range bucketsOf(t, d.want(to-3, nil)) {
			h[b.N]++
		}
		return fmt.Sprint(h)
	}
	waitScaleOutAndP1(t, addr, "hist", "hist1", readHist, want(40), "one member", []*syncBuffer{aOut}, pOut)
	if !strings.Contains(aOut.String(), "three keyed stages, internal topics 'iv3-job-join-repartition', 'iv3-job-join-changelog', 'iv3-job-agg2-repartition', 'iv3-job-agg2-changelog', 'iv3-job-agg3-repartition' and 'iv3-job-agg3-changelog'") {
		t.Fatalf("member A did not announce three stages:\n%s", aOut)
	}
	_, bOut := startTestMember(t, member)
	to := 40
	for ; !strings.Contains(bOut.String(), "from 'iv3-job-agg3-changelog'"); to += 4 {
		if to > 400 {
			t.Fatalf("member B did not restore a third-stage partition:\n%s", bOut)
		}
		feed(to, to+4)
		time.Sleep(300 * time.Millisecond)
	}
	feed(to, to+4)
	to += 4
	waitScaleOutAndP1(t, addr, "hist", "hist1", readHist, want(to), "two members", []*syncBuffer{aOut, bOut}, pOut)
}
