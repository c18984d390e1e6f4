package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// mixedQuery reads the reused scan of r three times in one stage: both sides of a join by two keys and,
// unhashed, the UNION ALL's second input (Union(Calc(Join(r, r)), r)).
const mixedQuery = "SELECT x.a, x.b, y.a, y.b FROM r x JOIN r y ON x.a = y.b UNION ALL SELECT a, b, b, a FROM r;"

// A keyed stage that reads one input both by key and unpartitioned runs as P tasks: the scan's tasks write
// one partitioning per join key and a third, dealt round-robin, that the union's input reads. At P = 1, 2, 4
// the rows equal the query's run in one piece, the scan reads its 2400 rows once, the join and union stage
// runs P tasks and reads the scan's rows three times in all (each side once, the union's input once).
func TestBatchMixedKeyedTasks(t *testing.T) {
	script := reuseKeyTable(t) + mixedQuery
	want, notice, _, err := queryRun(t, script, map[string]string{"restart-strategy": "none", "parallelism.default": "1"})
	if err != nil {
		t.Fatalf("in one piece: %v\n%s", err, notice)
	}
	if len(want) < 2400+100 {
		t.Fatalf("too few rows: %d", len(want))
	}
	for _, par := range []int{1, 2, 4} {
		got, notice, job, err := queryRun(t, script, map[string]string{"parallelism.default": fmt.Sprint(par)})
		if err != nil {
			t.Fatalf("at parallelism %d: %v\n%s", par, err, notice)
		}
		if strings.Join(sorted(got), "\n") != strings.Join(sorted(want), "\n") {
			t.Fatalf("at parallelism %d the rows differ (%d vs %d)", par, len(got), len(want))
		}
		if rows, n := attemptRows(job, 1); rows != 2400 || n != par {
			t.Fatalf("at parallelism %d want the scan as %d tasks reading 2400 rows:\n%s", par, par, attemptsOf(job))
		}
		if rows, n := attemptRows(job, 2); rows != 3*2400 || n != par {
			t.Fatalf("at parallelism %d want the join and union as %d tasks reading the scan three times:\n%s", par, par, attemptsOf(job))
		}
		if par > 1 {
			// Each task gets its share of the union's input: none reads nothing, none reads all.
			for tk := range par {
				a := taskAttempts(job)[fmt.Sprintf("2/%d/1", tk)]
				if a.RowsRead <= 2400/int64(par) || a.RowsRead >= 2*2400 {
					t.Fatalf("at parallelism %d task %d read %d rows:\n%s", par, tk, a.RowsRead, attemptsOf(job))
				}
			}
		}
	}
}

// A fault in one of 3 tasks of the mixed stage reruns it alone: it reads its subpartitions of the three
// partitionings again (the successful attempts read 3 × 2400 rows); the scan and the other tasks run once.
func TestBatchMixedTaskFailover(t *testing.T) {
	script := reuseKeyTable(t) + mixedQuery
	want, _, _, err := queryRun(t, script, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
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
	if !errors.Is(a1.Err, errInjected) || a1.Tasks != 3 || a2.Err != nil {
		t.Fatalf("want task 1 of the mixed stage to fail once and run again:\n%s", attemptsOf(job))
	}
	// The successful attempts read each side of the join and the union's input once: the rerun read its
	// subpartitions whole, the other tasks theirs.
	if rows := at["2/0/1"].RowsRead + a2.RowsRead + at["2/2/1"].RowsRead; rows != 3*2400 || a2.RowsRead == 0 {
		t.Fatalf("the successful attempts read %d rows, want 3 × 2400:\n%s", rows, attemptsOf(job))
	}
	taskRows := a2.RowsRead
	if len(at) != 3+4+1 { // 3 scan tasks, 3 tasks and the rerun, the collect task
		t.Fatalf("want the failed task alone to run again:\n%s", attemptsOf(job))
	}
	if !strings.Contains(notice, fmt.Sprintf("Restarting stage 2 task 2/3 alone, from the intermediate results of its inputs (%d rows)", taskRows)) {
		t.Fatalf("notice:\n%s", notice)
	}
}

// The build checks that each edge of a stage reads the partitioning planned for it: a hook that reorders a
// stage's planned edges of one input (as a build walking the operators' inputs in another order would take
// them) makes the job fail with an internal error naming the edges, instead of reading the wrong rows.
func TestBatchStageBuildOrderChecked(t *testing.T) {
	table := reuseKeyTable(t)
	cases := []struct {
		name, query string
		keysOnly    bool // swap only the partitionings, not the planned edges
		want        string
	}{
		{"self-join by two keys", "SELECT x.a, x.b, y.a, y.b FROM r x JOIN r y ON x.a = y.b;", false, "as input 0 of HashJoin where the plan has input 1 of HashJoin"},
		{"join and union", mixedQuery, false, "as input 0 of HashJoin where the plan has input 1 of HashJoin"},
		{"partitionings swapped", "SELECT x.a, x.b, y.a, y.b FROM r x JOIN r y ON x.a = y.b;", true, "partitioned by columns [1], not by its keys [0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			planTasksHook = func(sj *stagedJob) {
				st := sj.stages[1]
				for in, ks := range st.inParts {
					if len(ks) >= 2 {
						ks[0], ks[1] = ks[1], ks[0]
						if es := st.inEdges[in]; !tc.keysOnly {
							es[0], es[1] = es[1], es[0]
						}
					}
				}
			}
			t.Cleanup(func() { planTasksHook = nil })
			err, notice := queryErr(t, table+tc.query, map[string]string{"parallelism.default": "2"})
			if err == nil || !strings.Contains(err.Error(), "internal error: stage 2") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an internal error containing %q, got %v\n%s", tc.want, err, notice)
			}
			planTasksHook = nil
			if _, notice, _, err := queryRun(t, table+tc.query, map[string]string{"parallelism.default": "2"}); err != nil {
				t.Fatalf("without the hook: %v\n%s", err, notice)
			}
		})
	}
}

