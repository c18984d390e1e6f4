package jdbc_test

import (
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// A lookup join into a jdbc table in a batch source stage of 2 tasks (4 CSV files split across them): each
// task has a lookup handle of its own (connectors.TaskLookupSource: its own connection), so the tasks look
// up at the same time. PostgreSQL counts it: the dimension is a view whose filter function waits (up to
// half a second, for its first 20 calls only) until two lookup SELECTs are active at once and records the
// number it saw; through one shared handle, whose lookups take turns (engine/batch_lookup.go), it never saw
// more than 1. Every order must come out once with its dimension row.
func TestBatchLookupJoinTasksConcurrent(t *testing.T) {
	src := strings.Replace(batchOrders(t), "v BIGINT)", "v BIGINT, pt AS PROCTIME())", 1)
	pgExec(t, "CREATE TABLE lk_dim_t (k BIGINT PRIMARY KEY, name TEXT)",
		"INSERT INTO lk_dim_t SELECT g, 'n' || g FROM generate_series(0, 96) AS g",
		"CREATE TABLE lk_seen (n INT)",
		`CREATE FUNCTION lk_probe() RETURNS boolean AS $$
		 DECLARE c INT; i INT := 0;
		 BEGIN
		   LOOP
		     PERFORM pg_stat_clear_snapshot();
		     SELECT count(*) INTO c FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%lk_dim" WHERE%';
		     EXIT WHEN c >= 2 OR i >= 50 OR (SELECT count(*) FROM lk_seen) >= 20;
		     PERFORM pg_sleep(0.01);
		     i := i + 1;
		   END LOOP;
		   INSERT INTO lk_seen VALUES (c);
		   RETURN true;
		 END $$ LANGUAGE plpgsql VOLATILE`,
		"CREATE VIEW lk_dim AS SELECT k, name FROM lk_dim_t WHERE lk_probe()",
		"CREATE TABLE lk_out (id BIGINT PRIMARY KEY, name TEXT)")
	job, notice, err := batchRun(t, src+`CREATE TABLE d (k BIGINT, name STRING) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'lk_dim');
CREATE TABLE out_t (id BIGINT, name STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'lk_out');
INSERT INTO out_t SELECT o.id, d.name FROM o JOIN d FOR SYSTEM_TIME AS OF o.pt ON o.k = d.k;`, 2)
	if err != nil {
		t.Fatalf("%v\n%s", err, notice)
	}
	tasks := 0
	for _, a := range job.StageAttempts() {
		if strings.Contains(a.Name, "LookupJoin") {
			tasks = max(tasks, a.Tasks)
		}
	}
	if tasks != 2 {
		t.Fatalf("the lookup join's stage ran %d tasks, want 2 (the test tests nothing): %+v", tasks, job.StageAttempts())
	}
	expect(t, "orders without their dimension row", pgRows(t, "SELECT count(*) FROM lk_out WHERE name IS DISTINCT FROM 'n' || ((id * 31) % 97)"), "0")
	expect(t, "orders", pgRows(t, "SELECT count(*) FROM lk_out"), "4000")
	if got := pgRows(t, "SELECT max(n) FROM lk_seen"); got != "2" {
		t.Fatalf("the most lookups PostgreSQL saw in flight at once: %s (want 2: the tasks' lookups took turns)", got)
	}
}

// lookupConns is the number of PostgreSQL connections whose last statement read table (a lookup handle's
// connection: its column check or its lookups), once no more of them are closing (a backend leaves
// pg_stat_activity shortly after its client closed it): 0 as soon as it is, else after 3 seconds. The
// caller turns the garbage collector off: a connection that nothing references any more is closed when it
// is collected (its socket's finalizer), which would hide a handle left open.
func lookupConns(t *testing.T, table string) string {
	t.Helper()
	q := `SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE '%"` + table + `"%'`
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := pgRows(t, q)
		if n == "0" || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A lookup join into a jdbc table whose lookup fails once (the view's function raises at its 30th call;
// 'lookup.max-retries' = '0'), in a batch stage of 2 tasks (each task attempt its own handle and connection)
// and of 1 task (the planner's handle): the failed attempt's connection is closed when the attempt ends, not
// left open until the job's process exits, and the rerun writes every row. In the stage of 1 task the job
// fails for good (the function raises at every call): the last attempt's connection was left open before
// (the lookup join closes its handle only at its End). The same job not staged
// ('execution.batch-shuffle-mode' = 'ALL_EXCHANGES_PIPELINED': one attempt of one graph) closes its handle
// when it failed too (it stayed open until the process exited).
func TestBatchLookupJoinFailedAttemptCloses(t *testing.T) {
	src := strings.Replace(batchOrders(t), "v BIGINT)", "v BIGINT, pt AS PROCTIME())", 1)
	pgExec(t, "CREATE TABLE fl_dim_t (k BIGINT PRIMARY KEY, name TEXT)",
		"INSERT INTO fl_dim_t SELECT g, 'n' || g FROM generate_series(0, 96) AS g",
		"CREATE SEQUENCE fl_calls",
		`CREATE FUNCTION fl_probe(always boolean) RETURNS boolean AS $$
		 BEGIN
		   IF always OR nextval('fl_calls') = 30 THEN
		     RAISE EXCEPTION 'injected lookup failure';
		   END IF;
		   RETURN true;
		 END $$ LANGUAGE plpgsql VOLATILE`,
		"CREATE VIEW fl_dim AS SELECT k, name FROM fl_dim_t WHERE fl_probe(false)",
		"CREATE VIEW fb_dim AS SELECT k, name FROM fl_dim_t WHERE fl_probe(true)",
		"CREATE VIEW fp_dim AS SELECT k, name FROM fl_dim_t WHERE fl_probe(true)",
		"CREATE TABLE fl_out (id BIGINT PRIMARY KEY, name TEXT)")
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // see lookupConns
	script := func(view string) string {
		return src + `CREATE TABLE d (k BIGINT, name STRING) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = '` + view + `',
  'lookup.max-retries' = '0');
CREATE TABLE out_t (id BIGINT, name STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'fl_out');
INSERT INTO out_t SELECT o.id, d.name FROM o JOIN d FOR SYSTEM_TIME AS OF o.pt ON o.k = d.k;`
	}
	t.Run("tasks", func(t *testing.T) {
		job, notice, err := batchRun(t, script("fl_dim"), 2)
		if err != nil {
			t.Fatalf("%v\n%s", err, notice)
		}
		failed, tasks := 0, 0
		for _, a := range job.StageAttempts() {
			if strings.Contains(a.Name, "LookupJoin") {
				tasks = max(tasks, a.Tasks)
				if a.Err != nil {
					failed++
				}
			}
		}
		if tasks != 2 || failed != 1 {
			t.Fatalf("want one failed attempt in a lookup join's stage of 2 tasks, got %d in %d tasks:\n%s", failed, tasks, notice)
		}
		if !strings.Contains(notice, "injected lookup failure") {
			t.Fatalf("notice:\n%s", notice)
		}
		expect(t, "orders", pgRows(t, "SELECT count(*) FROM fl_out"), "4000")
		expect(t, "connections of lookup handles left open", lookupConns(t, "fl_dim"), "0")
	})
	t.Run("one task", func(t *testing.T) {
		_, notice, err := batchRun(t, script("fb_dim"), 1)
		if err == nil || !strings.Contains(err.Error(), "injected lookup failure") {
			t.Fatalf("want the job to fail with the lookup's error, got %v\n%s", err, notice)
		}
		expect(t, "connections of lookup handles left open", lookupConns(t, "fb_dim"), "0")
	})
	t.Run("pipelined", func(t *testing.T) {
		job, notice, err := batchRun(t, "SET 'execution.batch-shuffle-mode' = 'ALL_EXCHANGES_PIPELINED';\n"+script("fp_dim"), 2)
		if err == nil || !strings.Contains(err.Error(), "injected lookup failure") {
			t.Fatalf("want the job to fail with the lookup's error, got %v\n%s", err, notice)
		}
		if a := job.StageAttempts(); len(a) != 0 {
			t.Fatalf("the job ran staged (the test no longer covers a pipelined graph): %+v", a)
		}
		expect(t, "connections of lookup handles left open", lookupConns(t, "fp_dim"), "0")
	})
}
