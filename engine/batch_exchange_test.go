package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/sql"
)

// stagedRun runs an INSERT script in batch mode in a new session (extra options on top) and returns the
// sorted lines its print sinks wrote (without the task numbers of a print sink with several tasks), the
// notices, the job and its error.
func stagedRun(t *testing.T, script string, opts map[string]string) (lines []string, notice string, job *Job, err error) {
	t.Helper()
	lines, notice, job, err = stagedRunRaw(t, script, opts)
	for i, l := range lines {
		lines[i] = stripTask(l)
	}
	sort.Strings(lines)
	return lines, notice, job, err
}

// stagedRunRaw is stagedRun with the lines as printed (sorted).
func stagedRunRaw(t *testing.T, script string, opts map[string]string) (lines []string, notice string, job *Job, err error) {
	t.Helper()
	var out, note bytes.Buffer
	o := map[string]string{"execution.runtime-mode": "batch", "restart-strategy.fixed-delay.delay": "0 ms",
		"restart-strategy.fixed-delay.attempts": "2", "table.local-time-zone": "UTC"}
	for k, v := range opts {
		o[k] = v
	}
	if _, ok := o["io.tmp.dirs"]; !ok {
		// 'io.tmp.dirs' is a list (',', '|' or ':'): a test name with a comma made t.TempDir a list whose
		// tail was a relative directory, left in the package directory.
		d := t.TempDir()
		if strings.ContainsAny(d, ",|"+string(os.PathListSeparator)) {
			t.Fatalf("the test's temporary directory %q holds a separator of 'io.tmp.dirs' (',', '|' or %q): name the test without it", d, os.PathListSeparator)
		}
		o["io.tmp.dirs"] = d
	}
	s, err := NewSession(Config{Stdout: &out, Stderr: &note, Notice: &note, Options: o})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, st := range stmts {
		res, err := s.Execute(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if res.Job != nil {
			job = res.Job
		}
	}
	err = s.WaitJobs(ctx)
	lines = strings.Split(strings.TrimSpace(out.String()), "\n")
	sort.Strings(lines)
	return lines, note.String(), job, err
}

// attemptsOf summarizes a job's stage attempts as "stage name: attempt rows [failed]" lines, and checks
// that every stage's name contains one of want's keys in order.
func attemptsOf(j *Job) string {
	var b strings.Builder
	for _, a := range j.StageAttempts() {
		fmt.Fprintf(&b, "%d %s: attempt %d read %d", a.Stage, a.Name, a.Attempt, a.RowsRead)
		if a.Err != nil {
			b.WriteString(" failed")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func withStageFault(t *testing.T, f func(st *batchStage, task, attempt int, rows int64, end bool) error) {
	stageFault = f
	t.Cleanup(func() { stageFault = nil })
}

var errInjected = errors.New("injected fault")

// loseFileOnce returns a fault for a task attempt whose inputs call the stage hook on several goroutines (a
// task reading two stages' files): the first call removes the intermediate file name of the job under dir,
// and every call fails with errInjected (so no input fails first on the missing file).
func loseFileOnce(dir, name string) func() error {
	var removed atomic.Bool
	return func() error {
		if removed.Swap(true) {
			return errInjected
		}
		paths, _ := filepath.Glob(filepath.Join(dir, "sluice-job-*", name))
		if len(paths) != 1 {
			return fmt.Errorf("no file %s: %v", name, paths)
		}
		if err := os.Remove(paths[0]); err != nil {
			return err
		}
		return errInjected
	}
}

const aggScript = `
CREATE TABLE src (id BIGINT, name STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '20000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '20000', 'fields.name.length' = '3');
CREATE TABLE out_t (k BIGINT, n BIGINT, s BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT MOD(id, 300), COUNT(*), SUM(id) FROM src GROUP BY MOD(id, 300);`

// A failure in the aggregate stage (the middle of source → aggregate → sink) restarts that stage alone, which
// reads the source stage's file again: the source is read once, the sink stage runs once, and the result
// equals a fault-free run.
func TestBatchStageFailoverAggregate(t *testing.T) {
	want, _, _, err := stagedRun(t, aggScript, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 300 {
		t.Fatalf("the fault-free run printed %d rows, want 300", len(want))
	}
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if strings.Contains(st.name, "SortAggregate") && attempt == 1 && end {
			return errInjected // after reading its whole input
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, aggScript, nil)
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	wantAttempts := `1 Source: src -> Calc: attempt 1 read 20000
2 SortAggregate -> Calc: attempt 1 read 20000 failed
2 SortAggregate -> Calc: attempt 2 read 20000
3 Sink: out_t: attempt 1 read 300
`
	if a := attemptsOf(job); a != wantAttempts {
		t.Fatalf("stage attempts:\n%s\nwant:\n%s", a, wantAttempts)
	}
	if m := job.Metrics(); m.RowsIn != 20000 {
		t.Fatalf("the source read %d rows, want 20000 (once)", m.RowsIn)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from the fault-free run")
	}
	if !strings.Contains(notice, "stage 2 (SortAggregate -> Calc) failed: injected fault") ||
		!strings.Contains(notice, "Restarting stage 2 alone, from the intermediate results of its inputs (20000 rows)") {
		t.Fatalf("notice:\n%s", notice)
	}
}

const joinScript = `
CREATE TABLE seq_o (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '12000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '12000');
CREATE TABLE seq_c (cid BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '400', 'rows-per-second' = '1000000000',
  'fields.cid.kind' = 'sequence', 'fields.cid.start' = '1', 'fields.cid.end' = '400');
CREATE VIEW orders AS SELECT id, MOD(id * 7, 500) + 1 AS cust, CAST(id AS DECIMAL(10, 2)) / 4 AS amount,
  TIMESTAMPADD(SECOND, CAST(id AS INT), TIMESTAMP '2024-01-01 00:00:00.123456789') AS ts FROM seq_o;
CREATE VIEW customers AS SELECT cid, CONCAT('c', CAST(cid AS STRING)) AS name,
  CAST(ROW(CONCAT('city', CAST(MOD(cid, 9) AS STRING)), CAST(cid AS INT)) AS ROW<city STRING, zip INT>) AS info FROM seq_c;
CREATE TABLE out_t (id BIGINT, name STRING, city STRING, amount DECIMAL(20, 6), ts TIMESTAMP(9)) WITH ('connector' = 'print');
INSERT INTO out_t SELECT o.id, c.name, c.info.city, o.amount, o.ts FROM orders o JOIN customers c ON o.cust = c.cid;`

// A failure in the join stage restarts it alone from both sides' files.
func TestBatchStageFailoverJoin(t *testing.T) {
	want, _, job0, err := stagedRun(t, joinScript, nil)
	if err != nil {
		t.Fatal(err)
	}
	var total, out int64
	for _, a := range job0.StageAttempts() {
		if strings.HasPrefix(a.Name, "HashJoin") {
			total = a.RowsRead
		}
		if strings.HasPrefix(a.Name, "Sink") {
			out = a.RowsRead
		}
	}
	if total != 12400 || out != int64(len(want)) || out < 8000 {
		t.Fatalf("fault-free run: the join read %d rows (want 12400), the sink %d (printed %d)\n%s", total, out, len(want), attemptsOf(job0))
	}
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if strings.HasPrefix(st.name, "HashJoin") && attempt == 1 && end && rows == 12400 {
			return errInjected // after reading both inputs
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, joinScript, nil)
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	a := attemptsOf(job)
	for _, line := range []string{
		"Source: seq_o -> Calc: attempt 1 read 12000\n",
		"Source: seq_c -> Calc: attempt 1 read 400\n",
		"HashJoin -> Calc -> Calc: attempt 1 read 12400 failed\n",
		"HashJoin -> Calc -> Calc: attempt 2 read 12400\n",
		fmt.Sprintf("Sink: out_t: attempt 1 read %d\n", out),
	} {
		if !strings.Contains(a, line) {
			t.Fatalf("stage attempts lack %q:\n%s", line, a)
		}
	}
	if n := strings.Count(a, "\n"); n != 5 {
		t.Fatalf("want 5 stage attempts, got:\n%s", a)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from the fault-free run")
	}
}

// When a stage's input file is gone, the stage that wrote it runs again first.
func TestBatchStagePredecessorRerun(t *testing.T) {
	want, _, _, err := stagedRun(t, aggScript, nil)
	if err != nil {
		t.Fatal(err)
	}
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if strings.Contains(st.name, "SortAggregate") && attempt == 1 && end {
			if err := os.Remove(st.inputs[0].file(0, 0)); err != nil {
				return err
			}
			return errInjected
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, aggScript, nil)
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	wantAttempts := `1 Source: src -> Calc: attempt 1 read 20000
2 SortAggregate -> Calc: attempt 1 read 20000 failed
1 Source: src -> Calc: attempt 2 read 20000
2 SortAggregate -> Calc: attempt 2 read 20000
3 Sink: out_t: attempt 1 read 300
`
	if a := attemptsOf(job); a != wantAttempts {
		t.Fatalf("stage attempts:\n%s\nwant:\n%s", a, wantAttempts)
	}
	if !strings.Contains(notice, "the intermediate result of stage 1 (Source: src -> Calc) is gone") {
		t.Fatalf("notice:\n%s", notice)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from the fault-free run")
	}
}

// A stage that keeps failing fails the job once the restart strategy gives up; the job's directory of
// intermediate results is removed whether the job fails or finishes.
func TestBatchStageGivesUpAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	_, _, _, err := stagedRun(t, aggScript, map[string]string{"io.tmp.dirs": dir})
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("a finished job left %d entries in io.tmp.dirs", len(ents))
	}
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if strings.Contains(st.name, "SortAggregate") && rows >= 8192 {
			return errInjected // in the middle of its input, every attempt
		}
		return nil
	})
	_, notice, job, err := stagedRun(t, aggScript, map[string]string{"io.tmp.dirs": dir})
	if err == nil || !strings.Contains(err.Error(), "stage 2 (SortAggregate -> Calc): ") || !errors.Is(err, errInjected) {
		t.Fatalf("want the stage's error, got %v", err)
	}
	if n := strings.Count(notice, "Restarting stage 2 alone"); n != 2 {
		t.Fatalf("want 2 restarts (fixed-delay attempts 2), got %d:\n%s", n, notice)
	}
	if a := attemptsOf(job); strings.Count(a, "failed") != 3 || strings.Contains(a, "Sink") {
		t.Fatalf("stage attempts:\n%s", a)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("a failed job left %d entries in io.tmp.dirs", len(ents))
	}
}

// 'io.tmp.dirs' that cannot hold the job's directory fails the job with an error naming the option.
func TestBatchStageTmpDirError(t *testing.T) {
	f := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := stagedRun(t, aggScript, map[string]string{"io.tmp.dirs": f})
	if err == nil || !strings.Contains(err.Error(), "'io.tmp.dirs'") || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("want an error naming 'io.tmp.dirs', got %v", err)
	}
}

