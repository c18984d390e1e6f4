package jdbc_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/proctest"
	"github.com/sluicesql/sluice/state"
)

// TestKillUpsertAndAppendSinks runs datagen (a sequence) → GROUP BY → jdbc upsert sink, and the same rows →
// jdbc append sink, as one statement set with checkpoints every 100 ms in a real sql-client process; kills it
// with SIGKILL at random moments, restarts it from its latest checkpoint each time and lets the last run
// finish. The upsert table must hold the exact totals (replayed rows overwrite by primary key); the append
// table, at-least-once as Flink's jdbc sink, must hold every id (duplicates are counted and reported).
func TestKillUpsertAndAppendSinks(t *testing.T) {
	const n, keys = 40000, 50 // 8 s at 5000 rows per second: five runs of at most 1 s each never reach the end
	pgExec(t, "CREATE TABLE kill_totals (k BIGINT PRIMARY KEY, cnt BIGINT, total BIGINT)",
		"CREATE TABLE kill_events (id BIGINT, k BIGINT)")
	dir := t.TempDir()
	bin, err := proctest.BuildClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	ckpts := dir + "/ckpts"
	body := strings.NewReplacer("${URL}", pg.URL(), "${CKPTS}", ckpts, "${END}", strconv.Itoa(n-1), "${KEYS}", strconv.Itoa(keys)).Replace(`
SET 'execution.checkpointing.interval' = '100 ms';
SET 'state.checkpoints.dir' = '${CKPTS}';
SET 'table.dml-sync' = 'true';
CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence', 'fields.id.start' = '0',
  'fields.id.end' = '${END}', 'rows-per-second' = '5000');
CREATE TABLE kill_totals (k BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'kill_totals', 'sink.buffer-flush.interval' = '20 ms');
CREATE TABLE kill_events (id BIGINT, k BIGINT) WITH (
  'connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'kill_events', 'sink.buffer-flush.interval' = '20 ms');
EXECUTE STATEMENT SET BEGIN
INSERT INTO kill_totals SELECT MOD(id, ${KEYS}), COUNT(*), SUM(id) FROM gen GROUP BY MOD(id, ${KEYS});
INSERT INTO kill_events SELECT id, MOD(id, ${KEYS}) FROM gen;
END;
`)
	run := func() *proctest.Client {
		script := body
		if p, err := state.Latest(ckpts); err == nil && p != "" {
			script = fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", p) + script
		}
		return proctest.Start(t, bin, dir, script)
	}
	rng := rand.New(rand.NewPCG(11, uint64(time.Now().UnixNano())))
	restored := 0
	for k := 0; k < 5; k++ {
		if p, err := state.Latest(ckpts); err == nil && p != "" {
			restored++
		}
		c := run()
		time.Sleep(time.Duration(300+rng.IntN(700)) * time.Millisecond)
		if c.Exited() {
			t.Fatalf("sql-client ended before the kill:\n%s", c.Output())
		}
		c.Kill()
	}
	if restored == 0 {
		t.Fatalf("no run restored a checkpoint: the kills did not test a restore")
	}
	c := run()
	ended, err := c.Wait(60 * time.Second)
	if !ended || err != nil || !strings.Contains(c.Output(), "Complete execution") {
		t.Fatalf("the last run did not finish (ended %v, %v):\n%s", ended, err, c.Output())
	}
	var lines []string
	for k := 0; k < keys; k++ {
		cnt, total := 0, 0
		for id := k; id < n; id += keys {
			cnt++
			total += id
		}
		lines = append(lines, fmt.Sprintf("%d,%d,%d", k, cnt, total))
	}
	sort.Strings(lines)
	want := strings.Join(lines, "\n")
	if got := pgRows(t, "SELECT k, cnt, total FROM kill_totals"); got != want {
		t.Fatalf("upsert totals after %d kills are wrong:\n%s\nwant:\n%s", restored, got, want)
	}
	counts := pgRows(t, "SELECT COUNT(DISTINCT id), COUNT(*), MIN(id), MAX(id) FROM kill_events")
	var distinct, rows, lo, hi int
	if _, err := fmt.Sscanf(strings.TrimSpace(counts), "%d,%d,%d,%d", &distinct, &rows, &lo, &hi); err != nil {
		t.Fatalf("kill_events summary %q: %v", counts, err)
	}
	t.Logf("5 kills (%d restored from a checkpoint): upsert totals exact; append sink %d distinct ids of %d, %d duplicate rows (at-least-once)", restored, distinct, n, rows-distinct)
	if distinct != n || lo != 0 || hi != n-1 {
		t.Fatalf("the append sink lost rows: %d distinct ids in [%d, %d], want %d in [0, %d]", distinct, lo, hi, n, n-1)
	}
}
