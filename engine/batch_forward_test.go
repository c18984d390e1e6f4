package engine

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
)

// forwardStages returns the tasks of each stage that reads a result another stage reads too: the row-wise
// stages over the reused scan of f (named "Calc ..." and read by stage 1's file).
func forwardStages(j *Job) map[int]int {
	m := map[int]int{}
	for _, a := range j.StageAttempts() {
		if strings.HasPrefix(a.Name, "Calc") {
			m[a.Stage] = a.Tasks
		}
	}
	return m
}

// Row-wise stages over a reused input (source reuse: f read once, its result read by both branches) run as
// many tasks as the input's stage, each reading its own task's file (forward): the UNION ALL of two filters
// of f and a self-join of f through two projections. At P = 1, 2, 4 the rows equal the query's run in one
// piece, and every such stage runs P tasks (f's 10 files split as P tasks).
func TestBatchForwardReusedInput(t *testing.T) {
	tables := batchTaskTables(t)
	cases := []struct {
		name, query string
		stages      int // row-wise stages over the reused scan
	}{
		{"union", "SELECT k, COUNT(*), SUM(x) FROM (SELECT k, id AS x FROM f WHERE v < 7 UNION ALL SELECT k, -id FROM f WHERE v >= 3) GROUP BY k", 1},
		{"union to the client", "SELECT k, id FROM f WHERE v < 2 UNION ALL SELECT k, -id FROM f WHERE v > 10", 1},
		{"self-join", "SELECT a.k, COUNT(*), SUM(b.id) FROM (SELECT k, id FROM f WHERE v < 5) a JOIN (SELECT id, k FROM f WHERE v > 2) b ON a.id = b.k GROUP BY a.k", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			script := tables + tc.query + ";"
			want, notice, _, err := queryRun(t, script, map[string]string{"restart-strategy": "none", "parallelism.default": "1"})
			if err != nil {
				t.Fatalf("in one piece: %v\n%s", err, notice)
			}
			if len(want) < 10 {
				t.Fatalf("too few rows: %q", want)
			}
			for _, par := range []int{1, 2, 4} {
				got, notice, job, err := queryRun(t, script, map[string]string{"parallelism.default": fmt.Sprint(par)})
				if err != nil {
					t.Fatalf("at parallelism %d: %v\n%s", par, err, notice)
				}
				if strings.Join(sorted(got), "\n") != strings.Join(sorted(want), "\n") {
					t.Fatalf("at parallelism %d the rows differ (%d vs %d)", par, len(got), len(want))
				}
				fs := forwardStages(job)
				if len(fs) != tc.stages {
					t.Fatalf("at parallelism %d want %d row-wise stages over the reused scan:\n%s", par, tc.stages, attemptsOf(job))
				}
				for id, n := range fs {
					if n != par {
						t.Fatalf("at parallelism %d stage %d ran %d tasks:\n%s", par, id, n, attemptsOf(job))
					}
				}
			}
		})
	}
}

// readBy sums the rows read by stage's attempts (only the successful ones with ok).
func readBy(j *Job, stage int, ok bool) int64 {
	var n int64
	for _, a := range j.StageAttempts() {
		if a.Stage == stage && (!ok || a.Err == nil) {
			n += a.RowsRead
		}
	}
	return n
}

// A fault in one task of a forward stage (the UNION ALL over the reused scan, 3 tasks, fused into the scan's
// tasks: batch_fuse.go) reruns that task alone with the scan's task it runs in, which reads its own splits
// again: the other scan tasks and union tasks run once.
func TestBatchForwardTaskFailover(t *testing.T) {
	tables := batchTaskTables(t)
	script := tables + "SELECT k, COUNT(*), SUM(x) FROM (SELECT k, id AS x FROM f WHERE v < 7 UNION ALL SELECT k, -id FROM f WHERE v >= 3) GROUP BY k;"
	want, _, job1, err := queryRun(t, script, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	scanned := readBy(job1, 1, true)
	// The scan's tasks take the file's splits as they go, so under load one task may get none: the fault hits
	// the first union task that was given rows, and the checks follow that task.
	var failed atomic.Int32
	failed.Store(-1)
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.id == 2 && attempt == 1 && end && rows > 0 && failed.CompareAndSwap(-1, int32(task)) {
			return errInjected // after one of its two inputs (the branches) ended
		}
		return nil
	})
	got, notice, job, err := queryRun(t, script, map[string]string{"parallelism.default": "3"})
	if err != nil {
		t.Fatalf("query failed: %v\n%s", err, notice)
	}
	if strings.Join(sorted(got), "\n") != strings.Join(sorted(want), "\n") {
		t.Fatalf("the rows differ from the fault-free run at parallelism 1")
	}
	ft := int(failed.Load())
	if ft < 0 {
		t.Fatalf("no union task was given rows:\n%s", attemptsOf(job))
	}
	at := taskAttempts(job)
	a1, a2 := at[fmt.Sprintf("2/%d/1", ft)], at[fmt.Sprintf("2/%d/2", ft)]
	scan2 := at[fmt.Sprintf("1/%d/2", ft)]
	// The failed task's splits go back to the scan: its rerun, or a task still running, reads them again, so
	// the successful attempts read the table exactly once.
	if !errors.Is(a1.Err, errInjected) || a1.Tasks != 3 || a2.Err != nil || a2.RowsRead != 2*scan2.RowsRead ||
		readBy(job, 1, true) != scanned || readBy(job, 2, true) != 2*scanned {
		t.Fatalf("want union task %d to fail once, its rerun given its scan task's rows (twice: two branches), and the successful scan attempts to read the %d rows once:\n%s", ft, scanned, attemptsOf(job))
	}
	if !errors.Is(at[fmt.Sprintf("1/%d/1", ft)].Err, errInjected) {
		t.Fatalf("want scan task %d to fail with the union task fused into it:\n%s", ft, attemptsOf(job))
	}
	// 3 scan tasks and the rerun, 3 union tasks and the rerun, 3 aggregate tasks, the collect task.
	if len(at) != 4+4+3+1 {
		t.Fatalf("want the failed task alone to run again:\n%s", attemptsOf(job))
	}
	// The notices name the fused union task that failed, and the scan task that reruns with it.
	if !strings.Contains(notice, fmt.Sprintf("stage 2 (Calc -> Calc -> Union -> Calc) task %d/3 (fused into stage 1 (Source: f) task %d/3) failed: injected fault", ft+1, ft+1)) ||
		!strings.Contains(notice, fmt.Sprintf("Restarting stage 1 task %d/3 alone with its fused stages (2), for stage 2, from the start of its own splits", ft+1)) {
		t.Fatalf("notice:\n%s", notice)
	}
}
