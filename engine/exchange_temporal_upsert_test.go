package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/sql"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Event-time temporal joins against an upsert-kafka versioned table. The table's WATERMARK runs below its
// ChangelogNormalize (planner/watermark_normalize.go), per partition in the source (subtasks), so the
// normalize runs behind an exchange and sends keyed → keyed into the join's exchange. The data are those of
// exchange_temporal_test.go, the versions written as upsert records (key {"id":k}) into partition k % 4,
// each partition in time order.

// produceRecords writes recs (their topic and partition set) synchronously.
func produceRecords(t *testing.T, addr string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// upsertRateRecords returns tjRates as upsert records of topic urates, key k in partition k % 4, in time order.
func upsertRateRecords() []*kgo.Record {
	type rv struct{ k, t, v int64 }
	var all []rv
	for k, vs := range tjRates() {
		for _, v := range vs {
			all = append(all, rv{k, v[0], v[1]})
		}
	}
	slices.SortFunc(all, func(a, b rv) int {
		if a.t != b.t {
			return int(a.t - b.t)
		}
		return int(a.k - b.k)
	})
	var recs []*kgo.Record
	for _, r := range all {
		recs = append(recs, &kgo.Record{Topic: "urates", Partition: int32(r.k % 4), Key: []byte(fmt.Sprintf(`{"id":%d}`, r.k)),
			Value: []byte(fmt.Sprintf(`{"id":%d,"v":%d,"t":%d}`, r.k, r.v, r.t))})
	}
	return recs
}

const tjUpsertTables = `
CREATE TABLE rates (id BIGINT, v BIGINT, t BIGINT, rt AS TO_TIMESTAMP_LTZ(t, 3), WATERMARK FOR rt AS rt - INTERVAL '1' SECOND,
  PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'urates', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json'BOUNDED);
CREATE TABLE ords (id BIGINT, k BIGINT, t BIGINT, rt AS TO_TIMESTAMP_LTZ(t, 3), WATERMARK FOR rt AS rt - INTERVAL '1' SECOND)
  WITH ('connector' = 'kafka', 'topic' = 'ords', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset'BOUNDED);
CREATE TABLE tj (id BIGINT, k BIGINT, v BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka',
  'topic' = 'tj', 'properties.bootstrap.servers' = 'ADDR', 'key.format' = 'json', 'value.format' = 'json');
`

// TestExchangeTemporalUpsertParallelismProperty runs tjQueries against the upsert-kafka versioned table at
// parallelism 1 and 3: the materialized results are equal, the LEFT join's is the expected one (every row
// with the version valid at its time: no version was late), and at 3 the normalize and the join run behind
// exchanges, the normalize's subtasks sending into the join's (keyed → keyed).
func TestExchangeTemporalUpsertParallelismProperty(t *testing.T) {
	addr := exchangeBroker(t)
	produceRecords(t, addr, upsertRateRecords())
	for s := range 3 {
		produceTemporal(t, addr, false, s)
	}
	tables := strings.ReplaceAll(strings.ReplaceAll(tjUpsertTables, "ADDR", addr), "BOUNDED", ", 'scan.bounded.mode' = 'latest-offset'")
	for qi, q := range tjQueries {
		var want string
		for _, par := range []int{1, 3} {
			s := exchangeSession(t, par)
			execScript(t, s, tables)
			built, keyed := exchangesBuilt.Load(), keyedExchangesBuilt.Load()
			rows, _, err := queryRows(context.Background(), s, q, ModeStreaming)
			if err != nil {
				t.Fatalf("%s at parallelism %d: %v", q, par, err)
			}
			m := changelog.NewMaterializer(nil)
			for _, r := range rows {
				if err := m.Apply(r); err != nil {
					t.Fatalf("%s at parallelism %d: materialize: %v", q, par, err)
				}
			}
			got := sortedLines(m.Rows())
			if qi == 1 {
				if exp := tjLeftWant(); got != exp {
					t.Fatalf("%s at parallelism %d: not the expected rows\ngot:\n%.2000s\nwant:\n%.2000s", q, par, got, exp)
				}
			}
			// normalize, join (and the GROUP BY): all behind exchanges at parallelism 3
			if n := exchangesBuilt.Load() - built; (par > 1) != (n == int64(2+qi/2)) {
				t.Fatalf("%s at parallelism %d: %d exchanges built", q, par, n)
			}
			if n := keyedExchangesBuilt.Load() - keyed; (par > 1) != (n == int64(1+qi/2)) {
				t.Fatalf("%s at parallelism %d: %d keyed → keyed exchanges built", q, par, n)
			}
			if par == 1 {
				want = got
				if strings.Count(want, "\n") < 5 {
					t.Fatalf("%s: too few rows to compare:\n%s", q, want)
				}
				continue
			}
			explainsHashExchange(t, s, q)
			if got != want {
				t.Fatalf("%s: parallelism %d differs from parallelism 1\ngot:\n%.3000s\nwant:\n%.3000s", q, par, got, want)
			}
		}
	}
}

// tjLeftWant is tjQueries[1]'s result over the 3 stages (bounded: the fence rows join too), as sortedLines
// prints it.
func tjLeftWant() string {
	vs := tjRates()
	var rows []string
	for s := range 3 {
		for _, r := range tjOrders(s) {
			k, v, vt := "null", "null", "null"
			if r.k != nil {
				k = fmt.Sprint(*r.k)
				for _, ver := range vs[*r.k] {
					if ver[0] <= r.t {
						v, vt = fmt.Sprint(ver[1]), fmt.Sprint(ver[0])
					}
				}
			}
			rows = append(rows, fmt.Sprintf("+I[%d, %s, %s, %s]", r.id, k, v, vt))
		}
	}
	slices.Sort(rows)
	return strings.Join(rows, "\n")
}

// TestExchangeTemporalUpsertRescaleSavepoint runs the LEFT temporal join against the upsert-kafka table into
// upsert-kafka at parallelism 2, stops it with a savepoint, restores at 3, then at 1, with a stage of rows
// more each time: the output is exact (the normalize's state, the join's and the watermark restore at any
// parallelism).
func TestExchangeTemporalUpsertRescaleSavepoint(t *testing.T) {
	addr := exchangeBroker(t)
	produceRecords(t, addr, upsertRateRecords())
	dir := t.TempDir()
	savepoint := ""
	insert := `INSERT INTO tj SELECT o.id, o.k, r.v FROM ords AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.rt AS r ON o.k = r.id`
	for stage, par := range []int{2, 3, 1} {
		produceTemporal(t, addr, false, stage)
		s := exchangeSession(t, par)
		script := strings.ReplaceAll(strings.ReplaceAll(tjUpsertTables, "ADDR", addr), "BOUNDED", "")
		if savepoint != "" {
			script += fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", savepoint)
		}
		execScript(t, s, script)
		built, keyed := exchangesBuilt.Load(), keyedExchangesBuilt.Load()
		res := executeInsert(t, s, insert)
		if n := exchangesBuilt.Load() - built; (par > 1) != (n == 2) {
			t.Fatalf("parallelism %d: %d exchanges built", par, n)
		}
		if n := keyedExchangesBuilt.Load() - keyed; (par > 1) != (n == 1) {
			t.Fatalf("parallelism %d: %d keyed → keyed exchanges built", par, n)
		}
		waitUpsert(t, addr, "tj", tjWant(stage))
		var err error
		if savepoint, err = res.Job.Stop(context.Background(), dir, false); err != nil {
			t.Fatalf("parallelism %d: stop: %v", par, err)
		}
		if err := res.Job.Wait(context.Background()); err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
	}
}

func executeInsert(t *testing.T, s *Session, insert string) *Result {
	t.Helper()
	st, err := sql.ParseStatement(insert)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(res.Job.Cancel)
	return res
}

// TestExchangeTemporalUpsertReused joins each order with the upsert-kafka versioned table twice: the table's
// scan is read once for both (source reuse), each branch with its own per-split watermark assigner under its
// own normalize. Parallelism 1 and 3 give the expected rows (both joins the version valid at the order's
// time).
func TestExchangeTemporalUpsertReused(t *testing.T) {
	addr := exchangeBroker(t)
	produceRecords(t, addr, upsertRateRecords())
	produceTemporal(t, addr, false, 0)
	tables := strings.ReplaceAll(strings.ReplaceAll(tjUpsertTables, "ADDR", addr), "BOUNDED", ", 'scan.bounded.mode' = 'latest-offset'")
	q := `SELECT o.id, r.v, r2.v FROM ords AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.rt AS r ON o.k = r.id
		LEFT JOIN rates FOR SYSTEM_TIME AS OF o.rt AS r2 ON o.k = r2.id`
	vs := tjRates()
	var exp []string
	for _, r := range tjOrders(0) {
		v := "null"
		if r.k != nil {
			for _, ver := range vs[*r.k] {
				if ver[0] <= r.t {
					v = fmt.Sprint(ver[1])
				}
			}
		}
		exp = append(exp, fmt.Sprintf("+I[%d, %s, %s]", r.id, v, v))
	}
	slices.Sort(exp)
	for _, par := range []int{1, 3} {
		s := exchangeSession(t, par)
		execScript(t, s, tables)
		rows, _, err := queryRows(context.Background(), s, q, ModeStreaming)
		if err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
		m := changelog.NewMaterializer(nil)
		for _, r := range rows {
			if err := m.Apply(r); err != nil {
				t.Fatal(err)
			}
		}
		if got := sortedLines(m.Rows()); got != strings.Join(exp, "\n") {
			t.Fatalf("parallelism %d: not the expected rows\ngot:\n%.2000s\nwant:\n%.2000s", par, got, strings.Join(exp, "\n"))
		}
	}
}
