package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// unionTasks returns the number of tasks of the job's source stage (the stage whose name starts with
// "Source: " and that has a Union), failing when there is not exactly one.
func unionTasks(t *testing.T, j *Job) int {
	t.Helper()
	tasks := map[int]int{}
	for _, a := range j.StageAttempts() {
		if strings.HasPrefix(a.Name, "Source: ") && strings.Contains(a.Name, "Union") {
			tasks[a.Stage] = a.Tasks
		}
	}
	if len(tasks) != 1 {
		t.Fatalf("want one source stage with a Union:\n%s", attemptsOf(j))
	}
	for _, n := range tasks {
		return n
	}
	return 0
}

// A batch source stage that is a UNION ALL of splittable scans (two filesystem tables, a table with itself
// without source reuse, a table with VALUES) runs as P tasks, each reading its share of every scan's files
// (VALUES in task 0): at P = 1, 2, 3 the result equals the streaming result materialized.
func TestBatchUnionSourceTasks(t *testing.T) {
	tables := batchTaskTables(t)
	cases := []struct {
		name, sink, query string
	}{
		{"two tables", "k BIGINT, c BIGINT, s BIGINT",
			"SELECT k, COUNT(*), SUM(x) FROM (SELECT k, id AS x FROM f UNION ALL SELECT k2, k2 * 1000 FROM d) GROUP BY k"},
		{"two tables into the sink", "k BIGINT, x BIGINT",
			"SELECT k, id FROM f WHERE v < 4 UNION ALL SELECT k2, k2 * 1000 FROM d"},
		{"a table with itself", "k BIGINT, c BIGINT, s BIGINT",
			"SELECT k, COUNT(*), SUM(x) FROM (SELECT k, id AS x FROM f WHERE v < 7 UNION ALL SELECT k, -id FROM f WHERE v >= 3) GROUP BY k"},
		{"a table with values", "k BIGINT, c BIGINT, s BIGINT",
			"SELECT k, COUNT(*), SUM(x) FROM (SELECT k, id AS x FROM f UNION ALL SELECT * FROM (VALUES (CAST(1 AS BIGINT), CAST(7 AS BIGINT)), (CAST(99 AS BIGINT), CAST(8 AS BIGINT))) AS t(k, x)) GROUP BY k"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			script := tables + "SET 'table.optimizer.reuse-source-enabled' = 'false';\nCREATE TABLE out_t (" + tc.sink +
				") WITH ('connector' = 'print');\nINSERT INTO out_t " + tc.query + ";"
			lines, notice, _, err := stagedRun(t, script, map[string]string{"execution.runtime-mode": "streaming", "parallelism.default": "1"})
			if err != nil {
				t.Fatalf("streaming: %v\n%s", err, notice)
			}
			want := materializedPrint(t, lines)
			if len(want) < 40 {
				t.Fatalf("too few rows: %q", want)
			}
			for _, par := range []int{1, 2, 3} {
				lines, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": fmt.Sprint(par)})
				if err != nil {
					t.Fatalf("batch at parallelism %d: %v\n%s", par, err, notice)
				}
				if got := materializedPrint(t, lines); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("batch at parallelism %d differs from streaming (%d rows vs %d)\nbatch:\n%.1500s\nstreaming:\n%.1500s",
						par, len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				if n := unionTasks(t, job); n != par {
					t.Fatalf("the union's source stage ran %d tasks at parallelism %d:\n%s", n, par, attemptsOf(job))
				}
			}
		})
	}
}

const unionGenScript = `
CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '20000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '20000');
CREATE TABLE src2 (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '6000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '6000');
CREATE TABLE out_t (k BIGINT, n BIGINT, s BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT MOD(id, 300), COUNT(*), SUM(id) FROM (SELECT id FROM src UNION ALL SELECT id * 7 FROM src2) GROUP BY MOD(id, 300);`

