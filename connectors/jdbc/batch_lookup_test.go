package jdbc_test

import (
	"strings"
	"testing"
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
