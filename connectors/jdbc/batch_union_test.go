package jdbc_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/engine"
)

// unionStage returns the tasks of the batch job's source stage with a Union and the attempts of each task
// (failed or not) and the rows its successful attempts read.
func unionStage(t *testing.T, job *engine.Job) (tasks int, attempts map[int][]bool, rows int64) {
	t.Helper()
	attempts = map[int][]bool{}
	for _, a := range job.StageAttempts() {
		if a.Stage != 1 {
			continue
		}
		if !strings.Contains(a.Name, "Union") {
			t.Fatalf("stage 1 is %q, want the source stage with the union", a.Name)
		}
		tasks = a.Tasks
		attempts[a.Task] = append(attempts[a.Task], a.Err != nil)
		if a.Err == nil {
			rows += a.RowsRead
		}
	}
	return tasks, attempts, rows
}

const unionQuery = `INSERT INTO out_t SELECT k, COUNT(*), SUM(x) FROM (SELECT k, id AS x FROM o UNION ALL SELECT k, x FROM j) GROUP BY k;`

// A UNION ALL of a split filesystem scan and a jdbc scan (not a connectors.ParallelSource) in a batch source
// stage runs as P tasks: the filesystem's files split across them, the jdbc table read whole by task 0. At
// P = 1, 2, 4 the upsert table holds the same totals.
func TestBatchUnionJDBCSourceTasks(t *testing.T) {
	src := batchOrders(t)
	pgExec(t, "CREATE TABLE bu_in (k BIGINT, x BIGINT)",
		"INSERT INTO bu_in SELECT g % 120, g * 1000 FROM generate_series(1, 500) AS g")
	var want string
	for _, par := range []int{1, 2, 4} {
		tbl := fmt.Sprintf("bu_out_%d", par)
		pgExec(t, fmt.Sprintf("CREATE TABLE %s (k BIGINT PRIMARY KEY, c BIGINT, s BIGINT)", tbl))
		job, notice, err := batchRun(t, src+fmt.Sprintf(`CREATE TABLE j (k BIGINT, x BIGINT) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'bu_in');
CREATE TABLE out_t (k BIGINT, c BIGINT, s BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = '%s');
%s`, tbl, unionQuery), par)
		if err != nil {
			t.Fatalf("parallelism %d: %v\n%s", par, err, notice)
		}
		tasks, attempts, rows := unionStage(t, job)
		if tasks != par || len(attempts) != par || rows != 4000+500 {
			t.Fatalf("parallelism %d: the union's stage ran %d tasks (%v) reading %d rows, want %d tasks reading 4500", par, tasks, attempts, rows, par)
		}
		got := pgRows(t, "SELECT * FROM "+tbl+" ORDER BY k")
		if strings.Count(got, "\n") != 119 {
			t.Fatalf("parallelism %d: want 120 keys:\n%.500s", par, got)
		}
		if want == "" {
			want = got
		} else {
			expect(t, tbl, got, want)
		}
	}
}

// The jdbc scan's task of a union source stage fails once (the view it reads raises on its first run): that
// task alone runs again, reading the jdbc table and its own files again; the other task runs once and the
// totals equal a run without the failure.
func TestBatchUnionJDBCSourceFailover(t *testing.T) {
	src := batchOrders(t)
	pgExec(t, "CREATE TABLE bf_in (k BIGINT, x BIGINT)",
		"INSERT INTO bf_in SELECT g % 120, g * 1000 FROM generate_series(1, 500) AS g",
		"CREATE SEQUENCE bf_fail",
		`CREATE FUNCTION bf_fail() RETURNS boolean AS $$ BEGIN
		   IF nextval('bf_fail') = 1 THEN RAISE EXCEPTION 'injected failure of the jdbc scan'; END IF;
		   RETURN true;
		 END $$ LANGUAGE plpgsql VOLATILE`,
		"CREATE VIEW bf_view AS SELECT k, x FROM bf_in WHERE bf_fail()",
		"CREATE TABLE bf_ref (k BIGINT PRIMARY KEY, c BIGINT, s BIGINT)",
		"CREATE TABLE bf_out (k BIGINT PRIMARY KEY, c BIGINT, s BIGINT)")
	ddl := func(in, out string) string {
		return src + fmt.Sprintf(`CREATE TABLE j (k BIGINT, x BIGINT) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = '%s');
CREATE TABLE out_t (k BIGINT, c BIGINT, s BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = '%s');
%s`, in, out, unionQuery)
	}
	if _, notice, err := batchRun(t, ddl("bf_in", "bf_ref"), 1); err != nil {
		t.Fatalf("%v\n%s", err, notice)
	}
	job, notice, err := batchRun(t, ddl("bf_view", "bf_out"), 2)
	if err != nil {
		t.Fatalf("%v\n%s", err, notice)
	}
	tasks, attempts, rows := unionStage(t, job)
	if tasks != 2 || fmt.Sprint(attempts[0]) != "[true false]" || fmt.Sprint(attempts[1]) != "[false]" || rows != 4500 {
		t.Fatalf("want task 0 (the jdbc scan's) to fail once and run again alone, the successful attempts reading 4500 rows; tasks %d, attempts %v, rows %d\n%s",
			tasks, attempts, rows, notice)
	}
	var failed error
	for _, a := range job.StageAttempts() {
		if a.Stage == 1 && a.Err != nil {
			failed = a.Err
		}
	}
	if failed == nil || !strings.Contains(failed.Error(), "injected failure of the jdbc scan") {
		t.Fatalf("the failed attempt's error: %v", failed)
	}
	if !strings.Contains(notice, "Restarting stage 1 task 1/2 alone, from the start of its own splits") {
		t.Fatalf("notice:\n%s", notice)
	}
	want := pgRows(t, "SELECT * FROM bf_ref ORDER BY k")
	expect(t, "bf_out", pgRows(t, "SELECT * FROM bf_out ORDER BY k"), want)
}
