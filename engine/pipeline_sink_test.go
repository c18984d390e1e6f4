package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

const concurrentSinkTables = `
CREATE TABLE ob (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE obw (id BIGINT, user_id BIGINT, amount BIGINT, ts AS TO_TIMESTAMP_LTZ(id * 10 + (id % 37) * 20, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE bh (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE bha (user_id BIGINT, cnt BIGINT, total BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE fs (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'filesystem', 'path' = 'DIR/fs',
  'format' = 'csv');
CREATE TABLE fsw (user_id BIGINT, ws TIMESTAMP(3), cnt BIGINT, total BIGINT) WITH ('connector' = 'filesystem',
  'path' = 'DIR/fsw', 'format' = 'csv');
CREATE TABLE fsa (user_id BIGINT, cnt BIGINT, total BIGINT) WITH ('connector' = 'filesystem', 'path' = 'DIR/fsa',
  'format' = 'csv');
SET 'table.optimizer.reuse-source-enabled' = 'false';
`

// partName is a finished part file of the filesystem sink: part-<uuid>-<subtask>-<n>.
var partName = regexp.MustCompile(`^part-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-([0-9]+)-[0-9]+$`)

// sinkFiles returns the sorted lines of the finished part files under dir, the subtasks that wrote them, and
// the names of hidden files left there.
func sinkFiles(t *testing.T, dir string) (lines []string, subtasks map[string]bool, hidden []string) {
	t.Helper()
	subtasks = map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			hidden = append(hidden, d.Name())
			return nil
		}
		m := partName.FindStringSubmatch(d.Name())
		if m == nil {
			t.Fatalf("unexpected file %s", p)
		}
		subtasks[m[1]] = true
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for l := range strings.Lines(string(b)) {
			lines = append(lines, strings.TrimSuffix(l, "\n"))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return lines, subtasks, hidden
}

// TestConcurrentSinkParallelism writes a filter (source subtasks' chains) and a GROUP BY and a window
// aggregate (keyed subtasks) over a 4-partition topic into blackhole and filesystem sinks at parallelism 1
// and 3: at 3 the subtasks write the sinks themselves (concurrentSinksBuilt), the rows out are exact, the
// files' sorted lines equal those at 1 and come from part files of several subtasks. A GROUP BY's changelog
// into filesystem is refused at both parallelisms, as Flink does.
func TestConcurrentSinkParallelism(t *testing.T) {
	addr := exchangeBroker(t)
	const n = 3000
	produceExchangeOrders(t, addr, "ord", 0, n)
	filtered := 0
	for i := range n {
		if i%7 < 5 {
			filtered++
		}
	}
	jobs := []struct {
		insert string
		dir    string // the filesystem sink's directory, "" for blackhole
		rows   int64  // the rows out (-1: compared with parallelism 1)
		subs   int    // at least this many subtasks wrote files at parallelism 3
	}{
		{`INSERT INTO bh SELECT id, user_id, amount FROM ob WHERE amount < 5`, "", int64(filtered), 0},
		// +I for a user's first order, -U/+U for every other one
		{`INSERT INTO bha SELECT user_id, COUNT(*), SUM(amount) FROM ob GROUP BY user_id`, "", 2*n - 37, 0},
		{`INSERT INTO fs SELECT id, user_id, amount * 2 FROM ob WHERE amount < 5`, "fs", int64(filtered), 3},
		{`INSERT INTO fsw SELECT user_id, window_start, COUNT(*), SUM(amount) FROM TABLE(TUMBLE(TABLE obw, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY user_id, window_start, window_end`, "fsw", -1, 2},
	}
	for qi, jb := range jobs {
		var want []string
		var wantRows int64
		for _, par := range []int{1, 3} {
			dir := t.TempDir()
			s := exchangeSession(t, par)
			execScript(t, s, strings.NewReplacer("ADDR", addr, "DIR", dir).Replace(concurrentSinkTables))
			built := concurrentSinksBuilt.Load()
			st, err := sql.ParseStatement(jb.insert)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Execute(context.Background(), st)
			if err != nil {
				t.Fatalf("%s at parallelism %d: %v", jb.insert, par, err)
			}
			if err := res.Job.Wait(context.Background()); err != nil {
				t.Fatalf("%s at parallelism %d: %v", jb.insert, par, err)
			}
			if k := concurrentSinksBuilt.Load() - built; (par > 1) != (k == 1) {
				t.Fatalf("%s at parallelism %d: %d concurrent sinks built", jb.insert, par, k)
			}
			rows := res.Job.Metrics().RowsOut
			if jb.rows >= 0 && rows != jb.rows {
				t.Fatalf("%s at parallelism %d: rows out %d, want %d", jb.insert, par, rows, jb.rows)
			}
			if par == 1 {
				wantRows = rows
			} else if rows != wantRows {
				t.Fatalf("%s: rows out %d at parallelism %d, %d at 1", jb.insert, rows, par, wantRows)
			}
			if jb.dir == "" {
				continue
			}
			lines, subs, hidden := sinkFiles(t, filepath.Join(dir, jb.dir))
			if len(hidden) > 0 {
				t.Fatalf("%s at parallelism %d: hidden files left: %v", jb.insert, par, hidden)
			}
			if int64(len(lines)) != rows {
				t.Fatalf("%s at parallelism %d: %d lines in the files, %d rows out", jb.insert, par, len(lines), rows)
			}
			if par == 1 {
				want = lines
				if len(want) < 100 {
					t.Fatalf("%s: too few rows to compare: %d", jb.insert, len(want))
				}
				continue
			}
			if len(subs) < jb.subs {
				t.Fatalf("%s at parallelism %d: files of subtasks %v, want at least %d subtasks", jb.insert, par, subs, jb.subs)
			}
			if !slices.Equal(lines, want) {
				t.Fatalf("job %d: parallelism %d differs from parallelism 1\ngot:  %.600v\nwant: %.600v", qi, par, lines, want)
			}
		}
	}
	// an update changelog into filesystem (insert-only, as in Flink) is refused at any parallelism
	var msgs []string
	for _, par := range []int{1, 3} {
		dir := t.TempDir()
		s := exchangeSession(t, par)
		execScript(t, s, strings.NewReplacer("ADDR", addr, "DIR", dir).Replace(concurrentSinkTables))
		st, err := sql.ParseStatement(`INSERT INTO fsa SELECT user_id, COUNT(*), SUM(amount) FROM ob GROUP BY user_id`)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Execute(context.Background(), st)
		if err == nil {
			err = res.Job.Wait(context.Background())
		}
		if err == nil || !strings.Contains(err.Error(), "fsa") {
			t.Fatalf("parallelism %d: a GROUP BY into filesystem: %v, want a refusal naming the table", par, err)
		}
		msgs = append(msgs, err.Error())
	}
	if msgs[0] != msgs[1] {
		t.Fatalf("the refusal differs by parallelism:\n%s\n%s", msgs[0], msgs[1])
	}
}

