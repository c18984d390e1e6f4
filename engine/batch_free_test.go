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
