package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// queryRun runs script in a batch session (the last statement a query) with the options of stagedRunRaw
// and opts; it returns the query's rows as printed (+I[...]), in the order they came, and its job.
func queryRun(t *testing.T, script string, opts map[string]string) (rows []string, notice string, job *Job, err error) {
	t.Helper()
	var note bytes.Buffer
	o := map[string]string{"execution.runtime-mode": "batch", "restart-strategy.fixed-delay.delay": "0 ms",
		"restart-strategy.fixed-delay.attempts": "2", "table.local-time-zone": "UTC", "io.tmp.dirs": t.TempDir()}
	for k, v := range opts {
		o[k] = v
	}
	s, err := NewSession(Config{Stdout: &note, Stderr: &note, Notice: &note, Options: o})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var res *Result
	for _, st := range stmts {
		if res, err = s.Execute(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if res.Kind != ResultQuery {
		t.Fatal("the script's last statement is not a query")
	}
	for {
		r, ok := res.Query.Next(ctx)
		if !ok {
			break
		}
		rows = append(rows, printRow(r))
	}
	return rows, note.String(), res.Query.job, res.Query.Err()
}

// printRow prints a row as +I[1, a].
func printRow(r changelog.Row) string {
	b := []byte(r.Kind.String() + "[")
	for i, v := range r.Vals {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = types.AppendPrint(b, v, types.Type{}, nil)
	}
	return string(append(b, ']'))
}

func sorted(rows []string) []string {
	rows = append([]string(nil), rows...)
	sort.Strings(rows)
	return rows
}

// stageTasks maps each stage's name to its number of tasks.
func stageTasks(j *Job) map[string]int {
	m := map[string]int{}
	for _, a := range j.StageAttempts() {
		m[a.Name] = a.Tasks
	}
	return m
}

// A batch SELECT runs in stages as an INSERT does: its keyed stages and split sources as P tasks, the last
// stage (Collect) as one task reading every task's file. At P = 1, 2, 4 its rows equal the query's run in
// one piece ('restart-strategy' = 'none'), in the same order with ORDER BY.
func TestBatchSelectTasks(t *testing.T) {
	tables := batchTaskTables(t)
	cases := []struct {
		name, query string
		ordered     bool
		tasks       map[string]string // stage name → tasks ("P": the parallelism)
	}{
		{"group by", "SELECT k, COUNT(*), SUM(id) FROM f GROUP BY k", false,
			map[string]string{"Source: f -> Calc": "P", "SortAggregate": "P", "Collect": "1"}},
		{"join", "SELECT f.k, d.name, COUNT(*) FROM f JOIN d ON f.k = d.k2 GROUP BY f.k, d.name", false,
			map[string]string{"HashJoin -> Calc": "P", "Collect": "1"}},
		{"scan", "SELECT id, k FROM f WHERE v < 3", false,
			map[string]string{"Source: f -> Calc": "P", "Collect": "1"}},
		{"order by", "SELECT id, k FROM f WHERE v = 3 ORDER BY k DESC, id", true,
			map[string]string{"Source: f -> Calc": "P", "Sort": "1", "Collect": "1"}},
		{"order by limit", "SELECT k, COUNT(*) AS c, MAX(id) AS m FROM f GROUP BY k ORDER BY c DESC, m LIMIT 7", true,
			map[string]string{"SortAggregate": "P", "Collect": "1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			script := tables + tc.query + ";"
			want, notice, job, err := queryRun(t, script, map[string]string{"restart-strategy": "none", "parallelism.default": "1"})
			if err != nil {
				t.Fatalf("in one piece: %v\n%s", err, notice)
			}
			if job.StageAttempts() != nil {
				t.Fatalf("'restart-strategy' = 'none' ran in stages:\n%s", attemptsOf(job))
			}
			if len(want) < 7 {
				t.Fatalf("too few rows: %q", want)
			}
			if !tc.ordered {
				want = sorted(want)
			}
			for _, par := range []int{1, 2, 4} {
				got, notice, job, err := queryRun(t, script, map[string]string{"parallelism.default": fmt.Sprint(par)})
				if err != nil {
					t.Fatalf("at parallelism %d: %v\n%s", par, err, notice)
				}
				if !tc.ordered {
					got = sorted(got)
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("at parallelism %d the rows differ (%d vs %d)\ngot:\n%.1500s\nwant:\n%.1500s",
						par, len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				tasks := stageTasks(job)
				for prefix, n := range tc.tasks {
					wantN := n
					if n == "P" {
						wantN = fmt.Sprint(par)
					}
					found := false
					for name, got := range tasks {
						if name == prefix || strings.HasPrefix(name, prefix+" ") {
							found = true
							if fmt.Sprint(got) != wantN {
								t.Fatalf("at parallelism %d stage %q ran %d tasks, want %s:\n%s", par, name, got, wantN, attemptsOf(job))
							}
						}
					}
					if !found {
						t.Fatalf("at parallelism %d no stage %q:\n%s", par, prefix, attemptsOf(job))
					}
				}
				last := job.StageAttempts()[len(job.StageAttempts())-1]
				if last.Name != "Collect" || last.RowsRead != int64(len(got)) {
					t.Fatalf("the last stage is not Collect reading the %d rows:\n%s", len(got), attemptsOf(job))
				}
			}
		})
	}
}

const selectAggQuery = `
CREATE TABLE src (id BIGINT, name STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '20000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '20000', 'fields.name.length' = '3');
SELECT MOD(id, 300), COUNT(*), SUM(id) FROM src GROUP BY MOD(id, 300);`

// A fault in one of 3 aggregate tasks of a batch SELECT restarts that task alone, from its subpartition of
// the source stage's files: the source tasks and the other aggregate tasks run once, the collect stage once,
// and the client gets every group once.
func TestBatchSelectTaskFailover(t *testing.T) {
	want, _, _, err := queryRun(t, selectAggQuery, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 300 {
		t.Fatalf("want 300 rows, got %d", len(want))
	}
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if strings.Contains(st.name, "SortAggregate") && task == 1 && attempt == 1 && end {
			return errInjected // after reading its whole input
		}
		return nil
	})
	got, notice, job, err := queryRun(t, selectAggQuery, map[string]string{"parallelism.default": "3"})
	if err != nil {
		t.Fatalf("query failed: %v\n%s", err, notice)
	}
	if strings.Join(sorted(got), "\n") != strings.Join(sorted(want), "\n") {
		t.Fatalf("the rows differ from the fault-free run at parallelism 1 (%d rows)", len(got))
	}
	at := taskAttempts(job)
	if a := at["2/1/1"]; !errors.Is(a.Err, errInjected) || a.Tasks != 3 {
		t.Fatalf("aggregate task 1 attempt 1: %+v\n%s", a, attemptsOf(job))
	}
	var src, agg int64
	for k, a := range at {
		if a.Err == nil && strings.HasPrefix(k, "1/") {
			src += a.RowsRead
		}
		if a.Err == nil && strings.HasPrefix(k, "2/") {
			agg += a.RowsRead
		}
	}
	// 3 source tasks, 3 aggregate tasks and the failed one's rerun, one collect task.
	if len(at) != 3+4+1 || src != 20000 || agg != 20000 || at["2/1/2"].RowsRead != at["2/1/1"].RowsRead || at["3/0/1"].RowsRead != 300 {
		t.Fatalf("want the failed aggregate task alone to run again, reading its own rows again:\n%s", attemptsOf(job))
	}
	if !strings.Contains(notice, "Restarting stage 2 task 2/3 alone, from the intermediate results of its inputs") {
		t.Fatalf("notice:\n%s", notice)
	}
}

// A fault in the collect stage after it gave the client part of the rows runs it again alone: it reads its
// input's files again and skips the rows the client has, so each row comes once.
func TestBatchSelectCollectFailover(t *testing.T) {
	const script = `
CREATE TABLE src (id BIGINT, name STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '50000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '50000', 'fields.name.length' = '3');
SELECT id, name FROM src WHERE MOD(id, 7) <> 3;`
	var firstBatch int64
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.name == "Collect" && attempt == 1 && !end {
			firstBatch = rows
			return errInjected // after its first batch
		}
		return nil
	})
	got, notice, job, err := queryRun(t, script, map[string]string{"parallelism.default": "2"})
	if err != nil {
		t.Fatalf("query failed: %v\n%s", err, notice)
	}
	ids := map[string]int{}
	for _, r := range got {
		ids[r]++
		if ids[r] > 1 {
			t.Fatalf("row %s came twice", r)
		}
	}
	const want = 50000 - 7143 // ids with MOD(id, 7) = 3: 3, 10, ..., 49997
	if len(got) != want {
		t.Fatalf("got %d rows, want %d", len(got), want)
	}
	at := taskAttempts(job)
	a1, a2 := at["2/0/1"], at["2/0/2"]
	if !errors.Is(a1.Err, errInjected) || a1.RowsRead != firstBatch || firstBatch <= 0 || firstBatch >= want ||
		a2.Err != nil || a2.RowsRead != want || len(at) != 2+2 {
		t.Fatalf("want the collect stage alone to run again after part of the rows (%d):\n%s", firstBatch, attemptsOf(job))
	}
	if !strings.Contains(notice, "Restarting stage 2 alone, from the intermediate results of its inputs") {
		t.Fatalf("notice:\n%s", notice)
	}
}

// A client that closes a staged batch SELECT after its first row stops the job: Close returns nil, the job
// ends cancelled and its intermediate result files are removed.
func TestBatchSelectClose(t *testing.T) {
	dir := t.TempDir()
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard, Options: map[string]string{
		"execution.runtime-mode": "batch", "parallelism.default": "2", "io.tmp.dirs": dir}})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(`CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '50000',
  'rows-per-second' = '1000000000', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '50000');
SELECT id FROM src;`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var res *Result
	for _, st := range stmts {
		if res, err = s.Execute(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := res.Query.Next(ctx); !ok {
		t.Fatalf("no row: %v", res.Query.Err())
	}
	if err := res.Query.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if st := res.Query.job.Status(); st != JobCancelled {
		t.Fatalf("the job ended %v, want cancelled:\n%s", st, attemptsOf(res.Query.job))
	}
	if n := len(res.Query.job.StageAttempts()); n != 3 { // 2 source tasks, the collect task
		t.Fatalf("want 3 attempts:\n%s", attemptsOf(res.Query.job))
	}
	left, _ := os.ReadDir(dir)
	for _, e := range left {
		if strings.HasPrefix(e.Name(), "sluice-") {
			t.Fatalf("left in io.tmp.dirs: %s", e.Name())
		}
	}
}

// When the collect stage fails after giving the client rows and its input's file is gone (the producer task
// runs again, and its rows may come in another order), the query fails saying so instead of giving rows
// twice or losing some.
func TestBatchSelectCollectInputRecomputed(t *testing.T) {
	const script = `
CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '50000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '50000');
SELECT id FROM src;`
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.name == "Collect" && attempt == 1 && !end {
			if err := os.Remove(st.inputs[0].file(1, 0)); err != nil {
				t.Error(err)
			}
			return errInjected // after its first batch
		}
		return nil
	})
	got, notice, job, err := queryRun(t, script, map[string]string{"parallelism.default": "2"})
	if err == nil || !strings.Contains(err.Error(), "the client was given 8192 rows of the result already, and the input was computed again since") {
		t.Fatalf("want the query to fail as its input was computed again, got %v\n%s", err, notice)
	}
	if len(got) != 8192 {
		t.Fatalf("the client got %d rows, want the first attempt's 8192", len(got))
	}
	if !strings.Contains(notice, "running stage 1 task 2/2 again for stage 2") {
		t.Fatalf("notice:\n%s\n%s", notice, attemptsOf(job))
	}
}
