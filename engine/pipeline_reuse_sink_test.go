package engine

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

const reusedSinkTables = `
CREATE TABLE ob (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE bh (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE bha (user_id BIGINT, cnt BIGINT, total BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE fs1 (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'filesystem', 'path' = 'DIR/fs1',
  'format' = 'csv');
CREATE TABLE fs2 (id BIGINT, amount BIGINT) WITH ('connector' = 'filesystem', 'path' = 'DIR/fs2', 'format' = 'csv');
`

// TestReusedScanSinkParallelism writes three branches of one reused 4-partition Kafka scan (a statement set)
// into two filesystem sinks and a blackhole, next to a fourth branch into a GROUP BY, at parallelism 1 and 3:
// at 3 the reused scan runs as subtasks that write the three sinks themselves (reusedSinksBuilt), the rows
// out are exact and the files' sorted lines equal those at 1 and come from several subtasks.
func TestReusedScanSinkParallelism(t *testing.T) {
	addr := exchangeBroker(t)
	const n = 3000
	produceExchangeOrders(t, addr, "ord", 0, n)
	var want1, want2 []string
	for i := range n {
		if i%7 < 5 {
			want1 = append(want1, fmt.Sprintf("%d,%d,%d", i, i%37, i%7*2))
		}
		if i%7 >= 3 {
			want2 = append(want2, fmt.Sprintf("%d,%d", i, i%7))
		}
	}
	slices.Sort(want1)
	slices.Sort(want2)
	// the GROUP BY: +I for a user's first order, -U/+U for every other one
	wantRows := int64(len(want1)+len(want2)) + int64(n/2) + 2*n - 37
	const set = `EXECUTE STATEMENT SET BEGIN
INSERT INTO fs1 SELECT id, user_id, amount * 2 FROM ob WHERE amount < 5;
INSERT INTO fs2 SELECT id, amount FROM ob WHERE amount >= 3;
INSERT INTO bh SELECT id, user_id, amount FROM ob WHERE MOD(id, 2) = 0;
INSERT INTO bha SELECT user_id, COUNT(*), SUM(amount) FROM ob GROUP BY user_id;
END;`
	for _, par := range []int{1, 3} {
		dir := t.TempDir()
		s := exchangeSession(t, par)
		execScript(t, s, strings.NewReplacer("ADDR", addr, "DIR", dir).Replace(reusedSinkTables))
		sinks, reused := reusedSinksBuilt.Load(), reusedBuilt.Load()
		st, err := sql.ParseStatement(set)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Execute(context.Background(), st)
		if err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
		if err := res.Job.Wait(context.Background()); err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
		wantSinks, wantReused := int64(0), int64(0)
		if par > 1 {
			wantSinks, wantReused = 3, 1
		}
		if k, r := reusedSinksBuilt.Load()-sinks, reusedBuilt.Load()-reused; k != wantSinks || r != wantReused {
			t.Fatalf("parallelism %d: %d sinks written by a reused scan's subtasks, %d reused scans as subtasks; want %d and %d",
				par, k, r, wantSinks, wantReused)
		}
		if rows := res.Job.Metrics().RowsOut; rows != wantRows {
			t.Fatalf("parallelism %d: rows out %d, want %d", par, rows, wantRows)
		}
		for _, f := range []struct {
			dir  string
			want []string
		}{{"fs1", want1}, {"fs2", want2}} {
			lines, subs, hidden := sinkFiles(t, filepath.Join(dir, f.dir))
			if len(hidden) > 0 {
				t.Fatalf("%s at parallelism %d: hidden files left: %v", f.dir, par, hidden)
			}
			if !slices.Equal(lines, f.want) {
				t.Fatalf("%s at parallelism %d: %d lines, want %d\ngot:  %.400v\nwant: %.400v", f.dir, par, len(lines), len(f.want), lines, f.want)
			}
			if par > 1 && len(subs) < 2 {
				t.Fatalf("%s at parallelism %d: files of subtasks %v, want several", f.dir, par, subs)
			}
		}
	}
}

