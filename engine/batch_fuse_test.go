package engine

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// stageFiles lists the intermediate result files of stages 1 to last (< 10) of the job under dir
// ("stage-2-0-1.arrow", ...), sorted.
func stageFiles(t *testing.T, dir string, last byte) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "sluice-job-*", "stage-*.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		if n := filepath.Base(p); n[len("stage-")] <= '0'+last {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// attemptRows sums the rows read by the attempts of stage id (all tasks, all attempts) and counts its tasks.
func attemptRows(j *Job, id int) (rows int64, tasks int) {
	for _, a := range j.StageAttempts() {
		if a.Stage == id {
			rows += a.RowsRead
			tasks = a.Tasks
		}
	}
	return rows, tasks
}

// Keyed stages over one reused scan: two GROUP BYs by different keys (k and v) and a self-join (a.id = b.k),
// each branch's projection a forward stage fused into the scan's tasks (batch_fuse.go). At P = 1, 2, 4 the
// rows equal the query's run in one piece; the scan stage, each branch and each keyed stage run P tasks; the
// scan is read once (3000 rows over its tasks), each branch is given every row of it; and the scan's stage
// writes no file of its own: when the keyed stage reads, the job's files are the branches' subpartitions
// only (before the fusion the scan wrote its whole rows and every branch read them back).
func TestBatchFusedReusedScan(t *testing.T) {
	tables := batchTaskTables(t)
	cases := []struct{ name, query string }{ // stage 4: the keyed stage reading the branches 2 and 3
		{"two group bys", "SELECT k, COUNT(*), SUM(id) FROM f GROUP BY k UNION ALL SELECT v, COUNT(*), MIN(id) FROM f GROUP BY v"},
		{"self-join", "SELECT a.k, COUNT(*), SUM(b.id) FROM f a JOIN f b ON a.id = b.k GROUP BY a.k"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			script := tables + tc.query + ";"
			want, notice, _, err := queryRun(t, script, map[string]string{"restart-strategy": "none", "parallelism.default": "1"})
			if err != nil {
				t.Fatalf("in one piece: %v\n%s", err, notice)
			}
			if len(want) < 20 {
				t.Fatalf("too few rows: %q", want)
			}
			for _, par := range []int{1, 2, 4} {
				dir := t.TempDir()
				var mu sync.Mutex
				var files []string
				withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
					if st.id == 4 && task == 0 {
						mu.Lock()
						if files == nil {
							files = stageFiles(t, dir, 3)
						}
						mu.Unlock()
					}
					return nil
				})
				got, notice, job, err := queryRun(t, script, map[string]string{"parallelism.default": fmt.Sprint(par), "io.tmp.dirs": dir})
				if err != nil {
					t.Fatalf("at parallelism %d: %v\n%s", par, err, notice)
				}
				if strings.Join(sorted(got), "\n") != strings.Join(sorted(want), "\n") {
					t.Fatalf("at parallelism %d the rows differ (%d vs %d)", par, len(got), len(want))
				}
				for id := 1; id <= 4; id++ {
					if _, n := attemptRows(job, id); n != par {
						t.Fatalf("at parallelism %d want the scan, the branches and the keyed stage as %d tasks:\n%s", par, par, attemptsOf(job))
					}
				}
				if rows, _ := attemptRows(job, 1); rows != 3000 {
					t.Fatalf("at parallelism %d the scan read %d rows, want 3000 (once):\n%s", par, rows, attemptsOf(job))
				}
				for _, id := range []int{2, 3} {
					if rows, _ := attemptRows(job, id); rows != 3000 {
						t.Fatalf("at parallelism %d branch stage %d was given %d rows, want the scan's 3000:\n%s", par, id, rows, attemptsOf(job))
					}
				}
				// Every branch task writes one file per keyed task; the scan writes none.
				var want []string
				for _, id := range []int{2, 3} {
					for tk := range par {
						for p := range par {
							if par == 1 {
								want = append(want, fmt.Sprintf("stage-%d.arrow", id))
							} else {
								want = append(want, fmt.Sprintf("stage-%d-%d-%d.arrow", id, tk, p))
							}
						}
					}
				}
				sort.Strings(want)
				if strings.Join(files, " ") != strings.Join(want, " ") {
					t.Fatalf("at parallelism %d the files as stage 4 reads:\n%v\nwant\n%v\n%s", par, files, want, attemptsOf(job))
				}
			}
		})
	}
}

