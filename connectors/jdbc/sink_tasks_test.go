package jdbc_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

// batchOrders writes 4000 rows (id, k = id*31 % 97, v = id % 11) into 4 CSV files and returns the DDL of
// table o over them (a source split across the tasks).
func batchOrders(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for f := range 4 {
		var b strings.Builder
		for i := f; i < 4000; i += 4 {
			fmt.Fprintf(&b, "%d,%d,%d\n", i, (i*31)%97, i%11)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("o-%d.csv", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf("CREATE TABLE o (id BIGINT, k BIGINT, v BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');\n", dir)
}

// batchRun runs script as a batch job at parallelism par (a failed task attempt rerun up to twice) and
// returns its job and notices.
func batchRun(t *testing.T, script string, par int) (*engine.Job, string, error) {
	t.Helper()
	return batchRunTB(t, script, par)
}

// batchRunTB is batchRun for tests and benchmarks.
func batchRunTB(t testing.TB, script string, par int) (*engine.Job, string, error) {
	t.Helper()
	var note bytes.Buffer
	s, err := engine.NewSession(engine.Config{Stdout: &note, Stderr: &note, Notice: &note, Connectors: connbuiltin.Registry(),
		Options: map[string]string{"execution.runtime-mode": "batch", "parallelism.default": fmt.Sprint(par),
			"restart-strategy": "fixed-delay", "restart-strategy.fixed-delay.delay": "0 ms",
			"restart-strategy.fixed-delay.attempts": "2", "table.local-time-zone": "UTC", "io.tmp.dirs": t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(strings.ReplaceAll(script, "${URL}", pg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var job *engine.Job
	for _, st := range stmts {
		res, err := s.Execute(ctx, st)
		if err != nil {
			return nil, note.String(), err
		}
		if res.Job != nil {
			job = res.Job
		}
	}
	err = s.WaitJobs(ctx)
	return job, note.String(), err
}

// sinkTasks returns the attempts of the sink stage's tasks: attempts[task] lists whether each failed.
func sinkTasks(job *engine.Job) (tasks int, attempts map[int][]bool) {
	attempts = map[int][]bool{}
	for _, a := range job.StageAttempts() {
		if strings.HasPrefix(a.Name, "Sink: ") {
			tasks = a.Tasks
			attempts[a.Task] = append(attempts[a.Task], a.Err != nil)
		}
	}
	return tasks, attempts
}

// A batch jdbc sink runs as P tasks ('sink.parallelism', else the job's parallelism), each with a connection
// of its own: the upsert table (PRIMARY KEY, the rows hashed by it) and the append table hold at P = 3 and
// at 'sink.parallelism' = 2 what they hold at P = 1.
func TestBatchSinkTasksJDBC(t *testing.T) {
	src := batchOrders(t)
	cases := []struct {
		name, pgCols, cols, query string
		rows                      int
	}{
		{"upsert", "k BIGINT PRIMARY KEY, c BIGINT, s BIGINT", "k BIGINT, c BIGINT, s BIGINT, PRIMARY KEY (k) NOT ENFORCED",
			"SELECT k, COUNT(*), SUM(v) FROM o WHERE v < 9 GROUP BY k", 97},
		{"append", "id BIGINT, k BIGINT, v BIGINT", "id BIGINT, k BIGINT, v BIGINT", "SELECT id, k, v FROM o WHERE v < 9", 3274},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want string
			for _, r := range []struct{ par, sinkPar, tasks int }{{1, 0, 1}, {3, 0, 3}, {3, 2, 2}} {
				tbl := fmt.Sprintf("bt_%s_%d_%d", tc.name, r.par, r.sinkPar)
				pgExec(t, fmt.Sprintf("CREATE TABLE %s (%s)", tbl, tc.pgCols))
				opt := ""
				if r.sinkPar > 0 {
					opt = fmt.Sprintf(", 'sink.parallelism' = '%d'", r.sinkPar)
				}
				job, notice, err := batchRun(t, src+fmt.Sprintf(`CREATE TABLE out_t (%s) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = '%s'%s);
INSERT INTO out_t %s;`, tc.cols, tbl, opt, tc.query), r.par)
				if err != nil {
					t.Fatalf("parallelism %d, sink.parallelism %d: %v\n%s", r.par, r.sinkPar, err, notice)
				}
				if strings.Contains(notice, "sink.parallelism") {
					t.Fatalf("a batch job warns about 'sink.parallelism':\n%s", notice)
				}
				if n, _ := sinkTasks(job); n != r.tasks {
					t.Fatalf("parallelism %d, sink.parallelism %d: %d sink tasks, want %d", r.par, r.sinkPar, n, r.tasks)
				}
				got := pgRows(t, "SELECT * FROM "+tbl)
				if n := strings.Count(got, "\n") + 1; n != tc.rows {
					t.Fatalf("parallelism %d: %d rows, want %d", r.par, n, tc.rows)
				}
				if want == "" {
					want = got
				} else if got != want {
					t.Fatalf("parallelism %d, sink.parallelism %d: the table differs from parallelism 1's:\n%.500s\nwant:\n%.500s", r.par, r.sinkPar, got, want)
				}
			}
		})
	}
}

// Every change of a key reaches one jdbc sink task, in order: behind a one-task ORDER BY id (its rows dealt
// to 3 sink tasks), each key of the upsert table ends with the row of its largest id. Dealt round-robin, a
// key's rows would be written by several connections and the last flush would be anyone's.
func TestBatchSinkTasksJDBCKeyOrder(t *testing.T) {
	pgExec(t, "CREATE TABLE bt_order (k BIGINT PRIMARY KEY, id BIGINT, v BIGINT)")
	job, notice, err := batchRun(t, batchOrders(t)+`CREATE TABLE out_t (k BIGINT, id BIGINT, v BIGINT, PRIMARY KEY (k) NOT ENFORCED)
  WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'bt_order', 'sink.buffer-flush.max-rows' = '7');
INSERT INTO out_t SELECT k, id, v FROM o ORDER BY id;`, 3)
	if err != nil {
		t.Fatalf("%v\n%s", err, notice)
	}
	if n, _ := sinkTasks(job); n != 3 {
		t.Fatalf("%d sink tasks, want 3", n)
	}
	last := map[int]int{}
	for i := range 4000 {
		last[(i*31)%97] = i
	}
	var want []string
	for k, id := range last {
		want = append(want, fmt.Sprintf("%d,%d,%d", k, id, id%11))
	}
	expect(t, "bt_order", pgRows(t, "SELECT k, id, v FROM bt_order"), sortedLines(want))
}

func sortedLines(lines []string) string {
	s := append([]string(nil), lines...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return strings.Join(s, "\n")
}

// A jdbc sink task whose write fails (a trigger raises once, on key 5; 'sink.max-retries' = '0') is rerun
// alone: the other two tasks run once, the failed one twice, the trigger sees key 5 again, and the upsert
// table ends equal to the one-task job's.
func TestBatchSinkJDBCTaskFailover(t *testing.T) {
	src := batchOrders(t)
	query := "SELECT k, COUNT(*), SUM(v) FROM o GROUP BY k"
	pgExec(t, "CREATE TABLE bt_fo_ref (k BIGINT PRIMARY KEY, c BIGINT, s BIGINT)",
		"CREATE TABLE bt_fo (k BIGINT PRIMARY KEY, c BIGINT, s BIGINT)",
		"CREATE SEQUENCE bt_fo_fail",
		`CREATE FUNCTION bt_fo_fail() RETURNS trigger AS $$ BEGIN
		   IF NEW.k = 5 THEN
		     IF nextval('bt_fo_fail') = 1 THEN RAISE EXCEPTION 'injected failure on key 5'; END IF;
		   END IF;
		   RETURN NEW;
		 END $$ LANGUAGE plpgsql`,
		"CREATE TRIGGER bt_fo_fail BEFORE INSERT OR UPDATE ON bt_fo FOR EACH ROW EXECUTE FUNCTION bt_fo_fail()")
	ddl := func(tbl string) string {
		return src + fmt.Sprintf(`CREATE TABLE out_t (k BIGINT, c BIGINT, s BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'jdbc',
  'url' = '${URL}', 'table-name' = '%s', 'sink.max-retries' = '0');
INSERT INTO out_t %s;`, tbl, query)
	}
	if _, notice, err := batchRun(t, ddl("bt_fo_ref"), 1); err != nil {
		t.Fatalf("%v\n%s", err, notice)
	}
	job, notice, err := batchRun(t, ddl("bt_fo"), 3)
	if err != nil {
		t.Fatalf("%v\n%s", err, notice)
	}
	n, attempts := sinkTasks(job)
	failed := 0
	for task, as := range attempts {
		switch fmt.Sprint(as) {
		case "[false]":
		case "[true false]":
			failed++
		default:
			t.Fatalf("sink task %d attempts (failed?): %v\n%s", task, as, notice)
		}
	}
	if n != 3 || len(attempts) != 3 || failed != 1 {
		t.Fatalf("%d sink tasks, attempts %v: want 3 tasks, one rerun\n%s", n, attempts, notice)
	}
	if !strings.Contains(notice, "injected failure on key 5") || !strings.Contains(notice, "alone") {
		t.Fatalf("the notices do not show the injected failure and the task's rerun:\n%s", notice)
	}
	// 2: the failed write and the rerun's. 3 when the failed attempt's writer is not discarded (its buffer
	// written again by the stage's End).
	expect(t, "trigger calls on key 5", pgRows(t, "SELECT last_value FROM bt_fo_fail"), "2")
	want := pgRows(t, "SELECT * FROM bt_fo_ref")
	if strings.Count(want, "\n") != 96 {
		t.Fatalf("reference table:\n%s", want)
	}
	expect(t, "bt_fo", pgRows(t, "SELECT * FROM bt_fo"), want)
}

// 'sink.parallelism' of a jdbc table: 0 is refused at CREATE TABLE naming the option; 2 is taken without a
// warning in batch mode and warned about in streaming mode (one connection per job there).
func TestSinkParallelismOption(t *testing.T) {
	for _, tc := range []struct{ mode, value, want string }{
		{"batch", "0", "Invalid value for option 'sink.parallelism': '0' must be at least 1"},
		{"batch", "2", ""},
		{"streaming", "2", "'sink.parallelism' = '2' has effect in batch mode only: a streaming job writes a 'jdbc' sink with one writer per job"},
		{"streaming", "1", ""},
	} {
		var note bytes.Buffer
		s, err := engine.NewSession(engine.Config{Stdout: &note, Stderr: &note, Notice: &note, Connectors: connbuiltin.Registry(),
			Options: map[string]string{"execution.runtime-mode": tc.mode}})
		if err != nil {
			t.Fatal(err)
		}
		stmts, err := sql.ParseScript(fmt.Sprintf("CREATE TABLE o (a BIGINT) WITH ('connector' = 'jdbc', 'url' = '%s', 'table-name' = 'o', 'sink.parallelism' = '%s')", pg.URL(), tc.value))
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		if _, err := s.Execute(t.Context(), stmts[0]); err != nil {
			out = err.Error()
		}
		out += note.String()
		switch {
		case tc.want == "" && out != "":
			t.Errorf("%s, '%s': %s", tc.mode, tc.value, out)
		case tc.want != "" && !strings.Contains(out, tc.want):
			t.Errorf("%s, '%s': want %q in:\n%s", tc.mode, tc.value, tc.want, out)
		}
	}
}

// Without a PRIMARY KEY a rerun jdbc sink task inserts again the rows its failed attempt had flushed
// (at-least-once, as Flink's jdbc sink after a failover): a trigger fails the write of id 3999 once (the last
// row of a file of 1000 rows, flushes of 50 rows), the task reruns alone, every row is in the table and the
// failed attempt's flushed rows are there twice.
func TestBatchSinkJDBCTaskFailoverAppend(t *testing.T) {
	pgExec(t, "CREATE TABLE bt_fo_app (id BIGINT, k BIGINT, v BIGINT)",
		"CREATE SEQUENCE bt_fo_app_fail",
		`CREATE FUNCTION bt_fo_app_fail() RETURNS trigger AS $$ BEGIN
		   IF NEW.id = 3999 THEN
		     IF nextval('bt_fo_app_fail') = 1 THEN RAISE EXCEPTION 'injected failure on id 3999'; END IF;
		   END IF;
		   RETURN NEW;
		 END $$ LANGUAGE plpgsql`,
		"CREATE TRIGGER bt_fo_app_fail BEFORE INSERT ON bt_fo_app FOR EACH ROW EXECUTE FUNCTION bt_fo_app_fail()")
	job, notice, err := batchRun(t, batchOrders(t)+`CREATE TABLE out_t (id BIGINT, k BIGINT, v BIGINT) WITH ('connector' = 'jdbc',
  'url' = '${URL}', 'table-name' = 'bt_fo_app', 'sink.max-retries' = '0', 'sink.buffer-flush.max-rows' = '50');
INSERT INTO out_t SELECT id, k, v FROM o;`, 3)
	if err != nil {
		t.Fatalf("%v\n%s", err, notice)
	}
	n, attempts := sinkTasks(job)
	reruns := 0
	for _, as := range attempts {
		reruns += len(as) - 1
	}
	if n != 3 || reruns != 1 || !strings.Contains(notice, "injected failure on id 3999") {
		t.Fatalf("%d sink tasks, attempts %v: want 3 tasks, one rerun\n%s", n, attempts, notice)
	}
	expect(t, "distinct rows", pgRows(t, "SELECT count(DISTINCT id), min(id), max(id) FROM bt_fo_app"), "4000,0,3999")
	var dup int
	if _, err := fmt.Sscan(pgRows(t, "SELECT count(*) - 4000 FROM bt_fo_app"), &dup); err != nil {
		t.Fatal(err)
	}
	if dup < 950 || dup%50 != 0 {
		t.Fatalf("%d rows written twice: want the failed attempt's flushes (at least 950 rows, 50 per flush)", dup)
	}
}
