package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/expr"
)

// Per-split watermarks across a restore for the sources other than Kafka (connectors.SplitNamer: nexmark
// generators, datagen ranges, files). Each test runs a TUMBLE window aggregate at parallelism 2 twice: once
// uninterrupted into topic ref, once into topic got with a function in the subtasks' chains (pace, after
// the watermark assigner) that sleeps per row and fails once, after one split has ended and while another
// still runs; the job restarts from its latest checkpoint (every 20 ms). The windows after the restart fire
// without an idle timeout, and got equals ref.

// splitRestartPace is the function pace(v, us) = v that sleeps us microseconds per row and, once armed, fails
// at its failAt-th call after arming.
type splitRestartPace struct {
	armed, failed atomic.Bool
	calls         atomic.Int64
	failAt        int64
}

func (p *splitRestartPace) udf(t *testing.T) *expr.UDF {
	t.Helper()
	u, err := expr.NewUDF("pace", func(v, us int64) (int64, error) {
		time.Sleep(time.Duration(us) * time.Microsecond)
		if p.armed.Load() && p.calls.Add(1) >= p.failAt && p.failed.CompareAndSwap(false, true) {
			return 0, fmt.Errorf("injected failure at call %d", p.calls.Load())
		}
		return v, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// runSplitRestart runs insert (with TOPIC for the sink's table) uninterrupted into ref until it ends, or,
// when refInsert is set, runs that instead (a bounded variant of the same job), then runs insert into got
// with the failure armed (failAt 0: none) and waits until got equals ref (and has at least minRows rows).
func runSplitRestart(t *testing.T, s *Session, addr string, p *splitRestartPace, notice fmt.Stringer, refInsert, insert string, minRows int) {
	t.Helper()
	if refInsert == "" {
		refInsert = insert
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ref := startInsert(t, s, strings.ReplaceAll(refInsert, "TOPIC", "ref"))
	if err := ref.Wait(ctx); err != nil {
		t.Fatalf("the uninterrupted run: %v\n%s", err, notice)
	}
	want := upsertTable(t, addr, "ref")
	if len(want) < minRows {
		t.Fatalf("the uninterrupted run wrote %d windows, want at least %d\n%s", len(want), minRows, notice)
	}
	p.armed.Store(p.failAt > 0)
	j := startInsert(t, s, strings.ReplaceAll(insert, "TOPIC", "got"))
	defer func() {
		j.Cancel()
		_ = j.Wait(context.Background())
	}()
	var got map[string]string
	if !waitUntil(30*time.Second, func() bool {
		got = upsertTable(t, addr, "got")
		return fmt.Sprint(got) == fmt.Sprint(want)
	}) {
		var missing []string
		for k := range want {
			if _, ok := got[k]; !ok {
				missing = append(missing, k)
			}
		}
		slices.Sort(missing)
		t.Fatalf("the second run: %d windows, want %d; %d missing: %.400v\n%s", len(got), len(want), len(missing), missing, notice)
	}
	if p.failAt > 0 && (!p.failed.Load() || j.Metrics().Restarts != 1) {
		t.Fatalf("failure injected %v, restarts %d; want true and 1\n%s", p.failed.Load(), j.Metrics().Restarts, notice)
	}
}

// TestSplitWatermarkRestartNexmark: three generators at parallelism 2 (subtask 0 runs generators 0 and 2,
// subtask 1 generator 1, which so ends first) with keep-alive: a generator that has made all its events is
// not finished and holds the watermark at its last event's. The failure comes after generator 1 has ended
// (when subtask 0 has run half its events, at equal speeds) and before the others have (85 % of the events:
// subtask 0 at 78 %). Restored, generator 1 starts from its checkpointed
// watermark; from the lowest one (before SplitNamer) it held the watermark back for good, and no window after
// the checkpoint fired. The windows are of the events before 1.4 s (they span 1.5 s), so the bounded
// uninterrupted run (which ends with the highest watermark) and the kept-alive one fire the same.
func TestSplitWatermarkRestartNexmark(t *testing.T) {
	const events = 15000
	nexmarkSplitRun(t, events, 3, 2, events*17/20)
}

// TestSplitWatermarkNexmarkSubtaskWithout: two generators at parallelism 3, kept alive: subtask 2 runs none
// (as after a restore at a higher parallelism than the generators). It pushes once, so that it is idle in the
// subtasks' union; before, it sent nothing and the union held the watermark at the lowest: no window fired.
func TestSplitWatermarkNexmarkSubtaskWithout(t *testing.T) {
	nexmarkSplitRun(t, 15000, 2, 3, 0)
}

// nexmarkSplitRun runs TestSplitWatermarkRestartNexmark's job over events from gens generators at parallelism
// par, with a failure at call failAt (0: none).
func nexmarkSplitRun(t *testing.T, events, gens, par int, failAt int64) {
	addr := exchangeBroker(t)
	p := &splitRestartPace{failAt: failAt}
	s, notice := barrierSession(t, addr, par, "20 ms", p.udf(t))
	nx := func(name, keepAlive string) string {
		return strings.NewReplacer("NAME", name, "KEEP", keepAlive, "EVENTS", fmt.Sprint(events), "GENS", fmt.Sprint(gens)).Replace(`
CREATE TABLE NAME (event_type INT,
  person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR, {dt} TIMESTAMP(3), extra VARCHAR>,
  auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, {dt} TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,
  bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, {dt} TIMESTAMP(3), extra VARCHAR>,
  {dt} AS CASE WHEN event_type = 0 THEN person.{dt} WHEN event_type = 1 THEN auction.{dt} ELSE bid.{dt} END,
  WATERMARK FOR {dt} AS {dt}
) WITH ('connector' = 'nexmark', 'events.num' = 'EVENTS', 'num-event-generators' = 'GENS', 'seed' = '7',
  'base-time' = '1436918400000', 'keep-alive' = 'KEEP');
CREATE TEMPORARY VIEW NAME_v AS SELECT pace(CAST(event_type AS BIGINT), 20) AS et, {dt} FROM NAME;
`)
	}
	dt := strings.NewReplacer("{dt}", "`dateTime`", "ADDR", addr)
	execScript(t, s, dt.Replace(nx("nx", "true")+nx("nxb", "false")+windowSinks))
	q := dt.Replace(`INSERT INTO TOPIC SELECT window_start, et, COUNT(*) FROM TABLE(TUMBLE(TABLE VIEW, DESCRIPTOR({dt}),
  INTERVAL '0.1' SECOND)) WHERE {dt} < TIMESTAMP '2015-07-15 00:00:01.400' GROUP BY window_start, window_end, et`)
	runSplitRestart(t, s, addr, p, notice, strings.ReplaceAll(q, "VIEW", "nxb_v"), strings.ReplaceAll(q, "VIEW", "nx_v"), 30)
}

// windowSinks are the upsert tables ref and got of the window counts (window start, a key).
const windowSinks = `
CREATE TABLE ref (ws TIMESTAMP(3), k BIGINT, cnt BIGINT, PRIMARY KEY (ws, k) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'ref', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE got (ws TIMESTAMP(3), k BIGINT, cnt BIGINT, PRIMARY KEY (ws, k) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'got', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
`

// TestSplitWatermarkRestartDatagen: a bounded datagen table at parallelism 2 (two ranges of ids, range 1 read
// four times slower, so range 0 ends first) whose row time is the id's offset in its range (both ranges span
// the same time, and each holds the other back). The failure comes after range 0 has ended, while range 1 runs.
// Restored, range 0 is finished again at once (its name also gives it its checkpointed watermark), range 1
// starts from its own. A regression test: it passed before SplitNamer too (a bounded range read to its end is
// finished from the position, and an unbounded one never ends).
func TestSplitWatermarkRestartDatagen(t *testing.T) {
	const rows, half = 8000, 4000
	addr := exchangeBroker(t)
	p := &splitRestartPace{failAt: 6500} // range 0 (4000 rows) ends at about call 5000
	s, notice := barrierSession(t, addr, 2, "20 ms", p.udf(t))
	execScript(t, s, strings.NewReplacer("ADDR", addr, "LASTID", fmt.Sprint(rows-1), "HALF", fmt.Sprint(half)).Replace(`
CREATE TABLE dg (id BIGINT, ts AS TO_TIMESTAMP_LTZ(MOD(id, HALF) * 10, 3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'rows-per-second' = '10000000', 'fields.id.kind' = 'sequence',
  'fields.id.start' = '0', 'fields.id.end' = 'LASTID');
CREATE TEMPORARY VIEW dg_v AS SELECT pace(id, CASE WHEN id < HALF THEN 20 ELSE 80 END) AS id, ts FROM dg;
`+windowSinks))
	q := `INSERT INTO TOPIC SELECT window_start, MOD(id, 3), COUNT(*) FROM TABLE(TUMBLE(TABLE dg_v, DESCRIPTOR(ts),
  INTERVAL '1' SECOND)) GROUP BY window_start, window_end, MOD(id, 3)`
	runSplitRestart(t, s, addr, p, notice, "", q, 100)
}

// TestSplitWatermarkRestartFiles: a monitored directory of three CSV files at parallelism 2: a.csv (ids
// 0..999) and b.csv (1000..3999, read four times slower) are read in parallel, c.csv (4000..4999, the
// round's closing file) after them. The failure comes after a.csv has been read, while b.csv is read.
// Restored, a.csv is done (not read again, so not announced), b.csv resumes after its rows already pushed
// with its checkpointed watermark. The uninterrupted run reads the same directory bounded; the windows are
// of the ids below 4700, which the monitored run's final watermark (c.csv's last row less 1 s) closes too. A
// regression test: it passed before SplitNamer too (a file read completely is done in the position, and a file
// half read is held by the round's hold split or read alone as its closing file).
func TestSplitWatermarkRestartFiles(t *testing.T) {
	addr := exchangeBroker(t)
	dir := t.TempDir()
	for _, f := range []struct {
		name     string
		from, to int
	}{{"a.csv", 0, 1000}, {"b.csv", 1000, 4000}, {"c.csv", 4000, 5000}} {
		var b strings.Builder
		for i := f.from; i < f.to; i++ {
			fmt.Fprintf(&b, "%d\n", i)
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := &splitRestartPace{failAt: 3000} // a.csv ends at about call 2000 (b.csv at 250 rows)
	s, notice := barrierSession(t, addr, 2, "20 ms", p.udf(t))
	table := func(name, opts string) string {
		return "CREATE TABLE " + name + " (id BIGINT, ts AS TO_TIMESTAMP_LTZ(id * 10, 3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)\n" +
			"  WITH ('connector' = 'filesystem', 'path' = '" + dir + "', 'format' = 'csv'" + opts + ");\n" +
			"CREATE TEMPORARY VIEW " + name + "_v AS SELECT pace(id, CASE WHEN id >= 1000 AND id < 4000 THEN 80 ELSE 20 END) AS id, ts FROM " + name + ";\n"
	}
	execScript(t, s, table("fm", ", 'source.monitor-interval' = '50 ms'")+table("fb", "")+strings.ReplaceAll(windowSinks, "ADDR", addr))
	q := `INSERT INTO TOPIC SELECT window_start, MOD(id, 3), COUNT(*) FROM TABLE(TUMBLE(TABLE VIEW, DESCRIPTOR(ts),
  INTERVAL '1' SECOND)) WHERE id < 4700 GROUP BY window_start, window_end, MOD(id, 3)`
	runSplitRestart(t, s, addr, p, notice, strings.ReplaceAll(q, "VIEW", "fb_v"), strings.ReplaceAll(q, "VIEW", "fm_v"), 100)
}

// TestSplitWatermarkRestoreDatagenMoreSubtasks: an unbounded datagen table (row time: the wall clock) at
// parallelism 2 is stopped with a savepoint and restored at parallelism 3. Its two ranges go to subtasks 0 and 1;
// subtask 2 has none and pushes once, so that it is idle in the subtasks' union. Before, it sent nothing and
// the union held the watermark at the lowest: no window fired after the restore.
func TestSplitWatermarkRestoreDatagenMoreSubtasks(t *testing.T) { datagenRestoreAt(t, 2, 3) }

// TestSplitWatermarkRestoreDatagenFewerSubtasks: the same table stopped at parallelism 2 and restored at 1.
// The one subtask owns both unbounded ranges and interleaves them batch by batch; before, it read range 0
// forever and range 1, never started, held the watermark at its restored value: no window fired after the
// restore.
func TestSplitWatermarkRestoreDatagenFewerSubtasks(t *testing.T) { datagenRestoreAt(t, 2, 1) }

// datagenRestoreAt runs an unbounded windowed datagen job at parallelism from, stops it with a savepoint,
// restores it at parallelism to and requires windows to fire after the restore.
func datagenRestoreAt(t *testing.T, from, to int) {
	addr := exchangeBroker(t)
	p := &splitRestartPace{}
	tables := strings.ReplaceAll(`
CREATE TABLE du (k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen',
  'rows-per-second' = '400', 'fields.k.min' = '0', 'fields.k.max' = '2', 'fields.ts.max-past' = '0 ms');
`+windowSinks, "ADDR", addr)
	q := `INSERT INTO got SELECT window_start, CAST(k AS BIGINT), COUNT(*) FROM TABLE(TUMBLE(TABLE du, DESCRIPTOR(ts),
  INTERVAL '0.1' SECOND)) GROUP BY window_start, window_end, k`
	s, notice := barrierSession(t, addr, from, "1 h", p.udf(t))
	execScript(t, s, tables)
	j := startInsert(t, s, q)
	if !waitUntil(30*time.Second, func() bool { return len(upsertTable(t, addr, "got")) >= 6 }) {
		j.Cancel()
		t.Fatalf("no windows at parallelism %d\n%s", from, notice)
	}
	path, err := j.Stop(context.Background(), t.TempDir(), false)
	if err != nil {
		t.Fatalf("stop: %v\n%s", err, notice)
	}
	if err := j.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := len(upsertTable(t, addr, "got")) // the windows after the restore start later (the wall clock)
	s2, notice2 := barrierSession(t, addr, to, "1 h", p.udf(t))
	execScript(t, s2, tables+fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", path))
	j2 := startInsert(t, s2, q)
	defer func() {
		j2.Cancel()
		_ = j2.Wait(context.Background())
	}()
	if !waitUntil(30*time.Second, func() bool { return len(upsertTable(t, addr, "got")) >= before+6 }) {
		t.Fatalf("restored at parallelism %d: %d windows fired in 30 s, want at least 6\n%s", to, len(upsertTable(t, addr, "got"))-before, notice2)
	}
}
