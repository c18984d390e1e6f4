package crashtest

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Batch jobs writing PostgreSQL through the jdbc sink as 3 tasks (connectors/jdbc/sink_tasks.go), killed
// with SIGKILL while their source stage runs and while the sink tasks write, then run again to the end. A
// killed batch job is rerun from scratch; every flush of a task is a transaction of its own, so the killed
// runs' flushed rows stay. The documented promises: a table with a PRIMARY KEY ends at the exact result (the
// rerun's upserts overwrite what the killed runs left, every change of a key written by one task, in
// order); an append table loses no row (the killed runs' rows stay: duplicates, counted and logged).

const jdbcKillTasks = 3

// countWrites makes PostgreSQL count the statements writing table in a sequence '<table>_writes' (nextval is
// not transactional: a statement counts as soon as it ran, before its transaction commits) and returns a
// function reading the count.
func countWrites(t *testing.T, c *pgx.Conn, table string) func() int64 {
	pgExec(t, c, fmt.Sprintf("CREATE SEQUENCE %s_writes", table),
		fmt.Sprintf(`CREATE FUNCTION %[1]s_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM nextval('%[1]s_writes'); RETURN NULL; END $$`, table),
		fmt.Sprintf("CREATE TRIGGER %[1]s_count AFTER INSERT ON %[1]s FOR EACH STATEMENT EXECUTE FUNCTION %[1]s_bump()", table))
	return func() int64 {
		r := pgInts(t, c, fmt.Sprintf("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM %s_writes", table))
		return r[0][0]
	}
}

// jdbcKillRun is the state of the run started last that the aims look at: the job directories and the
// write count before it started.
type jdbcKillRun struct {
	t      *testing.T
	conn   *pgx.Conn
	tmp    string
	writes func() int64
	w0     int64
	old    map[string]bool
}

// begin notes the job directories and the write count once the killed run's connections are gone (a killed
// client's backend may still run the statements it had been sent, counting writes after the kill).
func (r *jdbcKillRun) begin() {
	if !waitFor(20*time.Second, func() bool {
		return pgInts(r.t, r.conn, "SELECT COUNT(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")[0][0] == 0
	}) {
		r.t.Fatal("the killed run's PostgreSQL connections did not end in 20 s")
	}
	r.w0, r.old = r.writes(), jobDirNames(r.tmp)
}

// newDirs lists the job directories that were not there when the run started.
func (r *jdbcKillRun) newDirs() []string { return newDirs(r.tmp, r.old) }

// aim aims kill k at the source stage writing its files (even k) or the sink tasks writing (odd k).
func (r *jdbcKillRun) aim(k int) killAim {
	if k%2 == 0 {
		return killAim{name: "the source stage writing", reached: func() bool { return sourceWriting(r.newDirs()) }, within: 100 * time.Millisecond}
	}
	return killAim{name: "the sink tasks writing", reached: func() bool { return r.writes() > r.w0 }, within: 100 * time.Millisecond}
}

// where names the moment: the sink tasks wrote, else the job runs its stages before the sink (with
// later, a stage after the source stage wrote files; "source stage" includes the sink stage starting, before
// its first write), else it is starting.
func (r *jdbcKillRun) where(later bool) string {
	switch {
	case r.writes() > r.w0:
		return "sink tasks writing"
	case later && r.pastSource():
		return "stages after the source"
	case len(r.newDirs()) > 0:
		return "source stage"
	}
	return "starting"
}

// pastSource reports that a stage after the source stage wrote files in the run's job directory.
func (r *jdbcKillRun) pastSource() bool {
	for _, d := range r.newDirs() {
		if m, _ := filepath.Glob(filepath.Join(d, "stage-[2-9]-*")); len(m) > 0 {
			return true
		}
	}
	return false
}

// jdbcKillScript is a BATCH job at parallelism 3 reading the bounded topic orders into the jdbc table
// (columns cols, PostgreSQL table table) with insert. Timed flushes are off: a task writes its rows in
// flushes of 100 ('sink.buffer-flush.max-rows') and the rest when its input ends (connectors.SubtaskFlusher),
// so a lost last flush is lost every time, not only when no timed flush came first.
func jdbcKillScript(addr, tmp, url, table, cols, insert string) string {
	return script(addr, `SET 'execution.runtime-mode' = 'batch';`,
		fmt.Sprintf(`SET 'parallelism.default' = '%d';`, jdbcKillTasks),
		`SET 'io.tmp.dirs' = '`+tmp+`';`,
		`CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');`,
		fmt.Sprintf(`CREATE TABLE %s (%s) WITH ('connector' = 'jdbc', 'url' = '%s', 'table-name' = '%s', 'sink.buffer-flush.interval' = '0');`, table, cols, url, table),
		insert)
}

