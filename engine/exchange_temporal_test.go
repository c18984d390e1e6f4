package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/sql"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Event-time temporal joins behind an exchange (exchange_ops.go: exchangeTemporalJoin). The versioned table
// rates (debezium-json: no ChangelogNormalize under its watermark; 4 partitions by id) has keys 0..9 with one version at time 0 and keys 10..39 with a
// new version every 2 s (over 3 stages of 20 s); the append stream ords (4 partitions) has, per stage, 1000
// rows out of order within its watermark's 1 s, keys 0..44 (40..44 have no version), a NULL key every 13th
// row, and every 29th row 3 s behind (late; on a key whose only version is at time 0, so its result does not
// depend on when versions are dropped), then one fence row per partition 17 s into the stage (key 999 or NULL) that
// moves the watermark past the stage's rows.

const tjStage = 20000 // ms

type tjRow struct {
	id, t int64
	k     *int64
}

func tjRates() map[int64][][2]int64 { // key → versions (time, v) in time order
	vs := map[int64][][2]int64{}
	for k := int64(0); k < 10; k++ {
		vs[k] = [][2]int64{{0, 1000 + k}}
	}
	for s := int64(0); s < 3*tjStage/2000; s++ {
		for k := int64(10); k < 40; k++ {
			vs[k] = append(vs[k], [2]int64{s*2000 + (k*37)%1000, k*100 + s})
		}
	}
	return vs
}

func tjOrders(stage int) []tjRow {
	var rows []tjRow
	for i := int64(stage) * 1000; i < int64(stage+1)*1000; i++ {
		k := i % 45
		r := tjRow{id: i, t: int64(stage)*tjStage + (i%1000)*12 + (i*7%50)*10, k: &k}
		if i%29 == 0 {
			k = i % 10
			r.t -= 3000
		}
		if i%13 == 0 {
			r.k = nil
		}
		rows = append(rows, r)
	}
	for p := int64(0); p < 4; p++ {
		k := int64(999)
		r := tjRow{id: 1_000_000 + int64(stage)*4 + p, t: int64(stage)*tjStage + 17000, k: &k}
		if p%2 == 0 {
			r.k = nil // waits in the NULL-key bucket across a savepoint
		}
		rows = append(rows, r)
	}
	return rows
}

