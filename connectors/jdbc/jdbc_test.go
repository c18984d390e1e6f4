package jdbc_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/jdbc"
	"github.com/sluicesql/sluice/types"
)

func open(t testing.TB, opts ...sluice.Option) *sluice.Engine {
	t.Helper()
	e, err := sluice.Open(append([]sluice.Option{sluice.WithOption("table.local-time-zone", "UTC")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func run(t testing.TB, e *sluice.Engine, script string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	return e.Exec(ctx, strings.ReplaceAll(script, "${URL}", pg.URL()))
}

func mustRun(t testing.TB, e *sluice.Engine, script string) {
	t.Helper()
	if err := run(t, e, script); err != nil {
		t.Fatal(err)
	}
}

func query(t testing.TB, e *sluice.Engine, q string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	rows, err := e.Query(ctx, strings.ReplaceAll(q, "${URL}", pg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		var parts []string
		for _, v := range rows.Values() {
			parts = append(parts, fmt.Sprint(v))
		}
		lines = append(lines, strings.Join(parts, ","))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func expect(t testing.TB, what, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s:\ngot:\n%s\nwant:\n%s", what, got, want)
	}
}

// An upsert table gets the final result of an updating query: the +U of each key overwrites the row, and
// a key whose row the query retracts (count 2 is filtered out) is deleted.
func TestUpsertSinkWithDeletes(t *testing.T) {
	pgExec(t, "CREATE TABLE counts (k TEXT PRIMARY KEY, cnt BIGINT NOT NULL)", "INSERT INTO counts VALUES ('stale', 9)")
	e := open(t)
	mustRun(t, e, `
CREATE TABLE counts (k STRING, cnt BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'public.counts', 'sink.buffer-flush.max-rows' = '1');
INSERT INTO counts SELECT k, cnt FROM (
  SELECT k, COUNT(*) AS cnt FROM (VALUES ('a'), ('b'), ('a'), ('c'), ('c'), ('c'), ('stale')) AS v(k) GROUP BY k
) WHERE cnt <> 2;`)
	expect(t, "counts", pgRows(t, "SELECT k, cnt FROM counts"), "b,1\nc,3\nstale,1")
}

// An append table (no PRIMARY KEY) gets every row, with every supported type; it refuses updating queries.
func TestAppendSinkTypesAndScanBack(t *testing.T) {
	pgExec(t, `CREATE TABLE typed (id INT, b BOOLEAN, s SMALLINT, big BIGINT, f REAL, d DOUBLE PRECISION,
		dec NUMERIC(10, 2), txt VARCHAR(20), bin BYTEA, dt DATE, tm TIME, ts TIMESTAMP, ltz TIMESTAMPTZ)`)
	e := open(t)
	mustRun(t, e, `
CREATE TABLE typed (id INT, b BOOLEAN, s SMALLINT, big BIGINT, f FLOAT, d DOUBLE, dec DECIMAL(10, 2), txt STRING,
  bin BYTES, dt DATE, tm TIME(3), ts TIMESTAMP(3), ltz TIMESTAMP_LTZ(3))
WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'typed', 'driver' = 'org.postgresql.Driver');
INSERT INTO typed VALUES
  (1, TRUE, CAST(-3 AS SMALLINT), 9000000000, CAST(1.5 AS FLOAT), 2.25, 12345.67, 'héllo', X'0102ff',
   DATE '2024-02-29', TIME '12:34:56.789', TIMESTAMP '2024-01-02 03:04:05.678', TO_TIMESTAMP_LTZ(1700000000123, 3)),
  (2, CAST(NULL AS BOOLEAN), CAST(NULL AS SMALLINT), CAST(NULL AS BIGINT), CAST(NULL AS FLOAT), CAST(NULL AS DOUBLE),
   -0.05, CAST(NULL AS STRING), CAST(NULL AS BYTES), DATE '1969-12-31', CAST(NULL AS TIME(3)),
   TIMESTAMP '1960-01-01 00:00:00', CAST(NULL AS TIMESTAMP_LTZ(3)));`)
	expect(t, "typed in PostgreSQL",
		pgRows(t, "SELECT id, b, s, big, f, d, dec::text, txt, encode(bin, 'hex'), dt::text, tm::text, ts::text, (ltz AT TIME ZONE 'UTC')::text FROM typed"),
		"1,true,-3,9000000000,1.5,2.25,12345.67,héllo,0102ff,2024-02-29,12:34:56.789,2024-01-02 03:04:05.678,2023-11-14 22:13:20.123\n"+
			"2,<nil>,<nil>,<nil>,<nil>,<nil>,-0.05,<nil>,<nil>,1969-12-31,<nil>,1960-01-01 00:00:00,<nil>")
	// The scan reads the same values back.
	got := query(t, e, "SELECT id, b, s, big, f, d, CAST(dec AS STRING), txt, CAST(dt AS STRING), CAST(tm AS STRING), CAST(ts AS STRING), CAST(ltz AS STRING) FROM typed")
	expect(t, "typed scanned", got,
		"1,true,-3,9000000000,1.5,2.25,12345.67,héllo,2024-02-29,12:34:56.789,2024-01-02 03:04:05.678,2023-11-14 22:13:20.123\n"+
			"2,<nil>,<nil>,<nil>,<nil>,<nil>,-0.05,<nil>,1969-12-31,<nil>,1960-01-01 00:00:00.000,<nil>")
	err := run(t, e, "CREATE TABLE ids (id BIGINT) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'typed');"+
		"INSERT INTO ids SELECT COUNT(*) FROM typed")
	if err == nil || !strings.Contains(err.Error(), "doesn't support consuming update changes") {
		t.Fatalf("an updating query into an append table: got %v", err)
	}
}

// A partitioned scan reads the ranges of the partition column between the bounds, with a cursor when
// 'scan.fetch-size' is set.
func TestScanPartitions(t *testing.T) {
	pgExec(t, "CREATE TABLE nums (id BIGINT PRIMARY KEY, v TEXT)", "INSERT INTO nums SELECT g, 'v' || g FROM generate_series(1, 100) g")
	e := open(t)
	mustRun(t, e, `
CREATE TABLE nums (id BIGINT, v STRING) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'nums',
  'scan.partition.column' = 'id', 'scan.partition.num' = '4', 'scan.partition.lower-bound' = '5',
  'scan.partition.upper-bound' = '94', 'scan.fetch-size' = '7');
CREATE TABLE whole (id BIGINT, v STRING) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'nums');`)
	got := strings.Split(query(t, e, "SELECT id, v FROM nums"), "\n")
	if len(got) != 90 {
		t.Fatalf("partitioned scan read %d rows, want 90 (ids 5..94)", len(got))
	}
	seen := map[string]bool{}
	for _, l := range got {
		seen[l] = true
	}
	for id := 5; id <= 94; id++ {
		if !seen[fmt.Sprintf("%d,v%d", id, id)] {
			t.Fatalf("partitioned scan misses id %d", id)
		}
	}
	if n := len(strings.Split(query(t, e, "SELECT id FROM whole"), "\n")); n != 100 {
		t.Fatalf("scan read %d rows, want 100", n)
	}
}

func TestErrors(t *testing.T) {
	pgExec(t, "CREATE TABLE shape (id INT PRIMARY KEY, name TEXT, amount NUMERIC(10,2))")
	down, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	e := open(t)
	for _, tc := range []struct{ name, with, cols, want string }{
		{"down", fmt.Sprintf("'url' = 'jdbc:postgresql://127.0.0.1:%d/postgres', 'table-name' = 'shape', 'sink.max-retries' = '0'", down),
			"id INT, name STRING, amount DECIMAL(10, 2)", "jdbc table 't_down': cannot connect to PostgreSQL at 127.0.0.1:"},
		{"password", "'url' = '${URL}', 'table-name' = 'shape', 'username' = 'sluice_pw', 'password' = 'wrong'",
			"id INT, name STRING, amount DECIMAL(10, 2)", "refused the login of user 'sluice_pw'"},
		{"columns", "'url' = '${URL}', 'table-name' = 'shape'",
			"id INT, name INT, amount DECIMAL(10, 2), extra STRING",
			"the columns of table 'shape' in PostgreSQL at 127.0.0.1:"},
		{"missing", "'url' = '${URL}', 'table-name' = 'nope'", "id INT", "table 'nope' does not exist"},
		{"key", "'url' = '${URL}', 'table-name' = 'shape'", "id INT, name STRING, amount DECIMAL(10, 2), PRIMARY KEY (name) NOT ENFORCED",
			"the PRIMARY KEY (name) of the DDL is not a primary key or unique index of table 'shape'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustRun(t, e, fmt.Sprintf("CREATE TABLE t_%s (%s) WITH ('connector' = 'jdbc', %s)", tc.name, tc.cols, tc.with))
			q := fmt.Sprintf("INSERT INTO t_%s SELECT * FROM t_%s", tc.name, tc.name)
			if tc.name == "key" {
				q = "INSERT INTO t_key VALUES (1, 'a', 1.5)"
			}
			err := run(t, e, q)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if tc.name == "columns" && (!strings.Contains(err.Error(), "column 'name' is declared INT but is text") ||
				!strings.Contains(err.Error(), "column 'extra' (STRING) does not exist")) {
				t.Fatalf("column differences not named: %v", err)
			}
		})
	}
	// Options are checked at CREATE TABLE, as other connectors do.
	for _, tc := range []struct{ with, want string }{
		{"'url' = '${URL}', 'table-name' = 'x', 'sink.flush' = '1'", "Unsupported options found for 'jdbc'"},
		{"'url' = '${URL}', 'table-name' = 'x', 'driver' = 'com.mysql.cj.jdbc.Driver'", "supports PostgreSQL only"},
		{"'url' = 'jdbc:mysql://127.0.0.1/db', 'table-name' = 'x'", "supports PostgreSQL only"},
		{"'url' = '${URL}', 'table-name' = 'x', 'username' = 'u'", "Either all or none of the following options should be provided"},
		{"'url' = '${URL}', 'table-name' = 'x', 'scan.partition.column' = 'id'", "Either all or none"},
		{"'url' = '${URL}', 'table-name' = 'x', 'lookup.partial-cache.max-rows' = '10'", "needs 'lookup.cache' = 'PARTIAL'"},
		{"'table-name' = 'x'", "url"},
	} {
		err := run(t, e, "CREATE TABLE bad (id INT) WITH ('connector' = 'jdbc', "+tc.with+")")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: got %v, want an error containing %q", tc.with, err, tc.want)
		}
	}
}

func lookupTable(cache map[string]string) connectors.Context {
	opts := map[string]string{"connector": "jdbc", "url": pg.URL(), "table-name": "dim"}
	for k, v := range cache {
		opts[k] = v
	}
	return connectors.Context{Options: opts, Table: &catalog.Table{Name: "dim", Options: opts, Columns: []catalog.Column{
		{Name: "k", Type: types.BigIntType()}, {Name: "name", Type: types.StringType()}}}}
}

// The lookup source finds rows by key; with a partial cache a second lookup of a key does not see a
// change in the database until the entry expires, and missing keys are cached too.
func TestLookupCache(t *testing.T) {
	pgExec(t, "DROP TABLE IF EXISTS dim", "CREATE TABLE dim (k BIGINT PRIMARY KEY, name TEXT)", "INSERT INTO dim VALUES (1, 'one'), (2, 'two')")
	ctx := context.Background()
	l, err := jdbc.NewFactory().CreateLookup(lookupTable(map[string]string{"lookup.cache": "PARTIAL",
		"lookup.partial-cache.max-rows": "10", "lookup.partial-cache.expire-after-write": "300ms"}), []int{0})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	get := func(k int64) string {
		rows, err := l.Lookup(ctx, []types.Value{types.IntValue(k)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, r := range rows {
			s = append(s, fmt.Sprintf("%d:%s", r[0].Int(), r[1].Str()))
		}
		return strings.Join(s, ";")
	}
	expect(t, "lookup 1", get(1), "1:one")
	expect(t, "lookup 3", get(3), "")
	pgExec(t, "UPDATE dim SET name = 'uno' WHERE k = 1", "INSERT INTO dim VALUES (3, 'three')")
	expect(t, "cached 1", get(1), "1:one")
	expect(t, "cached missing 3", get(3), "")
	time.Sleep(350 * time.Millisecond)
	expect(t, "expired 1", get(1), "1:uno")
	expect(t, "expired 3", get(3), "3:three")
	if rows, err := l.Lookup(ctx, []types.Value{types.NullValue}, nil); err != nil || len(rows) != 0 {
		t.Fatalf("NULL key: %v %v", rows, err)
	}
}

func TestLookupJoinErrors(t *testing.T) {
	e := open(t)
	mustRun(t, e, `
CREATE TABLE gen (id BIGINT, proc AS PROCTIME()) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
CREATE TABLE gdim (k BIGINT, name STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
CREATE TABLE jdim (k BIGINT, name STRING) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'dim');
CREATE TABLE out (id BIGINT, name STRING) WITH ('connector' = 'blackhole');`)
	for _, tc := range []struct{ q, want string }{
		{"INSERT INTO out SELECT g.id, d.name FROM gen AS g JOIN gdim FOR SYSTEM_TIME AS OF g.proc AS d ON g.id = d.k",
			"table 'gdim' (connector 'datagen') does not support lookups"},
		{"INSERT INTO out SELECT g.id, d.name FROM gen AS g JOIN jdim FOR SYSTEM_TIME AS OF g.proc AS d ON g.id > d.k",
			"lookup joins support equality conditions"},
		{"INSERT INTO out SELECT g.id, d.name FROM gen AS g JOIN jdim FOR SYSTEM_TIME AS OF g.proc AS d ON TRUE",
			"lookup joins support equality conditions"},
	} {
		if err := run(t, e, tc.q); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.q, err, tc.want)
		}
	}
	// Batch mode runs lookup joins too, as Flink does: each row is joined with what the lookup returns.
	pgExec(t, "CREATE TABLE lje_dim (k BIGINT PRIMARY KEY, name TEXT)", "INSERT INTO lje_dim VALUES (1, 'one'), (2, 'two')")
	mustRun(t, e, `
SET 'execution.runtime-mode' = 'batch';
CREATE TABLE seq (id BIGINT, proc AS PROCTIME()) WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence',
  'fields.id.start' = '0', 'fields.id.end' = '3');
CREATE TABLE lje (k BIGINT, name STRING) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'lje_dim');`)
	expect(t, "batch lookup join", query(t, e, "SELECT s.id, d.name FROM seq AS s JOIN lje FOR SYSTEM_TIME AS OF s.proc AS d ON s.id = d.k"), "1,one\n2,two")
}