// TestBatchJDBCUpsertKill: running totals per user (count, sum and the last order's id: an OVER aggregate in
// id order, behind a one-task ORDER BY id, so that the rows of the users interleave) into a jdbc table with
// PRIMARY KEY user_id, written by 3 tasks with the rows hashed by the key; killed while the source stage
// runs and while the sink tasks write (a kill there leaves running totals of many users short of their end),
// then run to the end. The table must hold every user's exact totals: the last run's upserts overwrite
// every row the killed runs left, each key's changes in order.
func TestBatchJDBCUpsertKill(t *testing.T) {
	t.Parallel()
	const n, users = 60000, 2000
	p := startPostgres(t)
	conn := p.conn(t)
	pgExec(t, conn, "CREATE TABLE totals (user_id BIGINT PRIMARY KEY, cnt BIGINT, total BIGINT, last_id BIGINT)")
	run := &jdbcKillRun{t: t, conn: conn, tmp: filepath.Join(t.TempDir(), "tmp"), writes: countWrites(t, conn, "totals")}
	addr := broker(t, 4)
	produce(t, addr, "orders", orders(0, n, users))
	sql := jdbcKillScript(addr, run.tmp, p.url(), "totals", "user_id BIGINT, cnt BIGINT, total BIGINT, last_id BIGINT, PRIMARY KEY (user_id) NOT ENFORCED",
		`INSERT INTO totals SELECT user_id, cnt, total, id FROM (SELECT id, user_id,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cnt,
  SUM(amount) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS total
  FROM (SELECT id, user_id, amount, TO_TIMESTAMP_LTZ(id, 3) AS ts FROM orders)) ORDER BY id;`)
	cnt, sum := make([]int64, users), make([]int64, users)
	for i := 0; i < n; i++ {
		cnt[i%users]++
		sum[i%users] += int64(i % 7)
	}
	prefix := func(u, c int64) int64 { // the user's total over its first c orders
		var s int64
		for j := int64(0); j < c; j++ {
			s += (u + j*users) % 7
		}
		return s
	}
	// check compares the table with the totals: rows of users not there, partial (a killed run's), wrong.
	check := func() (missing, partial, wrong int, example string) {
		seen := make([]bool, users)
		for _, r := range pgInts(t, conn, "SELECT user_id, cnt, total, last_id FROM totals") {
			u := r[0]
			switch {
			case u < 0 || u >= users || seen[u]:
				wrong++
				example = fmt.Sprintf("user %d twice or unknown", u)
				continue
			case r[1] == cnt[u] && r[2] == sum[u] && r[3] == int64(n-users)+u:
			case r[1] > 0 && r[1] < cnt[u] && r[2] == prefix(u, r[1]) && r[3] == u+(r[1]-1)*users:
				partial++ // a killed run's running totals, consistent up to an earlier order of the user
			default:
				wrong++
				example = fmt.Sprintf("user %d: count %d, total %d, last id %d, want %d, %d, %d", u, r[1], r[2], r[3], cnt[u], sum[u], int64(n-users)+u)
			}
			seen[u] = true
		}
		for _, s := range seen {
			if !s {
				missing++
			}
		}
		return missing, partial, wrong, example
	}
	var partialAfter []int // the users with partial totals in the table after each kill
	moments, early, out := batchKills{sql: sql, dir: t.TempDir(), aim: run.aim, begin: run.begin, where: func() string { return run.where(true) }, after: func(k int, moment string) {
		_, partial, _, _ := check()
		partialAfter = append(partialAfter, partial)
	}}.run(t)
	missing, partial, wrong, example := check()
	t.Logf("%d kills (per moment: %v; %d runs ended before their kill), users with a killed run's partial totals after each kill: %v; last run: %d users, %d missing, %d partial, %d wrong; %d write statements in all",
		*kills, moments, early, partialAfter, users, missing, partial, wrong, run.writes())
	if missing > 0 || partial > 0 || wrong > 0 {
		t.Fatalf("jdbc upsert table after %d kills and a rerun: %d of %d users missing, %d with a killed run's partial totals, %d wrong (%s)\nlast client output:\n%s",
			*kills, missing, users, partial, wrong, example, indent(out))
	}
	if *kills >= 2 && (moments["sink tasks writing"] == 0 || moments["source stage"]+moments["stages after the source"] == 0) {
		t.Fatalf("the kills came at %v: none while the sink tasks wrote or none before", moments)
	}
	if moments["sink tasks writing"] > 0 && slices.Max(partialAfter) == 0 {
		t.Fatal("no kill left partial totals in the table: the last run overwrote nothing, testing no rerun over a killed run's rows")
	}
}