// Staged (blocking) and pipelined batch runs of the same statements print the same rows, for plans with a
// sort, a rank, a union, a reused source, nested and temporal types.
func TestBatchStagedEqualsPipelined(t *testing.T) {
	ddl := `
CREATE TABLE seq (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '3000');
CREATE VIEW src AS SELECT id, CAST(MOD(id * 13, 20) AS INT) AS g, CONCAT('n', CAST(MOD(id * 31, 97) AS STRING)) AS name,
  CAST(id AS DECIMAL(20, 4)) / 7 AS amount, TIMESTAMPADD(MINUTE, CAST(id AS INT), TIMESTAMP '2024-02-29 23:59:59.999') AS ts,
  ROW(CAST(MOD(id, 5) AS INT), CASE WHEN MOD(id, 3) = 0 THEN NULL ELSE CAST(id AS STRING) END) AS r,
  ARRAY[CAST(id AS STRING), 'x'] AS tags FROM seq;
CREATE TABLE o1 (g INT, n BIGINT, m DECIMAL(38, 4), t TIMESTAMP(3)) WITH ('connector' = 'print', 'print-identifier' = 'o1');
CREATE TABLE o2 (id BIGINT, name STRING, rn BIGINT) WITH ('connector' = 'print', 'print-identifier' = 'o2');
CREATE TABLE o3 (id BIGINT, r ROW<a INT, b STRING>, tags ARRAY<STRING>) WITH ('connector' = 'print', 'print-identifier' = 'o3');
`
	for _, q := range []string{
		`INSERT INTO o1 SELECT g, COUNT(*), SUM(amount), MAX(ts) FROM src GROUP BY g;`,
		`INSERT INTO o2 SELECT id, name, rn FROM (SELECT id, name, ROW_NUMBER() OVER (PARTITION BY g ORDER BY id DESC) AS rn FROM src) WHERE rn <= 3;`,
		`INSERT INTO o3 SELECT id, r, tags FROM src WHERE id < 50 UNION ALL SELECT id, r, tags FROM src WHERE id > 2990;`,
		`INSERT INTO o2 SELECT a.id, b.name, a.g FROM src a JOIN (SELECT g, MIN(name) AS name FROM src GROUP BY g) b ON a.g = b.g WHERE a.id < 100;`,
		`EXECUTE STATEMENT SET BEGIN INSERT INTO o1 SELECT g, COUNT(*), SUM(amount), MIN(ts) FROM src GROUP BY g;
		 INSERT INTO o3 SELECT id, r, tags FROM src ORDER BY id DESC LIMIT 5; END;`,
	} {
		staged, _, job, err := stagedRun(t, ddl+q, nil)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if len(job.StageAttempts()) < 3 {
			t.Fatalf("%s: not run in stages:\n%s", q, attemptsOf(job))
		}
		piped, _, job2, err := stagedRun(t, ddl+q, map[string]string{"execution.batch-shuffle-mode": "ALL_EXCHANGES_PIPELINED"})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if job2.StageAttempts() != nil {
			t.Fatalf("%s: a pipelined run was cut into stages", q)
		}
		if strings.Join(staged, "\n") != strings.Join(piped, "\n") || len(staged) < 5 {
			t.Fatalf("%s: staged and pipelined runs differ:\n%s\n---\n%s", q, strings.Join(staged, "\n"), strings.Join(piped, "\n"))
		}
	}
}