func produceTemporal(t *testing.T, addr string, rates bool, stage int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	if rates {
		type rv struct{ k, t, v int64 }
		var all []rv
		for k, vs := range tjRates() {
			for _, v := range vs {
				all = append(all, rv{k, v[0], v[1]})
			}
		}
		// in time order (per partition too)
		for i := range all {
			for j := i; j > 0 && (all[j].t < all[j-1].t || all[j].t == all[j-1].t && all[j].k < all[j-1].k); j-- {
				all[j], all[j-1] = all[j-1], all[j]
			}
		}
		last := map[int64]string{}
		for _, r := range all {
			row := fmt.Sprintf(`{"id":%d,"v":%d,"t":%d}`, r.k, r.v, r.t)
			v := fmt.Sprintf(`{"before":null,"after":%s,"op":"c"}`, row)
			if before, ok := last[r.k]; ok {
				v = fmt.Sprintf(`{"before":%s,"after":%s,"op":"u"}`, before, row)
			}
			last[r.k] = row
			recs = append(recs, &kgo.Record{Topic: "rates", Partition: int32(r.k % 4), Value: []byte(v)})
		}
	} else {
		for _, r := range tjOrders(stage) {
			k := "null"
			if r.k != nil {
				k = fmt.Sprint(*r.k)
			}
			recs = append(recs, &kgo.Record{Topic: "ords", Partition: int32(r.id % 4), Value: []byte(fmt.Sprintf(`{"id":%d,"k":%s,"t":%d}`, r.id, k, r.t))})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// tjWant is the LEFT JOIN's compacted output after stages 0..stage: every row of those stages with the
// version valid at its time (the latest at or before it; none: null), the fence rows of the stages before.
func tjWant(stage int) map[string]string {
	vs := tjRates()
	want := map[string]string{}
	for s := 0; s <= stage; s++ {
		for _, r := range tjOrders(s) {
			if r.id >= 1_000_000 && s == stage {
				continue // waits for the next stage's watermark
			}
			k, v := "null", "null"
			if r.k != nil {
				k = fmt.Sprint(*r.k)
				for _, ver := range vs[*r.k] {
					if ver[0] <= r.t {
						v = fmt.Sprint(ver[1])
					}
				}
			}
			want[fmt.Sprintf(`{"id":%d}`, r.id)] = fmt.Sprintf(`{"id":%d,"k":%s,"v":%s}`, r.id, k, v)
		}
	}
	return want
}

const tjTables = `
CREATE TABLE rates (id BIGINT, v BIGINT, t BIGINT, rt AS TO_TIMESTAMP_LTZ(t, 3), WATERMARK FOR rt AS rt - INTERVAL '1' SECOND,
  PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'kafka', 'topic' = 'rates', 'properties.bootstrap.servers' = 'ADDR',
  'format' = 'debezium-json', 'scan.startup.mode' = 'earliest-offset'BOUNDED);
CREATE TABLE ords (id BIGINT, k BIGINT, t BIGINT, rt AS TO_TIMESTAMP_LTZ(t, 3), WATERMARK FOR rt AS rt - INTERVAL '1' SECOND)
  WITH ('connector' = 'kafka', 'topic' = 'ords', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset'BOUNDED);
CREATE TABLE tj (id BIGINT, k BIGINT, v BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka',
  'topic' = 'tj', 'properties.bootstrap.servers' = 'ADDR', 'key.format' = 'json', 'value.format' = 'json');
`

// tjQueries: inner and LEFT temporal joins, and one into a GROUP BY (keyed → keyed).
var tjQueries = []string{
	`SELECT o.id, o.k, r.v FROM ords AS o JOIN rates FOR SYSTEM_TIME AS OF o.rt AS r ON o.k = r.id`,
	`SELECT o.id, o.k, r.v, r.t FROM ords AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.rt AS r ON o.k = r.id`,
	`SELECT r.v % 7, COUNT(*), SUM(o.id) FROM ords AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.rt AS r ON r.id = o.k GROUP BY r.v % 7`,
}

// TestExchangeTemporalParallelismProperty runs tjQueries at parallelism 1 and 3 and compares the
// materialized results; at 3 the join runs behind an exchange (EXPLAIN: hash on both inputs), and the LEFT
// join emits every row once.
func TestExchangeTemporalParallelismProperty(t *testing.T) {
	addr := exchangeBroker(t)
	produceTemporal(t, addr, true, 0)
	for s := range 3 {
		produceTemporal(t, addr, false, s)
	}
	tables := strings.ReplaceAll(strings.ReplaceAll(tjTables, "ADDR", addr), "BOUNDED", ", 'scan.bounded.mode' = 'latest-offset'")
	for qi, q := range tjQueries {
		var want string
		for _, par := range []int{1, 3} {
			s := exchangeSession(t, par)
			execScript(t, s, tables)
			built := exchangesBuilt.Load()
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
			if qi == 1 && len(m.Rows()) != 3*1004 {
				t.Fatalf("%s at parallelism %d: %d rows, want %d", q, par, len(m.Rows()), 3*1004)
			}
			got := sortedLines(m.Rows())
			if n := exchangesBuilt.Load() - built; (par > 1) != (n == int64(1+qi/2)) {
				t.Fatalf("%s at parallelism %d: %d exchanges built", q, par, n)
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

// TestExchangeTemporalRescaleSavepoint runs the LEFT temporal join into upsert-kafka at parallelism 2, stops
// it with a savepoint, restores at 3, then at 1, with a stage of rows more each time: the output is exact,
// so the waiting left rows (NULL keys included) and the versions were cut with the sources' positions and
// redistributed by key.
func TestExchangeTemporalRescaleSavepoint(t *testing.T) {
	addr := exchangeBroker(t)
	produceTemporal(t, addr, true, 0)
	dir := t.TempDir()
	savepoint := ""
	insert := `INSERT INTO tj SELECT o.id, o.k, r.v FROM ords AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.rt AS r ON o.k = r.id`
	for stage, par := range []int{2, 3, 1} {
		produceTemporal(t, addr, false, stage)
		s := exchangeSession(t, par)
		script := strings.ReplaceAll(strings.ReplaceAll(tjTables, "ADDR", addr), "BOUNDED", "")
		if savepoint != "" {
			script += fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", savepoint)
		}
		execScript(t, s, script)
		built := exchangesBuilt.Load()
		st, err := sql.ParseStatement(insert)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Execute(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		if n := exchangesBuilt.Load() - built; (par > 1) != (n == 1) {
			t.Fatalf("parallelism %d: %d exchanges built", par, n)
		}
		waitUpsert(t, addr, "tj", tjWant(stage))
		if savepoint, err = res.Job.Stop(context.Background(), dir, false); err != nil {
			t.Fatalf("parallelism %d: stop: %v", par, err)
		}
		if err := res.Job.Wait(context.Background()); err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
	}
}