// A consumer task whose file of a fused branch is gone runs the branch's producer task again (the scan's
// task 1 and the branches fused into it), alone: the other scan tasks run once, and the result equals a
// fault-free run.
func TestBatchFusedLostFile(t *testing.T) {
	tables := batchTaskTables(t)
	script := tables + "SELECT k, COUNT(*), SUM(id) FROM f GROUP BY k UNION ALL SELECT v, COUNT(*), MIN(id) FROM f GROUP BY v;"
	want, _, _, err := queryRun(t, script, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lose := loseFileOnce(dir, "stage-2-1-0.arrow")
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.id == 4 && task == 0 && attempt == 1 {
			return lose()
		}
		return nil
	})
	got, notice, job, err := queryRun(t, script, map[string]string{"parallelism.default": "3", "io.tmp.dirs": dir})
	if err != nil {
		t.Fatalf("query failed: %v\n%s", err, notice)
	}
	if strings.Join(sorted(got), "\n") != strings.Join(sorted(want), "\n") {
		t.Fatalf("the rows differ from the fault-free run at parallelism 1")
	}
	at := taskAttempts(job)
	// The scan's task 1 and both branches' task 1 ran twice; every other task of theirs once.
	for _, id := range []int{1, 2, 3} {
		for tk := range 3 {
			_, twice := at[fmt.Sprintf("%d/%d/2", id, tk)]
			if _, once := at[fmt.Sprintf("%d/%d/1", id, tk)]; !once || twice != (tk == 1) {
				t.Fatalf("stage %d task %d: want it to run again only for task 1:\n%s", id, tk, attemptsOf(job))
			}
		}
	}
	if a := at["4/0/1"]; !errors.Is(a.Err, errInjected) || at["4/0/2"].Err != nil {
		t.Fatalf("want the aggregate task 0 to fail once with the injected fault; its attempts' errors: %v, %v\n%s", a.Err, at["4/0/2"].Err, attemptsOf(job))
	}
	if !strings.Contains(notice, "the intermediate result of stage 2 (Calc) is gone") || !strings.Contains(notice, "running stage 1 task 2/3 again for stage 4 task 1/3") {
		t.Fatalf("notice:\n%s", notice)
	}
}

// Nexmark q4, q7 and q9 (abridged views over one nexmark table: every branch reads the one reused scan) as
// staged batch queries: equal at parallelism 1 and 2, the branches fused into the scan's tasks.
func TestBatchFusedNexmark(t *testing.T) {
	tables := strings.Replace(nexmarkReuseTables, "auction.initialBid, {dt} FROM", "auction.initialBid, {dt}, auction.expires FROM", 1)
	queries := map[string]string{
		"q4": `SELECT Q.category, AVG(Q.final) FROM (
  SELECT MAX(B.price) AS final, A.category FROM auction A, bid B
  WHERE A.id = B.auction AND B.{dt} BETWEEN A.{dt} AND A.expires GROUP BY A.id, A.category) Q GROUP BY Q.category`,
		"q7": nexmarkReuseQueries[2],
		"q9": `SELECT id, category, auction, bidder, price, bid_dateTime FROM (
  SELECT A.id, A.category, B.auction, B.bidder, B.price, B.{dt} AS bid_dateTime,
    ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.{dt} ASC) AS rownum
  FROM auction A, bid B WHERE A.id = B.auction AND B.{dt} BETWEEN A.{dt} AND A.expires) WHERE rownum <= 1`,
	}
	dt := strings.NewReplacer("{dt}", "`dateTime`")
	for _, name := range []string{"q4", "q7", "q9"} {
		t.Run(name, func(t *testing.T) {
			script := dt.Replace(tables + queries[name] + ";")
			want, notice, _, err := queryRun(t, script, map[string]string{"parallelism.default": "1"})
			if err != nil {
				t.Fatalf("at parallelism 1: %v\n%s", err, notice)
			}
			if len(want) < 5 {
				t.Fatalf("too few rows: %q", want)
			}
			got, notice, job, err := queryRun(t, script, map[string]string{"parallelism.default": "2"})
			if err != nil {
				t.Fatalf("at parallelism 2: %v\n%s", err, notice)
			}
			if strings.Join(sorted(got), "\n") != strings.Join(sorted(want), "\n") {
				t.Fatalf("parallelism 2 differs from 1 (%d vs %d rows)", len(got), len(want))
			}
			sj := job.graph.staged
			if len(sj.stages[0].fused) != 2 || !sj.stages[0].noFile {
				t.Fatalf("want both branches fused into the scan's tasks:\n%s", attemptsOf(job))
			}
			for _, a := range job.StageAttempts() {
				if a.Tasks != 2 && a.Name != "Collect" {
					t.Fatalf("want every stage but Collect as 2 tasks:\n%s", attemptsOf(job))
				}
			}
		})
	}
}

