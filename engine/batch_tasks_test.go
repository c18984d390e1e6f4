package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// batchTaskTables writes two directories of CSV files: f (10 files, 3000 rows, 41 keys, event time) and d
// (3 files, 45 keys, 5..49: some keys of f have no match in d and the reverse).
func batchTaskTables(t *testing.T) string {
	t.Helper()
	fdir, ddir := t.TempDir(), t.TempDir()
	for f := range 10 {
		var b strings.Builder
		for i := f * 300; i < (f+1)*300; i++ {
			fmt.Fprintf(&b, "%d,%d,%d,2024-01-01 00:%02d:%02d\n", i, i%41, i%13, i/60, i%60)
		}
		if err := os.WriteFile(filepath.Join(fdir, fmt.Sprintf("part-%02d.csv", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for f := range 3 {
		var b strings.Builder
		for k := 5 + f*15; k < 5+(f+1)*15; k++ {
			fmt.Fprintf(&b, "%d,n%d\n", k, k)
		}
		if err := os.WriteFile(filepath.Join(ddir, fmt.Sprintf("d-%d.csv", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf(`
CREATE TABLE f (id BIGINT, k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' HOUR)
  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
CREATE TABLE d (k2 BIGINT, name STRING) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
`, fdir, ddir)
}

// stripTask removes the task number that a print sink with several tasks puts in front of a line ('2> ').
func stripTask(l string) string {
	if i := strings.Index(l, "> "); i > 0 && strings.Trim(l[:i], "0123456789") == "" {
		return l[i+2:]
	}
	return l
}

// materializedPrint applies the changelog lines a print sink wrote ("+I[...]", "-U[...]", ...; a task's
// number in front is dropped) and returns the final rows, sorted.

func materializedPrint(t *testing.T, lines []string) []string {
	t.Helper()
	live := map[string]int{}
	for _, l := range lines {
		if l == "" {
			continue
		}
		l = stripTask(l)
		if len(l) < 3 {
			t.Fatalf("print line %q", l)
		}
		switch row := l[2:]; l[:2] {
		case "+I", "+U":
			live[row]++
		case "-U", "-D":
			if live[row] == 0 {
				t.Fatalf("retraction of a row that is not there: %q", l)
			}
			live[row]--
		default:
			t.Fatalf("print line %q", l)
		}
	}
	var out []string
	for row, n := range live {
		for range n {
			out = append(out, row)
		}
	}
	sort.Strings(out)
	return out
}

// Keyed batch stages run as P tasks over hash-partitioned intermediate files: GROUP BY (and a GROUP BY over
// a GROUP BY: a 3-task stage feeding a 3-task stage), inner / left / full joins, Top-N, OVER give at
// parallelism 3 the result of parallelism 1, which equals the streaming result materialized.
func TestBatchTasksParallelismProperty(t *testing.T) {
	tables := batchTaskTables(t)
	cases := []struct {
		name, sink, query string
		keyedStages       int // stages that run as P tasks at P = 3
	}{
		{"group by", "k BIGINT, c BIGINT, s BIGINT, m BIGINT",
			"SELECT k, COUNT(*), SUM(v), MAX(id) FROM f GROUP BY k", 1},
		{"group by over group by", "c BIGINT, n BIGINT",
			"SELECT c, COUNT(*) FROM (SELECT k, COUNT(*) AS c FROM f WHERE v < 7 GROUP BY k, v) GROUP BY c", 2},
		{"inner join", "id BIGINT, name STRING",
			"SELECT f.id, d.name FROM f JOIN d ON f.k = d.k2 WHERE f.v < 5", 1},
		{"left join", "id BIGINT, name STRING",
			"SELECT f.id, d.name FROM f LEFT JOIN d ON f.k = d.k2", 1},
		{"full join", "id BIGINT, k2 BIGINT, name STRING",
			"SELECT f.id, d.k2, d.name FROM f FULL JOIN d ON f.k = d.k2 AND f.v = 3", 1},
		{"top-n", "k BIGINT, id BIGINT, v BIGINT",
			"SELECT k, id, v FROM (SELECT k, id, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC, id) AS rn FROM f) WHERE rn <= 3", 1},
		{"over", "id BIGINT, k BIGINT, s BIGINT",
			"SELECT id, k, SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM f", 1},
		{"global aggregate", "c BIGINT, s BIGINT",
			"SELECT COUNT(*), SUM(v) FROM f", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			script := tables + "CREATE TABLE out_t (" + tc.sink + ") WITH ('connector' = 'print');\nINSERT INTO out_t " + tc.query + ";"
			lines, notice, _, err := stagedRun(t, script, map[string]string{"execution.runtime-mode": "streaming", "parallelism.default": "1"})
			if err != nil {
				t.Fatalf("streaming: %v\n%s", err, notice)
			}
			want := materializedPrint(t, lines)
			if len(want) == 0 {
				t.Fatalf("too few rows: %q", want)
			}
			for _, par := range []int{1, 3} {
				lines, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": fmt.Sprint(par)})
				if err != nil {
					t.Fatalf("batch at parallelism %d: %v\n%s", par, err, notice)
				}
				for _, l := range lines {
					if !strings.HasPrefix(l, "+I[") {
						t.Fatalf("batch at parallelism %d printed %q", par, l)
					}
				}
				if got := materializedPrint(t, lines); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("batch at parallelism %d differs from streaming (%d rows vs %d)\nbatch:\n%.1500s\nstreaming:\n%.1500s",
						par, len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				tasks, source, sink := map[int]int{}, map[int]bool{}, map[int]bool{}
				for _, a := range job.StageAttempts() {
					if a.Err != nil || a.Attempt != 1 || a.Tasks != par && a.Tasks != 1 {
						t.Fatalf("unexpected attempt %+v", a)
					}
					tasks[a.Stage]++
					source[a.Stage] = strings.HasPrefix(a.Name, "Source: ")
					sink[a.Stage] = strings.HasPrefix(a.Name, "Sink: ")
				}
				keyed := 0
				for st, n := range tasks {
					switch {
					case source[st] && n != par:
						t.Fatalf("source stage %d ran %d tasks at parallelism %d (the files are split over the tasks):\n%s", st, n, par, attemptsOf(job))
					case sink[st] && n != par:
						t.Fatalf("print sink stage %d ran %d tasks at parallelism %d:\n%s", st, n, par, attemptsOf(job))
					case source[st], sink[st], n == 1:
					case n == par:
						keyed++
					default:
						t.Fatalf("stage %d ran %d tasks at parallelism %d:\n%s", st, n, par, attemptsOf(job))
					}
				}
				if par > 1 && keyed != tc.keyedStages {
					t.Fatalf("%d stages ran as %d tasks, want %d:\n%s", keyed, par, tc.keyedStages, attemptsOf(job))
				}
			}
		})
	}
}

// taskAttempts indexes a job's attempts by "stage/task/attempt".
func taskAttempts(j *Job) map[string]StageAttempt {
	m := map[string]StageAttempt{}
	for _, a := range j.StageAttempts() {
		m[fmt.Sprintf("%d/%d/%d", a.Stage, a.Task, a.Attempt)] = a
	}
	return m
}

// A fault in one task of the aggregate stage (source → 3 aggregate tasks → sink) restarts that task alone: it
// reads its subpartition of the source stage's file again, the other tasks and stages run once.
func TestBatchTaskFailover(t *testing.T) {
	want, _, _, err := stagedRun(t, aggScript, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if strings.Contains(st.name, "SortAggregate") && task == 1 && attempt == 1 && end {
			return errInjected // after reading its whole input
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, aggScript, map[string]string{"parallelism.default": "3"})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from the fault-free run at parallelism 1")
	}
	at := taskAttempts(job)
	var src, agg int64
	for k, a := range at {
		switch {
		case a.Stage == 1:
			if a.Attempt != 1 || a.Err != nil {
				t.Fatalf("source stage attempt %s: %+v", k, a)
			}
			src += a.RowsRead
		case a.Stage == 2 && a.Task != 1:
			if a.Attempt != 1 || a.Err != nil || a.Tasks != 3 {
				t.Fatalf("aggregate attempt %s: %+v", k, a)
			}
			agg += a.RowsRead
		}
	}
	f, r := at["2/1/1"], at["2/1/2"]
	if f.Err == nil || !errors.Is(f.Err, errInjected) || r.Err != nil || r.RowsRead != f.RowsRead || r.RowsRead == 0 {
		t.Fatalf("task 1 of the aggregate: attempt 1 %+v, attempt 2 %+v\n%s", f, r, attemptsOf(job))
	}
	agg += r.RowsRead
	perStage := map[int]int{}
	var sinkRows int64
	for _, a := range at {
		perStage[a.Stage]++
		if a.Stage == 3 {
			sinkRows += a.RowsRead
		}
	}
	if perStage[2] != 4 || perStage[3] != 3 {
		t.Fatalf("want 4 attempts of the aggregate stage (3 tasks, one restart) and 3 of the sink (3 tasks):\n%s", attemptsOf(job))
	}
	if src != 20000 || agg != 20000 || sinkRows != 300 || len(at) != len(job.StageAttempts()) {
		t.Fatalf("rows read: source %d, aggregate tasks %d (want 20000 each), sink tasks %d (want 300)\n%s", src, agg, sinkRows, attemptsOf(job))
	}
	if m := job.Metrics(); m.RowsIn != 20000 {
		t.Fatalf("the source read %d rows, want 20000 (once)", m.RowsIn)
	}
	if !strings.Contains(notice, "stage 2 (SortAggregate -> Calc) task 2/3 failed: injected fault") ||
		!strings.Contains(notice, fmt.Sprintf("Restarting stage 2 task 2/3 alone, from the intermediate results of its inputs (%d rows)", r.RowsRead)) {
		t.Fatalf("notice:\n%s", notice)
	}
}

const agg2Script = `
CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '20000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '20000');
CREATE TABLE out_t (c BIGINT, n BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT k2, SUM(c) FROM (SELECT MOD(id, 300) AS k, MOD(id, 300) / 10 AS k2, COUNT(*) AS c FROM src
  GROUP BY MOD(id, 300), MOD(id, 300) / 10) GROUP BY k2;`

// When a file that a task reads is gone, only the producer task that wrote it runs again (from its own
// subpartition of its input), then the consumer task.
func TestBatchTaskPredecessorRerun(t *testing.T) {
	want, _, _, err := stagedRun(t, agg2Script, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 30 {
		t.Fatalf("want 30 rows: %q", want)
	}
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.id == 3 && task == 1 && attempt == 1 && end && rows > 0 {
			if err := os.Remove(st.inputs[0].file(0, 1)); err != nil { // task 0 of stage 2, subpartition 1
				return err
			}
			return errInjected
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, agg2Script, map[string]string{"parallelism.default": "2"})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from the fault-free run at parallelism 1:\n%s\n%s", got, want)
	}
	at := taskAttempts(job)
	for _, k := range []string{"2/0/2", "3/1/2"} {
		if a, ok := at[k]; !ok || a.Err != nil {
			t.Fatalf("want a successful attempt %s:\n%s", k, attemptsOf(job))
		}
	}
	if a, b := at["2/0/1"], at["2/0/2"]; a.RowsRead != b.RowsRead || a.RowsRead == 0 {
		t.Fatalf("stage 2 task 0 read %d then %d rows\n%s", a.RowsRead, b.RowsRead, attemptsOf(job))
	}
	if a, b := at["3/1/1"], at["3/1/2"]; a.RowsRead != b.RowsRead || a.RowsRead == 0 || a.Err == nil {
		t.Fatalf("stage 3 task 1 read %d then %d rows\n%s", a.RowsRead, b.RowsRead, attemptsOf(job))
	}
	if len(at) != 10 { // source 2, stage 2: 2 + 1, stage 3: 2 + 1, sink 2
		t.Fatalf("want 10 attempts, got:\n%s", attemptsOf(job))
	}
	if !strings.Contains(notice, "running stage 2 task 1/2 again for stage 3 task 2/2") {
		t.Fatalf("notice:\n%s", notice)
	}
}

// The property over 4-partition Kafka topics: the source stages read the partitions as 3 tasks, GROUP BY and a
// join of two topics run as 3 tasks, and the results equal parallelism 1 and the streaming result.
func TestBatchTasksKafkaProperty(t *testing.T) {
	addr := exchangeBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range 4000 {
		recs = append(recs, &kgo.Record{Topic: "bt_orders", Partition: int32(i % 4), Value: []byte(fmt.Sprintf(`{"id": %d, "k": %d, "v": %d}`, i, (i*31)%97, i%11))})
	}
	for k := range 80 {
		recs = append(recs, &kgo.Record{Topic: "bt_keys", Partition: int32(k % 4), Value: []byte(fmt.Sprintf(`{"k2": %d, "name": "n%d"}`, k, k))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tables := fmt.Sprintf(`
CREATE TABLE o (id BIGINT, k BIGINT, v BIGINT) WITH ('connector' = 'kafka', 'topic' = 'bt_orders', 'properties.bootstrap.servers' = '%[1]s',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE ks (k2 BIGINT, name STRING) WITH ('connector' = 'kafka', 'topic' = 'bt_keys', 'properties.bootstrap.servers' = '%[1]s',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
`, addr)
	for _, q := range []struct{ sink, query string }{
		{"k BIGINT, c BIGINT, s BIGINT", "SELECT k, COUNT(*), SUM(v) FROM o GROUP BY k"},
		{"id BIGINT, name STRING", "SELECT o.id, ks.name FROM o LEFT JOIN ks ON o.k = ks.k2 WHERE o.v < 4"},
	} {
		script := tables + "CREATE TABLE out_t (" + q.sink + ") WITH ('connector' = 'print');\nINSERT INTO out_t " + q.query + ";"
		lines, notice, _, err := stagedRun(t, script, map[string]string{"execution.runtime-mode": "streaming", "parallelism.default": "1"})
		if err != nil {
			t.Fatalf("streaming: %v\n%s", err, notice)
		}
		want := strings.Join(materializedPrint(t, lines), "\n")
		for _, par := range []int{1, 3} {
			lines, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": fmt.Sprint(par)})
			if err != nil {
				t.Fatalf("%s at parallelism %d: %v\n%s", q.query, par, err, notice)
			}
			if got := strings.Join(materializedPrint(t, lines), "\n"); got != want {
				t.Fatalf("%s at parallelism %d differs from streaming:\n%.1000s\nwant:\n%.1000s", q.query, par, got, want)
			}
			var tasks []string
			ok := true
			for _, a := range job.StageAttempts() {
				if a.Task == 0 {
					tasks = append(tasks, fmt.Sprintf("%s: %d", a.Name, a.Tasks))
					ok = ok && a.Tasks == par // the sources (4 partitions), the keyed stage and the print sink
				}
			}
			if !ok || len(tasks) < 3 {
				t.Fatalf("%s: tasks per stage:\n%s", q.query, strings.Join(tasks, "\n"))
			}
		}
	}
}