// A cancelled staged job ends as cancelled, runs none of its later stages and removes its files.
func TestBatchStageCancel(t *testing.T) {
	dir := t.TempDir()
	var note bytes.Buffer
	s, err := NewSession(Config{Stdout: &note, Stderr: &note, Notice: &note, Options: map[string]string{
		"execution.runtime-mode": "batch", "io.tmp.dirs": dir}})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(`
CREATE TABLE slow (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '100000', 'rows-per-second' = '2000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '100000');
CREATE TABLE out_t (k BIGINT, n BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT MOD(id, 7), COUNT(*) FROM slow GROUP BY MOD(id, 7);`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var job *Job
	for _, st := range stmts {
		res, err := s.Execute(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		job = res.Job
	}
	deadline := time.Now().Add(10 * time.Second)
	for job.Metrics().RowsIn == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	job.Cancel()
	if err := job.Wait(ctx); err != nil {
		t.Fatalf("a cancelled job reports %v", err)
	}
	if st := job.Status(); st != JobCancelled {
		t.Fatalf("status %s, want cancelled", st)
	}
	if a := attemptsOf(job); strings.Contains(a, "SortAggregate") || strings.Contains(a, "Sink") {
		t.Fatalf("later stages ran:\n%s", a)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("a cancelled job left %d entries in io.tmp.dirs", len(ents))
	}
	if strings.Contains(note.String(), "+I[") {
		t.Fatalf("a cancelled job wrote rows:\n%s", note.String())
	}
}

// The hybrid shuffle modes are refused rather than silently run as another mode.
func TestBatchShuffleModeOption(t *testing.T) {
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set("execution.batch-shuffle-mode", "ALL_EXCHANGES_HYBRID_FULL"); err == nil ||
		!strings.Contains(err.Error(), "ALL_EXCHANGES_BLOCKING") || !strings.Contains(err.Error(), "ALL_EXCHANGES_PIPELINED") {
		t.Fatalf("want an error listing the accepted modes, got %v", err)
	}
	if err := s.Set("execution.batch-shuffle-mode", "all_exchanges_pipelined"); err != nil {
		t.Fatal(err)
	}
	if s.blockingExchanges() {
		t.Fatal("ALL_EXCHANGES_PIPELINED still cuts batch jobs into stages")
	}
}

// A fault in any stage of a longer plan (two sources, join, aggregate, rank, sink) restarts that stage alone:
// it runs twice, reading the same rows both times, every other stage runs once, and the result equals the
// fault-free run's.
func TestBatchStageFailoverEveryStage(t *testing.T) {
	script := strings.Replace(joinScript, `CREATE TABLE out_t (id BIGINT, name STRING, city STRING, amount DECIMAL(20, 6), ts TIMESTAMP(9)) WITH ('connector' = 'print');
INSERT INTO out_t SELECT o.id, c.name, c.info.city, o.amount, o.ts FROM orders o JOIN customers c ON o.cust = c.cid;`, `
CREATE TABLE out_t (city STRING, name STRING, total DECIMAL(38, 6), rn BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT city, name, total, rn FROM (
  SELECT city, name, total, ROW_NUMBER() OVER (PARTITION BY city ORDER BY total DESC, name) AS rn FROM (
    SELECT c.info.city AS city, c.name AS name, SUM(o.amount) AS total FROM orders o JOIN customers c ON o.cust = c.cid
    GROUP BY c.info.city, c.name)) WHERE rn <= 3;`, 1)
	want, _, job0, err := stagedRun(t, script, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := job0.StageAttempts()
	t.Logf("stages:\n%s", attemptsOf(job0))
	if len(base) < 6 || len(want) != 27 {
		t.Fatalf("fault-free run: %d rows (want 27), stages:\n%s", len(want), attemptsOf(job0))
	}
	read := map[int]int64{}
	for _, a := range base {
		read[a.Stage] = a.RowsRead
	}
	for _, victim := range base {
		withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
			if st.id == victim.Stage && attempt == 1 && end && rows == victim.RowsRead {
				return errInjected
			}
			return nil
		})
		got, notice, job, err := stagedRun(t, script, nil)
		if err != nil {
			t.Fatalf("fault in stage %d (%s): %v\n%s", victim.Stage, victim.Name, err, notice)
		}
		runs := map[int]int{}
		for _, a := range job.StageAttempts() {
			runs[a.Stage]++
			if a.RowsRead != read[a.Stage] {
				t.Fatalf("fault in stage %d: stage %d attempt %d read %d rows, want %d", victim.Stage, a.Stage, a.Attempt, a.RowsRead, read[a.Stage])
			}
		}
		for id := range read {
			want := 1
			if id == victim.Stage {
				want = 2
			}
			if runs[id] != want {
				t.Fatalf("fault in stage %d (%s): stage %d ran %d times, want %d:\n%s", victim.Stage, victim.Name, id, runs[id], want, attemptsOf(job))
			}
		}
		expect := want
		if strings.HasPrefix(victim.Name, "Sink") {
			// Sinks are at-least-once: the print sink printed the failed attempt's rows too.
			expect = append(append([]string(nil), want...), want...)
			sort.Strings(expect)
		}
		if strings.Join(got, "\n") != strings.Join(expect, "\n") {
			t.Fatalf("fault in stage %d (%s): the result differs from the fault-free run", victim.Stage, victim.Name)
		}
	}
}
