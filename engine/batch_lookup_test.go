package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/sql"
)

// TestBatchLookupJoinTasks: a batch INSERT whose source stage runs as several tasks (a 4-partition Kafka
// topic at parallelism 2 and 4) with a lookup join into a filesystem table in that stage. Every task used to
// share the one lookup source the planner made: each opened it (reading the table through the source's
// shared split enumerator, so that only one task's index got the file) and closed it, so most orders found
// no dimension row and the inner join dropped them (found by TestGoldenParallel on Nexmark q13). Every order
// must come out once with its dimension value. (Without the fix 38 of 40 runs of P2 and P4 failed, and
// -race reported the tasks' unguarded Close and Lookup calls.)
func TestBatchLookupJoinTasks(t *testing.T) {
	kf := &kafkaFixture{t: t}
	defer kf.close()
	var orders strings.Builder
	var want []string
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&orders, "{\"id\": %d, \"k\": %d}\n", i, i%7)
		want = append(want, fmt.Sprintf("+I[%d, v%d]", i, i%7))
	}
	sort.Strings(want)
	if got := kf.produceTo("orders", 4, "", orders.String()); got != "produced 200 records\n" {
		t.Fatal(got)
	}
	dir := t.TempDir()
	var dim strings.Builder
	for k := 0; k < 20000; k++ { // a table that takes a while to load, so that the tasks load it at once
		fmt.Fprintf(&dim, "%d,v%d\n", k, k)
	}
	if err := os.WriteFile(filepath.Join(dir, "dim.csv"), []byte(dim.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, par := range []string{"2", "4"} {
		t.Run("P"+par, func(t *testing.T) {
			out := &syncBuffer{}
			s, err := NewSession(Config{Stdout: out, Stderr: out, Notice: out, TempDir: t.TempDir(), Options: map[string]string{
				"parallelism.default": par, "execution.runtime-mode": "batch",
			}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			script := kf.expand(`
CREATE TABLE orders (id BIGINT, k BIGINT, pt AS PROCTIME()) WITH ('connector' = 'kafka', 'topic' = 'orders',
  'properties.bootstrap.servers' = '$BROKER', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE dim (k BIGINT, v STRING) WITH ('connector' = 'filesystem', 'path' = 'file://` + filepath.Join(dir, "dim.csv") + `', 'format' = 'csv');
CREATE TABLE sink (id BIGINT, v STRING) WITH ('connector' = 'print');
INSERT INTO sink SELECT o.id, d.v FROM orders AS o JOIN dim FOR SYSTEM_TIME AS OF o.pt AS d ON o.k = d.k;`)
			stmts, err := sql.ParseScript(script)
			if err != nil {
				t.Fatal(err)
			}
			var job *Job
			for _, st := range stmts {
				res, err := s.Execute(ctx, st)
				if err != nil {
					t.Fatal(err)
				}
				if res.Kind == ResultJob {
					job = res.Job
				}
			}
			if err := job.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			tasks := 0
			for _, a := range job.StageAttempts() {
				if strings.Contains(a.Name, "LookupJoin") {
					tasks = max(tasks, a.Tasks)
				}
			}
			if fmt.Sprint(tasks) != par {
				t.Fatalf("the lookup join's stage ran as %d tasks, want %s (the test no longer covers split stages): %+v", tasks, par, job.StageAttempts())
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				if i := strings.Index(l, "+I["); i >= 0 {
					got = append(got, l[i:])
				}
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("got %d rows, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
			}
		})
	}
}

// A lookup join into a filesystem table (one handle shared by the stage's tasks) in a split source stage of
// two tasks, whose task 1 fails once after its first batch: the failed attempt's share of the handle is
// closed when the attempt ends, so the handle is closed at the job's end (it was opened by the failed
// attempt and never closed: the count of tasks holding it stayed at 1), and the rerun finds every
// dimension row (it opens the handle again when it was closed in between).
func TestBatchSharedLookupClosedAfterFailure(t *testing.T) {
	dir := t.TempDir()
	var dim strings.Builder
	for k := 0; k < 50; k++ {
		fmt.Fprintf(&dim, "%d,v%d\n", k, k)
	}
	if err := os.WriteFile(filepath.Join(dir, "dim.csv"), []byte(dim.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
CREATE TABLE src (id BIGINT, pt AS PROCTIME()) WITH ('connector' = 'datagen', 'number-of-rows' = '20000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '20000');
CREATE TABLE dim (k BIGINT, v STRING) WITH ('connector' = 'filesystem', 'path' = 'file://` + filepath.Join(dir, "dim.csv") + `', 'format' = 'csv');
CREATE TABLE out_t (id BIGINT, v STRING) WITH ('connector' = 'blackhole');
INSERT INTO out_t SELECT s.id, d.v FROM src AS s JOIN dim FOR SYSTEM_TIME AS OF s.pt AS d ON MOD(s.id, 50) = d.k;`
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if strings.Contains(st.name, "LookupJoin") && task == 1 && attempt == 1 && !end {
			return errInjected
		}
		return nil
	})
	_, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": "2"})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	at := taskAttempts(job)
	if a, ok := at["1/1/1"]; !ok || a.Err == nil || !strings.Contains(a.Name, "LookupJoin") || a.Tasks != 2 {
		t.Fatalf("want a failed first attempt of task 1 of the lookup join's stage of 2 tasks:\n%s", attemptsOf(job))
	}
	if m := job.Metrics(); m.RowsOut != 20000 {
		t.Fatalf("the sink got %d rows, want 20000\n%s", m.RowsOut, attemptsOf(job))
	}
	sj := job.graph.staged
	if len(sj.lookups) != 1 {
		t.Fatalf("want one shared lookup handle, got %d", len(sj.lookups))
	}
	for _, l := range sj.lookups {
		if l.open != 0 {
			t.Fatalf("the shared lookup handle is still held by %d task attempts at the job's end", l.open)
		}
	}
}