// A fault in one task of a union source stage (two datagen tables: each task its own row ranges of both)
// restarts that task alone, from the start of its own splits of both tables: the other task runs once, the
// failed task reads its 10000 + 3000 rows again, and the result equals a fault-free run at parallelism 1.
func TestBatchUnionSourceFailover(t *testing.T) {
	want, _, _, err := stagedRun(t, unionGenScript, map[string]string{"parallelism.default": "1"})
	if err != nil || len(want) != 300 {
		t.Fatalf("%v: %d rows", err, len(want))
	}
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.id == 1 && task == 1 && attempt == 1 && rows > 0 && !end {
			return errInjected // after its first batch
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, unionGenScript, map[string]string{"parallelism.default": "2"})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from the fault-free run at parallelism 1")
	}
	at := taskAttempts(job)
	if a := at["1/1/1"]; !errors.Is(a.Err, errInjected) || a.Tasks != 2 || !strings.Contains(a.Name, "Union") {
		t.Fatalf("source task 1 attempt 1: %+v\n%s", a, attemptsOf(job))
	}
	for _, k := range []string{"1/0/1", "1/1/2"} {
		if a, ok := at[k]; !ok || a.Err != nil || a.RowsRead != 13000 {
			t.Fatalf("want a successful attempt %s reading 13000 rows:\n%s", k, attemptsOf(job))
		}
	}
	if _, ok := at["1/0/2"]; ok {
		t.Fatalf("source task 0 ran again:\n%s", attemptsOf(job))
	}
	if !strings.Contains(notice, "Restarting stage 1 task 2/2 alone, from the start of its own splits") {
		t.Fatalf("notice:\n%s", notice)
	}
}

// The same over a table unioned with itself (filesystem, no source reuse: two enumerators), at parallelism 3:
// task 1 fails after its first batch (tasks 0 and 2 wait in their first batches until then, so that every
// task has files of its own), runs again alone and reads again the files its failed attempt was handed; tasks 0 and 2
// run once, and every row of both scans is read once by a successful attempt.
func TestBatchUnionSourceFailoverFiles(t *testing.T) {
	script := batchTaskTables(t) + `SET 'table.optimizer.reuse-source-enabled' = 'false';
CREATE TABLE out_t (k BIGINT, c BIGINT, s BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT k, COUNT(*), SUM(x) FROM (SELECT k, id AS x FROM f UNION ALL SELECT k, -id FROM f) GROUP BY k;`
	want, _, _, err := stagedRun(t, script, map[string]string{"parallelism.default": "1"})
	if err != nil || len(want) != 41 {
		t.Fatalf("%v: %d rows", err, len(want))
	}
	failed := make(chan struct{})
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.id != 1 || attempt != 1 || end || rows == 0 {
			return nil
		}
		switch task {
		case 0, 2:
			select { // tasks 0 and 2 wait in their first batches for task 1's failure
			case <-failed:
			case <-time.After(10 * time.Second):
				return fmt.Errorf("task 1 did not fail while task %d was reading", task)
			}
		case 1:
			select {
			case <-failed:
			default:
				close(failed)
				return errInjected
			}
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": "3"})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from the fault-free run at parallelism 1:\n%s", attemptsOf(job))
	}
	at := taskAttempts(job)
	a, b, c, d := at["1/1/1"], at["1/1/2"], at["1/0/1"], at["1/2/1"]
	if !errors.Is(a.Err, errInjected) || b.Err != nil || c.Err != nil || d.Err != nil || a.RowsRead == 0 || c.RowsRead == 0 || d.RowsRead == 0 ||
		b.RowsRead+c.RowsRead+d.RowsRead != 6000 || a.Tasks != 3 {
		t.Fatalf("want task 1 to fail and run again, and the successful attempts to read the 6000 rows once:\n%s", attemptsOf(job))
	}
	if _, ok := at["1/0/2"]; ok {
		t.Fatalf("source task 0 ran again:\n%s", attemptsOf(job))
	}
	if _, ok := at["1/2/2"]; ok {
		t.Fatalf("source task 2 ran again:\n%s", attemptsOf(job))
	}
	if !strings.Contains(notice, "Restarting stage 1 task 2/3 alone, from the start of its own splits") {
		t.Fatalf("notice:\n%s", notice)
	}
}

