package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// reuseKeyTable writes a directory of CSV files r (a BIGINT, b BIGINT): 6 files, 2400 rows, a = 0..2399,
// b = a % 97. A self-join of r that needs both columns of both sides reads the reused scan directly (no
// projection between the scan and the join).
func reuseKeyTable(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for f := range 6 {
		var b strings.Builder
		for i := f * 400; i < (f+1)*400; i++ {
			fmt.Fprintf(&b, "%d,%d\n", i, i%97)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("r-%d.csv", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf("CREATE TABLE r (a BIGINT, b BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');\n", dir)
}

// A keyed stage that reads a reused result directly (a self-join of r over its one scan, by the same key on
// both sides and by two different keys) runs as P tasks: the scan's tasks write one hash partitioning per
// distinct key (stage-1-<task>-h<k>-<subpartition>.arrow) and no ordinary result, which nobody reads. At
// P = 1, 2, 4 the rows equal the query's run in one piece; the scan reads its 2400 rows once; the join runs
// P tasks and reads each side's rows once over its tasks.
func TestBatchReusedKeyedTasks(t *testing.T) {
	table := reuseKeyTable(t)
	cases := []struct {
		name, query string
		keys        int // distinct partitionings of the scan's result
	}{
		{"self-join by one key", "SELECT x.a, x.b, y.a, y.b FROM r x JOIN r y ON x.b = y.b WHERE x.a + y.a < 400", 1},
		{"self-join by two keys", "SELECT x.a, x.b, y.a, y.b FROM r x JOIN r y ON x.a = y.b", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			script := table + tc.query + ";"
			want, notice, _, err := queryRun(t, script, map[string]string{"restart-strategy": "none", "parallelism.default": "1"})
			if err != nil {
				t.Fatalf("in one piece: %v\n%s", err, notice)
			}
			if len(want) < 100 {
				t.Fatalf("too few rows: %d", len(want))
			}
			for _, par := range []int{1, 2, 4} {
				dir := t.TempDir()
				var mu sync.Mutex
				var files []string
				withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
					if st.id == 2 && task == 0 {
						mu.Lock()
						if files == nil {
							files = stageFiles(t, dir, 1)
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
				if rows, n := attemptRows(job, 1); rows != 2400 || n != par {
					t.Fatalf("at parallelism %d want the scan as %d tasks reading 2400 rows:\n%s", par, par, attemptsOf(job))
				}
				if rows, n := attemptRows(job, 2); rows != 2*2400 || n != par {
					t.Fatalf("at parallelism %d want the join as %d tasks reading both sides once:\n%s", par, par, attemptsOf(job))
				}
				var wantFiles []string
				for tk := range par {
					if par == 1 {
						wantFiles = append(wantFiles, "stage-1.arrow")
						continue
					}
					for k := 1; k <= tc.keys; k++ {
						for p := range par {
							wantFiles = append(wantFiles, fmt.Sprintf("stage-1-%d-h%d-%d.arrow", tk, k, p))
						}
					}
				}
				sort.Strings(wantFiles)
				if strings.Join(files, " ") != strings.Join(wantFiles, " ") {
					t.Fatalf("at parallelism %d the scan's files:\n%v\nwant\n%v", par, files, wantFiles)
				}
			}
		})
	}
}

// A fault in one task of a keyed stage over a reused result (the self-join by two keys, 3 tasks) reruns that
// task alone, reading its subpartitions of the scan's two partitionings again: the scan and the other join
// tasks run once.
func TestBatchReusedKeyedTaskFailover(t *testing.T) {
	script := reuseKeyTable(t) + "SELECT x.a, x.b, y.a, y.b FROM r x JOIN r y ON x.a = y.b;"
	want, _, _, err := queryRun(t, script, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, clean, err := queryRun(t, script, map[string]string{"parallelism.default": "3"})
	if err != nil {
		t.Fatal(err)
	}
	taskRows := taskAttempts(clean)["2/1/1"].RowsRead // the rows of join task 1's subpartitions
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.id == 2 && task == 1 && attempt == 1 && end {
			return errInjected
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
	at := taskAttempts(job)
	a1, a2 := at["2/1/1"], at["2/1/2"]
	if !errors.Is(a1.Err, errInjected) || a1.Tasks != 3 || a2.Err != nil || a2.RowsRead == 0 {
		t.Fatalf("want join task 1 to fail once and run again:\n%s", attemptsOf(job))
	}
	// The fault comes at the end of one of the two inputs, which are read at the same time: the other may
	// have ended too by then.
	if a2.RowsRead != taskRows || taskRows == 0 || a1.RowsRead > taskRows {
		t.Fatalf("the rerun read %d rows, want its subpartitions' %d (the failed attempt stopped after %d):\n%s", a2.RowsRead, taskRows, a1.RowsRead, attemptsOf(job))
	}
	// 3 scan tasks, 3 join tasks and the rerun, the collect task.
	if len(at) != 3+4+1 {
		t.Fatalf("want the failed task alone to run again:\n%s", attemptsOf(job))
	}
	if !strings.Contains(notice, fmt.Sprintf("Restarting stage 2 task 2/3 alone, from the intermediate results of its inputs (%d rows)", taskRows)) {
		t.Fatalf("notice:\n%s", notice)
	}
}

// A join task that finds a file of the scan's second partitioning gone runs the scan's task that wrote it
// again, alone (its own splits), and the result equals a fault-free run.
func TestBatchReusedKeyedLostFile(t *testing.T) {
	script := reuseKeyTable(t) + "SELECT x.a, x.b, y.a, y.b FROM r x JOIN r y ON x.a = y.b;"
	want, _, _, err := queryRun(t, script, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lose := loseFileOnce(dir, "stage-1-1-h2-0.arrow")
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.id == 2 && task == 0 && attempt == 1 {
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
	for tk := range 3 {
		_, twice := at[fmt.Sprintf("1/%d/2", tk)]
		if twice != (tk == 1) {
			t.Fatalf("want scan task 1 alone to run again:\n%s", attemptsOf(job))
		}
	}
	if !errors.Is(at["2/0/1"].Err, errInjected) || at["2/0/2"].Err != nil {
		t.Fatalf("want join task 0 to fail once:\n%s", attemptsOf(job))
	}
	if !strings.Contains(notice, "stage-1-1-h2-0.arrow); running stage 1 task 2/3 again for stage 2 task 1/3") {
		t.Fatalf("notice:\n%s", notice)
	}
}