// TestConcurrentSinkFileSystemRestart writes a filter at parallelism 2 into a filesystem sink that the
// source subtasks write themselves, checkpointing every 50 ms. Once a checkpoint committed the first 4000
// rows, more input comes and a chained function fails once in it; the job restarts from its last checkpoint:
// the finished files hold every row exactly once (the rows after the checkpoint written again, the
// in-progress files of the failed run removed), and input after the restart is written too.
func TestConcurrentSinkFileSystemRestart(t *testing.T) {
	addr := exchangeBroker(t)
	const n = 4000
	produceExchangeOrders(t, addr, "ord", 0, n)
	var notice bytes.Buffer
	s, err := NewSession(Config{Stdout: &notice, Stderr: &notice, Notice: &notice, TempDir: t.TempDir(),
		Options: map[string]string{"table.local-time-zone": "UTC", "parallelism.default": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	var failed atomic.Int32
	u, err := expr.NewUDF("fail_once", func(id int64) (int64, error) {
		if id == n+250 && failed.CompareAndSwap(0, 1) {
			return 0, fmt.Errorf("injected failure at order %d", id)
		}
		return id, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterFunction(u); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	execScript(t, s, strings.ReplaceAll(fmt.Sprintf(`
CREATE TABLE o (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE fs (id BIGINT, user_id BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
SET 'restart-strategy' = 'fixed-delay';
SET 'restart-strategy.fixed-delay.attempts' = '1';
SET 'restart-strategy.fixed-delay.delay' = '10 ms';
SET 'execution.checkpointing.interval' = '50 ms';
`, dir), "ADDR", addr))
	built := concurrentSinksBuilt.Load()
	st, err := sql.ParseStatement(`INSERT INTO fs SELECT fail_once(id), user_id FROM o`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	j := res.Job
	defer func() {
		j.Cancel()
		_ = j.Wait(context.Background())
	}()
	want := func(n int) []string {
		var w []string
		for i := range n {
			w = append(w, fmt.Sprintf("%d,%d", i, i%37))
		}
		slices.Sort(w)
		return w
	}
	waitFiles := func(n int) {
		t.Helper()
		var lines []string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if lines, _, _ = sinkFiles(t, dir); len(lines) >= n {
				break
			}
		}
		if w := want(n); !slices.Equal(lines, w) {
			t.Fatalf("%d lines in the finished files, want %d (each id once)\n%s", len(lines), len(w), notice.String())
		}
	}
	waitFiles(n) // committed by a checkpoint
	produceExchangeOrders(t, addr, "ord", n, 500)
	waitFiles(n + 500)
	if failed.Load() != 1 || j.Metrics().Restarts != 1 || strings.Contains(notice.String(), "from the beginning") {
		t.Fatalf("failures injected %d, restarts %d; want 1 and 1, from a checkpoint\n%s", failed.Load(), j.Metrics().Restarts, notice.String())
	}
	if k := concurrentSinksBuilt.Load() - built; k != 2 {
		t.Fatalf("%d concurrent sinks built over both runs, want 2", k)
	}
	produceExchangeOrders(t, addr, "ord", n+500, 500)
	waitFiles(n + 1000)
	// the subtasks wrote files of their own
	if _, subs, _ := sinkFiles(t, dir); !subs["0"] || !subs["1"] {
		t.Fatalf("files of subtasks %v, want 0 and 1", subs)
	}
}
