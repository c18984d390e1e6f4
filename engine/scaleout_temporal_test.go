package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/sql"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Scale-out event-time temporal joins (scaleout_temporal.go): in-process members and a P=1 run of the same
// query. The probe side orders (2 partitions) has 4 orders per second, order i at second i/4 on partition
// i % 2 with key i % 12 (every 17th key NULL; keys 10 and 11 never have a version); the versioned table
// rates (PRIMARY KEY k, 2 partitions) has a version of key k every 3 s from second k % 3 on, on partition
// k % 2, rate k*1000 + its second. Each partition's rows are in time order, so no row is late and every
// order's result is the version valid at its time.

// tjData is what a test produced, to compute the expected join.
type tjData struct {
	orders []tjOrder
	rates  map[int][]int // key → the seconds of its versions, ascending
}

type tjOrder struct{ id, key, sec int } // key -1: NULL

func tjTime(sec int) string {
	return windowTestBase.Add(time.Duration(sec) * time.Second).Format("2006-01-02 15:04:05.000")
}

// secondsTo writes the orders and versions of seconds from..to-1 (versions: of rates partition part only,
// or both when part < 0).
func (d *tjData) secondsTo(from, to int, orders bool, ratePart int) []*kgo.Record {
	var recs []*kgo.Record
	for s := from; s < to; s++ {
		for k := range 10 {
			if s%3 != k%3 || (ratePart >= 0 && k%2 != ratePart) {
				continue
			}
			if d.rates == nil {
				d.rates = map[int][]int{}
			}
			d.rates[k] = append(d.rates[k], s)
			recs = append(recs, &kgo.Record{Topic: "rates", Partition: int32(k % 2),
				Value: fmt.Appendf(nil, `{"k":%d,"rate":%d,"rt":"%s"}`, k, k*1000+s, tjTime(s))})
		}
		if !orders {
			continue
		}
		for i := 4 * s; i < 4*s+4; i++ {
			key, kj := i%12, fmt.Sprint(i%12)
			if i%17 == 0 {
				key, kj = -1, "null"
			}
			d.orders = append(d.orders, tjOrder{i, key, s})
			recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(i % 2),
				Value: fmt.Appendf(nil, `{"id":%d,"k":%s,"ts":"%s"}`, i, kj, tjTime(s))})
		}
	}
	return recs
}

// want is the join's rows ("id/rate", rate "-" when NULL-padded) once the watermark is at second wm: the
// orders at or before it, each with the rate of its key valid at its time (inner: only those with one).
func (d *tjData) want(outer bool, wm int) []string {
	var out []string
	for _, o := range d.orders {
		if o.sec > wm {
			continue
		}
		rate := "-"
		if o.key >= 0 {
			for _, s := range d.rates[o.key] {
				if s <= o.sec {
					rate = fmt.Sprint(o.key*1000 + s)
				}
			}
		}
		if rate == "-" && !outer {
			continue
		}
		out = append(out, fmt.Sprintf("%d/%s", o.id, rate))
	}
	slices.Sort(out)
	return out
}