// TestReusedScanSinkRestart fails a job that writes two branches of a reused scan into filesystem sinks at
// parallelism 2 after a checkpoint: the job restarts from the checkpoint, and every row is in each sink's
// finished files exactly once, written by both subtasks.
func TestReusedScanSinkRestart(t *testing.T) {
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
	execScript(t, s, strings.NewReplacer("ADDR", addr, "DIR", dir).Replace(`
CREATE TABLE o (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE fa (id BIGINT, user_id BIGINT) WITH ('connector' = 'filesystem', 'path' = 'DIR/fa', 'format' = 'csv');
CREATE TABLE fb (id BIGINT, amount BIGINT) WITH ('connector' = 'filesystem', 'path' = 'DIR/fb', 'format' = 'csv');
SET 'restart-strategy' = 'fixed-delay';
SET 'restart-strategy.fixed-delay.attempts' = '1';
SET 'restart-strategy.fixed-delay.delay' = '10 ms';
SET 'execution.checkpointing.interval' = '50 ms';
`))
	sinks := reusedSinksBuilt.Load()
	st, err := sql.ParseStatement(`EXECUTE STATEMENT SET BEGIN
INSERT INTO fa SELECT fail_once(id), user_id FROM o;
INSERT INTO fb SELECT id, amount FROM o;
END;`)
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
	want := func(sub string, n int) []string {
		var w []string
		for i := range n {
			if sub == "fa" {
				w = append(w, fmt.Sprintf("%d,%d", i, i%37))
			} else {
				w = append(w, fmt.Sprintf("%d,%d", i, i%7))
			}
		}
		slices.Sort(w)
		return w
	}
	waitFiles := func(n int) {
		t.Helper()
		for _, sub := range []string{"fa", "fb"} {
			var lines []string
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if lines, _, _ = sinkFiles(t, filepath.Join(dir, sub)); len(lines) >= n {
					break
				}
			}
			if w := want(sub, n); !slices.Equal(lines, w) {
				t.Fatalf("%s: %d lines in the finished files, want %d (each id once)\n%s", sub, len(lines), len(w), notice.String())
			}
		}
	}
	waitFiles(n) // committed by a checkpoint
	produceExchangeOrders(t, addr, "ord", n, 500)
	waitFiles(n + 500)
	if failed.Load() != 1 || j.Metrics().Restarts != 1 || strings.Contains(notice.String(), "from the beginning") {
		t.Fatalf("failures injected %d, restarts %d; want 1 and 1, from a checkpoint\n%s", failed.Load(), j.Metrics().Restarts, notice.String())
	}
	if k := reusedSinksBuilt.Load() - sinks; k != 4 {
		t.Fatalf("%d sinks written by a reused scan's subtasks over both runs, want 4", k)
	}
	produceExchangeOrders(t, addr, "ord", n+500, 500)
	waitFiles(n + 1000)
	for _, sub := range []string{"fa", "fb"} {
		if _, subs, _ := sinkFiles(t, filepath.Join(dir, sub)); !subs["0"] || !subs["1"] {
			t.Fatalf("%s: files of subtasks %v, want 0 and 1", sub, subs)
		}
	}
}

// TestSubtaskRowCountShares runs a filter into blackhole at parallelism 3: the source subtasks count the rows
// in and the sink's writers the rows out in shares of their own (the job's shared counters stay 0), the
// metrics show the exact sums, and the shares are folded into the counters' bases when the job ends.
func TestSubtaskRowCountShares(t *testing.T) {
	addr := exchangeBroker(t)
	const n = 2000
	produceExchangeOrders(t, addr, "ord", 0, n)
	s := exchangeSession(t, 3)
	execScript(t, s, strings.NewReplacer("ADDR", addr, "DIR", t.TempDir()).Replace(reusedSinkTables))
	st, err := sql.ParseStatement(`INSERT INTO bh SELECT id, user_id, amount FROM ob WHERE amount < 5`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	j := res.Job
	if err := j.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := int64(0)
	for i := range n {
		if i%7 < 5 {
			want++
		}
	}
	if m := j.Metrics(); m.RowsIn != n || m.RowsOut != want {
		t.Fatalf("rows in %d, out %d; want %d and %d", m.RowsIn, m.RowsOut, n, want)
	}
	if in, out := j.rowsIn.Load(), j.rowsOut.Load(); in != 0 || out != 0 {
		t.Fatalf("shared counters: rows in %d, out %d; want both counted in the subtasks' shares", in, out)
	}
	for _, c := range []*subtaskCounts{&j.rowsInSubs, &j.rowsOutSubs} {
		c.mu.Lock()
		left, base := len(c.shares), c.base
		c.mu.Unlock()
		if left != 0 || base == 0 {
			t.Fatalf("%d shares left after the job, base %d; want all folded", left, base)
		}
	}
}
