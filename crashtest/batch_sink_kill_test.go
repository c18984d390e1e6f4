package crashtest

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/internal/proctest"
	"github.com/sluicesql/sluice/sql"
)

// readRows reads the filesystem table at dir with the connector's source (in this process, batch) and
// returns how many rows it sees.
func readRows(t *testing.T, dir string) int64 {
	t.Helper()
	es, err := engine.NewSession(engine.Config{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(`SET 'execution.runtime-mode' = 'batch';
CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT) WITH ('connector' = 'filesystem', 'path' = '` + fileURL(dir) + `', 'format' = 'json');
SELECT COUNT(*) FROM totals;`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var res *engine.Result
	for _, st := range stmts {
		if res, err = es.Execute(ctx, st); err != nil {
			t.Fatalf("read '%s': %v", dir, err)
		}
	}
	defer res.Query.Close()
	r, ok := res.Query.Next(ctx)
	if !ok {
		t.Fatalf("read '%s': %v", dir, res.Query.Err())
	}
	return r.Vals[0].I
}

// TestBatchSinkTasksKill: the batch sink stage as 3 tasks (engine/batch_sink.go: each task writes hidden part
// files 'part-<uuid>-<task>-<n>' of its own, rolled every 16 kB, and the stage's End commits them all once
// every task succeeded, through a commit manifest: connectors/filesystem/sink_commit.go) killed with SIGKILL,
// kill k aimed at phase k%2: 0, every task writing (each has a hidden file of the run; the kill comes 0-5 ms
// later), or 1, the commit (at once when the run's manifest or its first committed file appears). A killed
// run leaves nothing visible, or its whole result (it finished its commit), or a begun commit (a manifest in
// the staging area, next to some of its files): then the next run of the statement, run at once to the
// end, completes that commit and writes no rows, and the result is every user's totals once. The last run
// goes to the end from what the other kills left: every user's totals once, written by all 3 tasks, and no
// hidden file or run record left. After every kill the filesystem source reads none of the rows or all of
// them (connectors/filesystem/commit_read.go), even when part of a begun commit's files is visible.
func TestBatchSinkTasksKill(t *testing.T) {
	t.Parallel()
	const users, n, tasks = 20000, 100000, 3
	addr := broker(t, 4)
	dir := t.TempDir()
	tmp, out := filepath.Join(dir, "tmp"), filepath.Join(dir, "out")
	staging := filepath.Join(out, ".sluice-staging")
	for i := 0; i < n; i += 50000 {
		produce(t, addr, "orders", orders(i, min(50000, n-i), users))
	}
	sql := script(addr, `SET 'execution.runtime-mode' = 'batch';`,
		fmt.Sprintf(`SET 'parallelism.default' = '%d';`, tasks),
		`SET 'io.tmp.dirs' = '`+tmp+`';`,
		`CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');`,
		`CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '`+fileURL(out)+`', 'format' = 'json',
  'sink.rolling-policy.file-size' = '16kb');`,
		`INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id;`)
	cnt, sum := make([]int, users), make([]int, users)
	for i := 0; i < n; i++ {
		cnt[i%users]++
		sum[i%users] += i % 7
	}
	// files lists the sink directory: the committed files, the hidden part files per task, and the run
	// records in the staging area with and without a commit manifest.
	part := regexp.MustCompile(`^\.?part-([0-9a-f-]+)-(\d+)-\d+`)
	files := func() (visible []string, hidden map[string]int, records, manifests int) {
		hidden = map[string]int{}
		ents, _ := os.ReadDir(out)
		for _, e := range ents {
			if e.Name() == filepath.Base(staging) {
				continue
			}
			m := part.FindStringSubmatch(e.Name())
			task := -1
			if m != nil {
				task, _ = strconv.Atoi(m[2])
			}
			if strings.HasPrefix(e.Name(), ".") {
				hidden[e.Name()] = task
			} else {
				visible = append(visible, e.Name())
			}
		}
		records, manifests = runRecords(staging)
		return visible, hidden, records, manifests
	}
	// tally reads the committed files: users lost, rows duplicated or wrong, the tasks and the runs (part
	// file uuids) that wrote them.
	tally := func(visible []string) (lost, dups, wrong int, writers, runs map[string]bool, example string) {
		seen := make([]int, users)
		writers, runs = map[string]bool{}, map[string]bool{}
		for _, name := range visible {
			if m := part.FindStringSubmatch(name); m != nil {
				runs[m[1]], writers[m[2]] = true, true
			}
			fh, err := os.Open(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(fh)
			for sc.Scan() {
				k, v := fields(t, sc.Bytes(), []string{"user_id"}), fields(t, sc.Bytes(), []string{"cnt", "total"})
				u, err := strconv.Atoi(k)
				if err != nil || u < 0 || u >= users || v != row(cnt[u], sum[u]) {
					wrong++
					example = name + ": user " + k + " = " + v
					continue
				}
				seen[u]++
			}
			fh.Close()
		}
		for _, c := range seen {
			switch {
			case c == 0:
				lost++
			case c > 1:
				dups += c - 1
			}
		}
		return lost, dups, wrong, writers, runs, example
	}
	clear := func(visible []string) { // the next kill starts from an empty table
		for _, f := range visible {
			if err := os.Remove(filepath.Join(out, f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	rng := rand.New(rand.NewPCG(56, uint64(time.Now().UnixNano())))
	// A run that ended before its kill (its commit came between two looks) is checked like a killed one
	// and its phase is aimed at again, up to 3 times per kill.
	var aimed [2]int
	var before, begun, partial, finished, early int
	for k := 0; k < *kills; k++ {
		phase := k % 2
		_, old, _, _ := files()
		c := proctest.Start(t, clientBin, dir, sql)
		reached := func() bool {
			visible, hidden, _, manifests := files()
			if phase == 1 {
				return len(visible) > 0 || manifests > 0
			}
			writing := map[int]bool{}
			for name, task := range hidden {
				if _, was := old[name]; !was && task >= 0 {
					writing[task] = true
				}
			}
			return len(writing) == tasks
		}
		deadline := time.Now().Add(60 * time.Second)
		ok := reached()
		for !ok && !c.Exited() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			ok = reached()
		}
		if !ok && !c.Exited() {
			t.Fatalf("run %d: the batch job did not reach phase %d in 60 s:\n%s", k+1, phase, indent(c.Output()))
		}
		if phase == 0 {
			time.Sleep(randomDelay(rng, 0, 5*time.Millisecond))
		}
		ended := c.Exited()
		c.Kill()
		if ended {
			if strings.Contains(c.Output(), "[ERROR]") {
				t.Fatalf("run %d failed:\n%s", k+1, indent(c.Output()))
			}
			if early++; early > 3**kills {
				t.Fatalf("run %d: the batch job ended before the kill %d times (give it more input)", k+1, early)
			}
			k-- // aim at this phase again
		} else {
			aimed[phase]++
		}
		visible, _, records, manifests := files()
		lost, dups, wrong, _, _, example := tally(visible)
		if got := readRows(t, out); got != 0 && got != users { // readers honour the commit manifest
			t.Fatalf("run %d killed: the filesystem source reads %d rows, want none or the whole result (%d)", k+1, got, users)
		}
		switch {
		case manifests > 0:
			// the commit began: the visible files are part of the result, the rerun completes it
			if dups > 0 || wrong > 0 || records != 1 {
				t.Fatalf("run %d, killed in its commit: %d duplicated, %d wrong (%s), %d run records", k+1, dups, wrong, example, records)
			}
			if begun++; lost > 0 {
				partial++
			}
			rerun := proctest.Start(t, clientBin, dir, sql)
			if ended, err := rerun.Wait(90 * time.Second); !ended || err != nil || strings.Contains(rerun.Output(), "[ERROR]") {
				t.Fatalf("the rerun after run %d did not end well (ended %v, %v):\n%s", k+1, ended, err, indent(rerun.Output()))
			}
			if !strings.Contains(rerun.Output(), "this run writes no rows") {
				t.Fatalf("the rerun after run %d did not say that it writes nothing:\n%s", k+1, indent(rerun.Output()))
			}
			visible, _, records, _ = files()
			lost, dups, wrong, _, runs, example := tally(visible)
			if lost > 0 || dups > 0 || wrong > 0 || len(runs) != 1 || records != 0 {
				t.Fatalf("run %d killed in its commit, then rerun: %d users lost, %d duplicated, %d wrong (%s), files of %d runs, %d run records left",
					k+1, lost, dups, wrong, example, len(runs), records)
			}
			clear(visible)
		case len(visible) > 0:
			// the run finished its commit (its record removed) before the kill
			if lost > 0 || dups > 0 || wrong > 0 || records != 0 {
				t.Fatalf("run %d, killed in phase %d (ended first: %v) after its commit: %d users lost, %d duplicated, %d wrong (%s), %d run records",
					k+1, phase, ended, lost, dups, wrong, example, records)
			}
			if !ended {
				finished++
			}
			clear(visible)
		default:
			before++
		}
	}
	c := proctest.Start(t, clientBin, dir, sql)
	if ended, err := c.Wait(90 * time.Second); !ended || err != nil || strings.Contains(c.Output(), "[ERROR]") {
		t.Fatalf("the rerun did not end well (ended %v, %v):\n%s", ended, err, indent(c.Output()))
	}
	visible, hidden, records, _ := files()
	lost, dups, wrong, writers, _, example := tally(visible)
	t.Logf("%d kills (every task writing: %d, committing: %d; %d runs ended before the kill): %d before the commit, %d during it (%d with part of the result visible; each rerun completed it and wrote nothing), %d after it; last run: %d committed files of %d tasks, %d users, %d lost, %d duplicated, %d wrong; %d hidden files, %d run records left",
		*kills, aimed[0], aimed[1], early, before, begun, partial, finished, len(visible), len(writers), users, lost, dups, wrong, len(hidden), records)
	if lost > 0 || dups > 0 || wrong > 0 {
		t.Fatalf("batch rerun after kills: %d users lost, %d duplicated, %d wrong (%s)\nrerun output:\n%s", lost, dups, wrong, example, indent(c.Output()))
	}
	if len(writers) != tasks {
		t.Fatalf("committed files of %d tasks, want %d: the sink stage did not run as tasks", len(writers), tasks)
	}
	if len(hidden) > 0 || records > 0 {
		t.Fatalf("%d hidden files and %d run records left after the last run: the runs' leftovers were not cleaned up", len(hidden), records)
	}
	if *kills > 0 && aimed[0] == 0 {
		t.Fatal("no kill came while every sink task was writing: the test tested no kill of the sink stage")
	}
	if *kills > 1 && aimed[1] == 0 {
		t.Fatal("no kill came at the commit")
	}
}