// TestBatchJDBCAppendKill: the orders (id, user_id, amount) into a jdbc table without a key, read by 3
// source tasks and written by 3 sink tasks; killed while the source stage runs and while the sink tasks
// write, then run to the end. No row may be missing or wrong, also among the rows of the last run alone
// (a database sequence numbers the rows as written); the killed runs' flushed rows stay (at-least-once, as
// Flink's jdbc sink): the duplicates are counted and logged.
func TestBatchJDBCAppendKill(t *testing.T) {
	t.Parallel()
	const n, users = 60000, 500
	p := startPostgres(t)
	conn := p.conn(t)
	// seq numbers the rows in the order they were written: the last run's rows are those past the number
	// before it started
	pgExec(t, conn, "CREATE SEQUENCE events_rows", "CREATE TABLE events (id BIGINT, user_id BIGINT, amount BIGINT, seq BIGINT DEFAULT nextval('events_rows'))")
	run := &jdbcKillRun{t: t, conn: conn, tmp: filepath.Join(t.TempDir(), "tmp"), writes: countWrites(t, conn, "events")}
	addr := broker(t, 4)
	produce(t, addr, "orders", orders(0, n, users))
	sql := jdbcKillScript(addr, run.tmp, p.url(), "events", "id BIGINT, user_id BIGINT, amount BIGINT",
		`INSERT INTO events SELECT id, user_id, amount FROM orders;`)
	rowsAfter := []int64{}
	var seq0 int64 // the row number before the run started last
	begin := func() {
		run.begin()
		seq0 = pgInts(t, conn, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_rows")[0][0]
	}
	moments, early, out := batchKills{sql: sql, dir: t.TempDir(), aim: run.aim, begin: begin, where: func() string { return run.where(false) }, after: func(int, string) {
		rowsAfter = append(rowsAfter, pgInts(t, conn, "SELECT COUNT(*) FROM events")[0][0])
	}}.run(t)
	s := pgInts(t, conn, fmt.Sprintf(`SELECT COUNT(DISTINCT id), COUNT(*), COALESCE(MIN(id), -1), COALESCE(MAX(id), -1),
  COUNT(*) FILTER (WHERE user_id <> id %% %d OR amount <> id %% 7) FROM events`, users))[0]
	distinct, rows, lo, hi, wrong := s[0], s[1], s[2], s[3], s[4]
	last := pgInts(t, conn, fmt.Sprintf("SELECT COUNT(DISTINCT id), COUNT(*) FROM events WHERE seq > %d", seq0))[0]
	t.Logf("%d kills (per moment: %v; %d runs ended before their kill), rows in the table after each kill: %v; in all: %d distinct ids of %d, %d duplicate rows (at-least-once), %d wrong; the last run wrote %d distinct ids in %d rows",
		*kills, moments, early, rowsAfter, distinct, n, rows-distinct, wrong, last[0], last[1])
	if distinct != n || lo != 0 || hi != n-1 || wrong > 0 {
		t.Fatalf("jdbc append table after %d kills and a rerun: %d distinct ids in [%d, %d], want %d in [0, %d]; %d rows wrong\nlast client output:\n%s",
			*kills, distinct, lo, hi, n, n-1, wrong, indent(out))
	}
	// The killed runs' rows may cover a row the last run lost: the run that ended must have written every
	// id itself.
	if last[0] != n {
		t.Fatalf("the last run (not killed) wrote %d distinct ids of %d (%d rows): it lost rows that only the killed runs' leftovers hid\nlast client output:\n%s",
			last[0], n, last[1], indent(out))
	}
	if *kills >= 2 && (moments["sink tasks writing"] == 0 || moments["source stage"] == 0) {
		t.Fatalf("the kills came at %v: none while the sink tasks wrote or none in the source stage", moments)
	}
}