// readPriced reads the joined rows of the kafka topic (read_committed), as want writes them.
func readPriced(t *testing.T, addr, topic string) []string {
	var out []string
	for _, r := range readCommitted(t, addr, topic) {
		var v struct {
			ID   int64  `json:"id"`
			Rate *int64 `json:"rate"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable row %q", r.Value)
		}
		rate := "-"
		if v.Rate != nil {
			rate = fmt.Sprint(*v.Rate)
		}
		out = append(out, fmt.Sprintf("%d/%s", v.ID, rate))
	}
	slices.Sort(out)
	return out
}

const ordersRatesDDL = `CREATE TABLE orders (id BIGINT, k BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE rates (k BIGINT, rate BIGINT, rt TIMESTAMP(3),
  WATERMARK FOR rt AS rt - INTERVAL '1' SECOND, PRIMARY KEY (k) NOT ENFORCED) WITH (
  'connector' = 'kafka', 'topic' = 'rates', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json')`

func pricedDDL(topic string) string {
	return `CREATE TABLE ` + topic + ` (id BIGINT, k BIGINT, rate BIGINT) WITH (
  'connector' = 'kafka', 'topic' = '` + topic + `', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json')`
}

func temporalInsert(topic, kind string) string {
	return `INSERT INTO ` + topic + ` SELECT o.id, o.k, r.rate FROM orders AS o ` + kind + ` JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r
  ON o.k = r.k WHERE o.id >= 0`
}

// temporalScripts are a scale-out member's and a P=1 job's scripts of the join of the given kind.
func temporalScripts(addr, kind string) (member, single string) {
	member = strings.ReplaceAll(strings.Join([]string{
		`SET 'sluice.scale-out.enabled' = 'true'`,
		`SET 'pipeline.name' = 'temporal-job'`,
		`SET 'sluice.scale-out.session-timeout' = '2 s'`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s'`,
		ordersRatesDDL, pricedDDL("priced"), temporalInsert("priced", kind)}, ";\n")+";\n", "ADDR", addr)
	single = strings.ReplaceAll(strings.Join([]string{ordersRatesDDL, pricedDDL("priced1"), temporalInsert("priced1", kind)}, ";\n")+";\n", "ADDR", addr)
	return member, single
}

func temporalCluster(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(2, "orders"), kfake.SeedTopics(2, "rates"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// TestScaleOutTemporalJoinMembersInProcess: a LEFT temporal join run by in-process members (the second joins
// mid-run, then leaves and the first takes its partitions over, restoring their waiting orders, versions and
// watermarks from the changelog) and by a P=1 job of the same query. Rates partition 1 lags at first: its
// watermark holds every order back until it catches up. At every phase both jobs' rows (read_committed) are
// exactly the expected ones, each once.
func TestScaleOutTemporalJoinMembersInProcess(t *testing.T) {
	addr := temporalCluster(t)
	d := &tjData{}
	// Phase 1: orders and rates partition 0 to second 29, rates partition 1 to second 14: the watermark is
	// 13 s.
	recs := d.secondsTo(0, 15, true, -1)
	recs = append(recs, d.secondsTo(15, 30, true, 0)...)
	produceRecords(t, addr, recs)
	script, single := temporalScripts(addr, "LEFT")
	a, aOut := startTestMember(t, script)
	startTestMember(t, single)
	check := func(what string, wm int, outs ...*syncBuffer) {
		t.Helper()
		want := d.want(true, wm)
		var got, got1 []string
		if !waitUntil(40*time.Second, func() bool {
			got, got1 = readPriced(t, addr, "priced"), readPriced(t, addr, "priced1")
			return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
		}) {
			var texts []string
			for _, o := range outs {
				texts = append(texts, o.String())
			}
			t.Fatalf("%s: scale-out %d rows, P=1 %d rows, want %d\nscale-out only %v\nmissing %v\nP=1 only %v\nP=1 missing %v\n%s",
				what, len(got), len(got1), len(want), minus(got, want), minus(want, got), minus(got1, want), minus(want, got1), strings.Join(texts, "\n---\n"))
		}
	}
	check("phase 1", 13, aOut)
	// The second member joins; rates partition 1 catches up, then everything goes on to 60 s in steps.
	b, bOut := startTestMember(t, script)
	produceRecords(t, addr, d.secondsTo(15, 30, false, 1))
	for to := 30; to < 60; to += 3 {
		produceRecords(t, addr, d.secondsTo(to, to+3, true, -1))
		if !strings.Contains(bOut.String(), "restored partitions") {
			time.Sleep(500 * time.Millisecond)
		}
	}
	check("phase 2", 58, aOut, bOut)
	if !strings.Contains(bOut.String(), "restored partitions") {
		t.Fatalf("the second member did not take partitions:\n%s", bOut)
	}
	if a.Metrics().RowsOut == 0 || b.Metrics().RowsOut == 0 {
		t.Fatalf("rows out %d and %d: both members should have joined rows\n%s\n---\n%s", a.Metrics().RowsOut, b.Metrics().RowsOut, aOut, bOut)
	}
	// Orders partition 0 goes on alone to 70 s (its orders wait: the others hold the watermark back); the
	// second member leaves and the first restores its partitions, waiting orders included. Then the others
	// go on to 70 s.
	var alone, rest []*kgo.Record
	for _, r := range d.secondsTo(60, 70, true, -1) {
		if r.Topic == "orders" && r.Partition == 0 {
			alone = append(alone, r)
		} else {
			rest = append(rest, r)
		}
	}
	produceRecords(t, addr, alone)
	time.Sleep(time.Second)
	restores := strings.Count(aOut.String(), "restored partitions")
	b.Cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = b.Wait(ctx)
	produceRecords(t, addr, rest)
	check("phase 3", 68, aOut)
	if strings.Count(aOut.String(), "restored partitions") == restores {
		t.Fatalf("the first member did not take the second's partitions:\n%s", aOut)
	}
}

// TestScaleOutTemporalJoinRefused: what a scale-out temporal join does not run is refused at submit,
// saying what and how to fix it.
func TestScaleOutTemporalJoinRefused(t *testing.T) {
	addr := temporalCluster(t)
	member, _ := temporalScripts(addr, "LEFT")
	head := member[:strings.Index(member, "INSERT INTO")]
	cdc := strings.ReplaceAll(`CREATE TABLE rates_cdc (k BIGINT, rate BIGINT, rt TIMESTAMP(3),
  WATERMARK FOR rt AS rt - INTERVAL '1' SECOND, PRIMARY KEY (k) NOT ENFORCED) WITH (
  'connector' = 'kafka', 'topic' = 'rates', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'debezium-json');
CREATE TABLE orders_int (id BIGINT, k INT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE rates_up (k BIGINT, rate BIGINT, rt TIMESTAMP(3),
  WATERMARK FOR rt AS rt - INTERVAL '1' SECOND, PRIMARY KEY (k) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'rates', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE counts (k BIGINT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'counts', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
`, "ADDR", addr)
	for _, c := range []struct{ name, stmts, want string }{
		{"changelog probe table", `INSERT INTO priced SELECT o.k, o.k, r.rate FROM rates_cdc AS o JOIN rates FOR SYSTEM_TIME AS OF o.rt AS r ON o.k = r.k`,
			"kafka table 'rates_cdc' has the changelog format 'debezium-json'; scale-out reads insert-only formats"},
		{"upsert versioned table joined on a column outside its key", `INSERT INTO priced SELECT o.id, o.k, r.rate FROM orders AS o JOIN rates_up FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k AND o.id = r.rate`,
			"the temporal join's versioned table is an upsert table read through ChangelogNormalize(key=[k]), and the join key 'rate' is not one of its PRIMARY KEY columns (k): a scale-out member partitions the versioned rows by the join key, so every join key on the versioned side must be a PRIMARY KEY column; join on the PRIMARY KEY columns only"},
		{"state ttl", `SET 'table.exec.state.ttl' = '1 h';
INSERT INTO priced SELECT o.id, o.k, r.rate FROM orders AS o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k`,
			"'table.exec.state.ttl' cannot be used with a scale-out temporal join: it does not expire the join's state (nor does the P=1 join; its state is bounded by the watermark); RESET 'table.exec.state.ttl'"},
		{"key types", `INSERT INTO priced SELECT o.id, o.k, r.rate FROM orders_int AS o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k`,
			"the temporal join's key 1 has the type INT on the left and BIGINT on the versioned table; CAST the left side's column to BIGINT so that both have the same type"},
		{"three group bys over the join", `INSERT INTO counts SELECT c, COUNT(*) FROM (SELECT n, COUNT(*) AS c FROM (SELECT o.k, COUNT(*) AS n FROM orders AS o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k GROUP BY o.k) GROUP BY n) GROUP BY c`,
			": a join under three GROUP BY levels is four keyed stages (a scale-out job runs at most three: a GROUP BY over a GROUP BY over a join or over a GROUP BY of a table scan); write an inner result to a kafka table and aggregate it in another job"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := &syncBuffer{}
			s, err := NewSession(Config{Stdout: out, Stderr: out, Notice: out, TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			stmts, err := sql.ParseScript(head + cdc + c.stmts + ";\n")
			if err != nil {
				t.Fatal(err)
			}
			var last error
			for _, st := range stmts {
				res, err := s.Execute(context.Background(), st)
				if res != nil && res.Job != nil {
					res.Job.Cancel()
				}
				last = err
				if err != nil {
					break
				}
			}
			if last == nil || !strings.Contains(last.Error(), c.want) {
				t.Fatalf("got %v\nwant an error containing %q", last, c.want)
			}
		})
	}
}

// TestScaleOutTemporalJoinInnerInProcess: an inner temporal join run by a scale-out member gives the rows of
// a P=1 job of the same query, each once (orders without a version are dropped), with rates partition 1
// lagging (it holds every order back) and then catching up.
func TestScaleOutTemporalJoinInnerInProcess(t *testing.T) {
	addr := temporalCluster(t)
	d := &tjData{}
	recs := d.secondsTo(0, 10, true, -1)
	recs = append(recs, d.secondsTo(10, 25, true, 0)...)
	produceRecords(t, addr, recs)
	script, single := temporalScripts(addr, "INNER")
	_, out := startTestMember(t, script)
	startTestMember(t, single)
	check := func(what string, wm int) {
		t.Helper()
		want := d.want(false, wm)
		var got, got1 []string
		if !waitUntil(30*time.Second, func() bool {
			got, got1 = readPriced(t, addr, "priced"), readPriced(t, addr, "priced1")
			return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
		}) {
			t.Fatalf("%s: scale-out %d rows, P=1 %d rows, want %d\nscale-out only %v\nmissing %v\nP=1 only %v\nP=1 missing %v\n%s",
				what, len(got), len(got1), len(want), minus(got, want), minus(want, got), minus(got1, want), minus(want, got1), out)
		}
	}
	check("rates partition 1 lags", 8)
	produceRecords(t, addr, d.secondsTo(10, 25, false, 1))
	check("rates partition 1 caught up", 23)
}