// A staged SELECT with ORDER BY: the Collect stage is fused into the one-task Sort stage (the client reads
// the sort's output directly; the Sort stage writes no file), and a fault in Collect after its first batch
// reruns the sort task, the client getting every row once, in order.
func TestBatchSelectOrderByFused(t *testing.T) {
	const script = `
CREATE TABLE src (id BIGINT, name STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '50000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '50000', 'fields.name.length' = '3');
SELECT id, MOD(id, 11) AS m FROM src WHERE MOD(id, 7) <> 3 ORDER BY m DESC, id;`
	want, notice, _, err := queryRun(t, script, map[string]string{"restart-strategy": "none", "parallelism.default": "1"})
	if err != nil {
		t.Fatalf("in one piece: %v\n%s", err, notice)
	}
	dir := t.TempDir()
	var firstBatch int64
	var files []string
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.name == "Collect" && attempt == 1 && !end {
			firstBatch, files = rows, stageFiles(t, dir, 9)
			return errInjected // after its first batch
		}
		return nil
	})
	got, notice, job, err := queryRun(t, script, map[string]string{"parallelism.default": "2", "io.tmp.dirs": dir})
	if err != nil {
		t.Fatalf("query failed: %v\n%s", err, notice)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the rows differ from the query in one piece (%d vs %d rows), or their order", len(got), len(want))
	}
	at := taskAttempts(job)
	sortStage := 0
	for _, a := range job.StageAttempts() {
		if strings.HasPrefix(a.Name, "Sort") {
			sortStage = a.Stage
		}
	}
	c1, c2 := at[fmt.Sprintf("%d/0/1", sortStage+1)], at[fmt.Sprintf("%d/0/2", sortStage+1)]
	if sortStage == 0 || !errors.Is(c1.Err, errInjected) || c1.Name != "Collect" || firstBatch <= 0 || firstBatch >= int64(len(want)) ||
		c2.Err != nil || c2.RowsRead != int64(len(want)) || at[fmt.Sprintf("%d/0/2", sortStage)].Err != nil {
		t.Fatalf("want the sort task and its collect to run again after part of the rows (%d):\n%s", firstBatch, attemptsOf(job))
	}
	for _, f := range files {
		if strings.HasPrefix(f, fmt.Sprintf("stage-%d", sortStage)) {
			t.Fatalf("the Sort stage wrote a file: %v", files)
		}
	}
	if len(files) == 0 {
		t.Fatal("no file of the source stage seen")
	}
	// The notices name the fused Collect that failed, and the sort task that reruns with it.
	if !strings.Contains(notice, fmt.Sprintf("stage %d (Collect) (fused into stage %d (Sort)) failed: injected fault", sortStage+1, sortStage)) ||
		!strings.Contains(notice, fmt.Sprintf("Restarting stage %d alone with its fused stages (%d), for stage %d, from the intermediate results of its inputs", sortStage, sortStage+1, sortStage+1)) {
		t.Fatalf("notice:\n%s", notice)
	}
}