// Within one operator the build order of its inputs is checked too: a hook that makes the build take a
// join's right input before its left makes a self-join by two keys (both inputs the same reused scan, so
// only the input's index tells them apart) fail with an internal error naming the edges, instead of the
// right side reading the left key's partitioning. Without the hook the same queries run.
func TestBatchInputBuildOrderChecked(t *testing.T) {
	table := reuseKeyTable(t)
	for _, q := range []string{"SELECT x.a, x.b, y.a, y.b FROM r x JOIN r y ON x.a = y.b;", mixedQuery} {
		buildOrderHook = func(n planner.Node) []int {
			if _, ok := n.(*planner.Join); ok {
				return []int{1, 0}
			}
			order := make([]int, len(n.Inputs()))
			for i := range order {
				order[i] = i
			}
			return order
		}
		t.Cleanup(func() { buildOrderHook = nil })
		err, notice := queryErr(t, table+q, map[string]string{"parallelism.default": "2"})
		want := "as input 1 of HashJoin where the plan has input 0 of HashJoin"
		if err == nil || !strings.Contains(err.Error(), "internal error: stage 2") || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: want an internal error containing %q, got %v\n%s", q, want, err, notice)
		}
		buildOrderHook = nil
		if _, notice, _, err := queryRun(t, table+q, map[string]string{"parallelism.default": "2"}); err != nil {
			t.Fatalf("%s without the hook: %v\n%s", q, err, notice)
		}
	}
}

// queryErr runs a script at batch mode and returns the error of its first failing statement or of its query.
func queryErr(t *testing.T, script string, opts map[string]string) (error, string) {
	t.Helper()
	var note bytes.Buffer
	o := map[string]string{"execution.runtime-mode": "batch", "restart-strategy.fixed-delay.delay": "0 ms", "io.tmp.dirs": t.TempDir()}
	for k, v := range opts {
		o[k] = v
	}
	s, err := NewSession(Config{Stdout: &note, Stderr: &note, Notice: &note, Options: o})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var res *Result
	for _, st := range stmts {
		if res, err = s.Execute(ctx, st); err != nil {
			return err, note.String()
		}
	}
	for {
		if _, ok := res.Query.Next(ctx); !ok {
			break
		}
	}
	return res.Query.Err(), note.String()
}

// A fault in a fused branch of q4's shape (nexmark's views over one datagen scan, 2 tasks, whose tasks restart
// together: runSplitLocked) is announced naming the fused stage and task, and the scan stage that reruns with
// its fused stages; the rows equal parallelism 1's.
func TestBatchFusedBranchNotice(t *testing.T) {
	tables := strings.Replace(nexmarkReuseTables, "auction.initialBid, {dt} FROM", "auction.initialBid, {dt}, auction.expires FROM", 1)
	script := strings.NewReplacer("{dt}", "`dateTime`").Replace(tables + `SELECT Q.category, AVG(Q.final) FROM (
  SELECT MAX(B.price) AS final, A.category FROM auction A, bid B
  WHERE A.id = B.auction AND B.{dt} BETWEEN A.{dt} AND A.expires GROUP BY A.id, A.category) Q GROUP BY Q.category;`)
	want, _, _, err := queryRun(t, script, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	var branch *batchStage
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.fusedInto != nil && task == 1 && attempt == 1 && rows > 0 && (branch == nil || branch == st) {
			branch = st
			return errInjected
		}
		return nil
	})
	got, notice, job, err := queryRun(t, script, map[string]string{"parallelism.default": "2"})
	if err != nil {
		t.Fatalf("query failed: %v\n%s", err, notice)
	}
	if strings.Join(sorted(got), "\n") != strings.Join(sorted(want), "\n") {
		t.Fatalf("the rows differ from parallelism 1's")
	}
	if branch == nil {
		t.Fatalf("no fused branch task 1 was given rows:\n%s", attemptsOf(job))
	}
	prod := branch.fusedInto
	failed := fmt.Sprintf("stage %d (%s) task 2/2 (fused into stage %d (%s)) failed: ", branch.id, branch.name, prod.id, prod.name)
	var ids []string
	for _, fs := range prod.fused {
		ids = append(ids, fmt.Sprint(fs.id))
	}
	restart := fmt.Sprintf("Restarting stage %d with its 2 tasks (they share the source's position) with its fused stages (%s), for stage %d, from its sources",
		prod.id, strings.Join(ids, ", "), branch.id)
	if !strings.Contains(notice, failed) || !strings.Contains(notice, "injected fault") || !strings.Contains(notice, restart) {
		t.Fatalf("want the notices\n%s\n%s\ngot:\n%s", failed, restart, notice)
	}
}