// A scan's own 'scan.parallelism' sets its subtasks: src at 3 and src2 at the default 2 make a 3-task stage
// in which task 2 reads only src's third row range; the option is honoured (no warning) and the result
// equals parallelism 1.
func TestBatchUnionSourceScanParallelism(t *testing.T) {
	want, _, _, err := stagedRun(t, unionGenScript, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	script := strings.Replace(unionGenScript, "'number-of-rows' = '20000',", "'number-of-rows' = '20000', 'scan.parallelism' = '3',", 1)
	got, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": "2"})
	if err != nil {
		t.Fatalf("%v\n%s", err, notice)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from parallelism 1")
	}
	if n := unionTasks(t, job); n != 3 || strings.Contains(notice, "scan.parallelism") {
		t.Fatalf("want 3 tasks and no warning, got %d:\n%s\n%s", n, attemptsOf(job), notice)
	}
	at := taskAttempts(job)
	if r0, r1, r2 := at["1/0/1"].RowsRead, at["1/1/1"].RowsRead, at["1/2/1"].RowsRead; r0+r1+r2 != 26000 || r2 >= r0 || r2 == 0 {
		t.Fatalf("want src2's 6000 rows in tasks 0 and 1 only, 26000 rows in all:\n%s", attemptsOf(job))
	}
}

// A union of a source that restarts one subtask (datagen) with one that cannot (nexmark) restarts its tasks
// together when one fails: both sources are read again from their starts, and the result is right.
func TestBatchUnionSourceFailoverShared(t *testing.T) {
	script := `CREATE TABLE nx (event_type INT,
  person ROW<id BIGINT, name STRING, emailAddress STRING, creditCard STRING, city STRING, state STRING, dateTime TIMESTAMP(3), extra STRING>,
  auction ROW<id BIGINT, itemName STRING, description STRING, initialBid BIGINT, reserve BIGINT, dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra STRING>,
  bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, dateTime TIMESTAMP(3), extra STRING>) WITH ('connector' = 'nexmark', 'events.num' = '30000',
  'num-event-generators' = '4', 'seed' = '7', 'base-time' = '1436918400000');
CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '6000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '6000');
CREATE TABLE out_t (e BIGINT, c BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT e, COUNT(*) FROM (SELECT CAST(event_type AS BIGINT) AS e FROM nx UNION ALL SELECT MOD(id, 5) + 10 FROM src) GROUP BY e;`
	want, notice, _, err := stagedRun(t, script, map[string]string{"parallelism.default": "1"})
	if err != nil || len(want) != 8 {
		t.Fatalf("%v %q\n%s", err, want, notice)
	}
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.id == 1 && task == 1 && attempt == 1 && rows > 0 && !end {
			return errInjected
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": "2"})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from the fault-free run at parallelism 1:\n%s", attemptsOf(job))
	}
	at := taskAttempts(job)
	a, b := at["1/0/2"], at["1/1/2"]
	if !errors.Is(at["1/1/1"].Err, errInjected) || a.Err != nil || b.Err != nil || a.RowsRead+b.RowsRead != 36000 {
		t.Fatalf("want both source tasks to run again (36000 rows):\n%s", attemptsOf(job))
	}
	if !strings.Contains(notice, "Restarting stage 1 with its 2 tasks") {
		t.Fatalf("notice:\n%s", notice)
	}
}

// A union of two bounded Kafka topics (4 and 2 partitions) at parallelism 2: each task reads its partitions
// of both; task 1 fails after its first batch and reads its 2 + 1 partitions (2500 rows) again alone.
func TestBatchUnionSourceFailoverKafka(t *testing.T) {
	addr := exchangeBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range 4000 {
		recs = append(recs, &kgo.Record{Topic: "bu_a", Partition: int32(i % 4), Value: []byte(fmt.Sprintf(`{"id": %d, "k": %d}`, i, (i*31)%97))})
	}
	for i := range 1000 {
		recs = append(recs, &kgo.Record{Topic: "bu_b", Partition: int32(i % 2), Value: []byte(fmt.Sprintf(`{"id": %d, "k": %d}`, -i, i%50))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`
CREATE TABLE a (id BIGINT, k BIGINT) WITH ('connector' = 'kafka', 'topic' = 'bu_a', 'properties.bootstrap.servers' = '%[1]s',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE b (id BIGINT, k BIGINT) WITH ('connector' = 'kafka', 'topic' = 'bu_b', 'properties.bootstrap.servers' = '%[1]s',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE out_t (k BIGINT, c BIGINT, s BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT k, COUNT(*), SUM(id) FROM (SELECT k, id FROM a UNION ALL SELECT k, id FROM b) GROUP BY k;`, addr)
	want, _, _, err := stagedRun(t, script, map[string]string{"parallelism.default": "1"})
	if err != nil || len(want) != 97 {
		t.Fatalf("%v: %d rows", err, len(want))
	}
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.id == 1 && task == 1 && attempt == 1 && rows > 0 && !end {
			return errInjected
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": "2"})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from the fault-free run at parallelism 1:\n%s", attemptsOf(job))
	}
	at := taskAttempts(job)
	if a, b, c := at["1/1/1"], at["1/1/2"], at["1/0/1"]; !errors.Is(a.Err, errInjected) || b.Err != nil || c.Err != nil ||
		b.RowsRead != 2500 || c.RowsRead != 2500 || !strings.Contains(a.Name, "Union") {
		t.Fatalf("source attempts (want each task to read 2500 rows, task 1 twice):\n%s", attemptsOf(job))
	}
	if _, ok := at["1/0/2"]; ok || !strings.Contains(notice, "Restarting stage 1 task 2/2 alone") {
		t.Fatalf("source task 0 ran again, or notice:\n%s\n%s", attemptsOf(job), notice)
	}
}
