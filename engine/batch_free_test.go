package engine

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const agg3Script = `
CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '20000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '20000');
CREATE TABLE out_t (k BIGINT, n BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT k3, SUM(c2) FROM (
  SELECT k2, k2 / 3 AS k3, SUM(c) AS c2 FROM (
    SELECT MOD(id, 300) AS k, MOD(id, 300) / 10 AS k2, COUNT(*) AS c FROM src GROUP BY MOD(id, 300), MOD(id, 300) / 10)
  GROUP BY k2)
GROUP BY k3;`

var stageFileRE = regexp.MustCompile(`^stage-(\d+)[-.]`)

// stagesWithFiles lists the stages that have intermediate result files under dir.
func stagesWithFiles(t *testing.T, dir string) []int {
	var ids []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if m := stageFileRE.FindStringSubmatch(d.Name()); m != nil && !d.IsDir() {
			id, _ := strconv.Atoi(m[1])
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	slices.Sort(ids)
	return ids
}

// A job of five stages in a chain (source, three aggregates, sink) at parallelism 2: a stage's files are
// removed once its reader finished and the reader's own reader finished too (the reader could run again
// only to recompute a lost file of its result), so the job directory holds two finished stages' results at most
// instead of all of them until the job ends. A fault in a task of the last aggregate stage (the source
// stage's files are gone by then) restarts that task alone from the second aggregate's files, which are
// kept; the result equals the fault-free run's.
func TestBatchResultsFreedWhenConsumed(t *testing.T) {
	want, _, _, err := stagedRun(t, agg3Script, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 10 {
		t.Fatalf("want 10 rows: %q", want)
	}
	dir := t.TempDir()
	var mu sync.Mutex
	var snaps []string
	stageFreedHook = func(st *batchStage, _ []*batchStage) {
		mu.Lock()
		defer mu.Unlock()
		snaps = append(snaps, fmt.Sprintf("after %d: %v", st.id, stagesWithFiles(t, dir)))
	}
	t.Cleanup(func() { stageFreedHook = nil })
	var during []int
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.id == 4 && task == 0 && attempt == 1 && end {
			for _, id := range stagesWithFiles(t, dir) {
				if id < 4 { // (stage 4's own files are being written)
					during = append(during, id)
				}
			}
			return errInjected
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, agg3Script, map[string]string{"parallelism.default": "2", "io.tmp.dirs": dir})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from the fault-free run at parallelism 1:\n%s\n%s", got, want)
	}
	wantSnaps := []string{"after 1: [1]", "after 2: [1 2]", "after 3: [2 3]", "after 4: [3 4]", "after 5: []"}
	if strings.Join(snaps, "\n") != strings.Join(wantSnaps, "\n") {
		t.Fatalf("stages with files after each stage finished:\n%s\nwant:\n%s\n%s", strings.Join(snaps, "\n"), strings.Join(wantSnaps, "\n"), attemptsOf(job))
	}
	if fmt.Sprint(during) != "[2 3]" {
		t.Fatalf("input stages with files as the last aggregate stage failed: %v, want [2 3]", during)
	}
	for _, a := range job.StageAttempts() {
		if a.Attempt > 1 && (a.Stage != 4 || a.Task != 0) || a.Attempt > 2 {
			t.Fatalf("only task 1 of the last aggregate stage should have run again:\n%s", attemptsOf(job))
		}
	}
	if !strings.Contains(notice, "Restarting stage 4 task 1/2 alone, from the intermediate results of its inputs") {
		t.Fatalf("notice:\n%s", notice)
	}
}

// The shape of crashtest TestBatchReusedScanKill/mixed (where the freeing was suspected of stalling a job):
// a join of a reused scan with itself by two keys and a UNION ALL of it in one stage (the scan's tasks write
// the join's two partitionings, in fused stages 2 and 3, and the union's one, stage 1's), an aggregate, the
// sink, at parallelism 2. The scan's results are removed once the aggregate (the join stage's reader)
// finished, the join's and the aggregate's once the sink did; a fault in a task of the join stage, of the
// aggregate or of the sink reruns that task alone from kept files: no stage finds an input gone (no
// "is gone" warning, no predecessor runs again) and the result equals the fault-free run at parallelism 1.
func TestBatchResultsFreedReusedScan(t *testing.T) {
	script := reuseKeyTable(t) + `CREATE TABLE out_t (a BIGINT, n BIGINT, s BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT a2, COUNT(*), SUM(b2) FROM (
  SELECT x.a AS a2, y.b AS b2 FROM r x JOIN r y ON x.a = y.b UNION ALL SELECT a, b FROM r) GROUP BY a2;`
	want, _, _, err := stagedRun(t, script, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, fault := range []int{0, 4, 5, 6} {
		t.Run(fmt.Sprintf("fault in stage %d", fault), func(t *testing.T) {
			dir := t.TempDir()
			var mu sync.Mutex
			var snaps []string
			stageFreedHook = func(st *batchStage, _ []*batchStage) {
				mu.Lock()
				defer mu.Unlock()
				if st.id >= 4 {
					snaps = append(snaps, fmt.Sprintf("after %d: %v", st.id, stagesWithFiles(t, dir)))
				}
			}
			t.Cleanup(func() { stageFreedHook = nil })
			withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
				if st.id == fault && task == 1 && attempt == 1 && end {
					return errInjected
				}
				return nil
			})
			got, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": "2", "io.tmp.dirs": dir})
			if err != nil {
				t.Fatalf("job failed: %v\n%s", err, notice)
			}
			if fault == 6 {
				got = slices.Compact(got) // the print sink is at-least-once across a sink task's restart
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("the result differs from the fault-free run at parallelism 1 (%d vs %d rows)", len(got), len(want))
			}
			names, rerun := map[int]string{}, false
			for _, a := range job.StageAttempts() {
				names[a.Stage] = a.Name
				rerun = rerun || a.Attempt == 2
				if a.Attempt > 2 || a.Attempt == 2 && (a.Stage != fault || a.Task != 1) {
					t.Fatalf("only task 2 of stage %d should have run again:\n%s", fault, attemptsOf(job))
				}
			}
			if rerun != (fault > 0) {
				t.Fatalf("want a rerun only when a fault was injected:\n%s", attemptsOf(job))
			}
			if !strings.Contains(names[4], "HashJoin") || !strings.Contains(names[4], "Union") || !strings.Contains(names[5], "Aggregate") || !strings.HasPrefix(names[6], "Sink") {
				t.Fatalf("the stages are not those the test expects (join and union, aggregate, sink):\n%s", attemptsOf(job))
			}
			if strings.Contains(notice, "is gone") {
				t.Fatalf("a stage found an input result gone:\n%s", notice)
			}
			wantSnaps := []string{"after 4: [1 2 3 4]", "after 5: [4 5]", "after 6: []"}
			if strings.Join(snaps, "\n") != strings.Join(wantSnaps, "\n") {
				t.Fatalf("stages with files after each stage finished:\n%s\nwant:\n%s\n%s", strings.Join(snaps, "\n"), strings.Join(wantSnaps, "\n"), attemptsOf(job))
			}
		})
	}
}
