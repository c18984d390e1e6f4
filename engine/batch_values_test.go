package engine

import (
	"strings"
	"testing"
)

const valuesInsertScript = `
CREATE TABLE out_t (a BIGINT, b STRING) WITH ('connector' = 'print');
INSERT INTO out_t VALUES (1, 'x'), (2, 'y'), (3, 'z');`

const valuesAggScript = `
CREATE TABLE out_t (k STRING, n BIGINT, s BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT k, COUNT(*), SUM(v) FROM (VALUES ('a', 1), ('b', 2), ('a', 3), ('c', 4), ('b', 5)) AS t(k, v) GROUP BY k;`

// A batch job whose only input is VALUES runs its VALUES as a stage of its own, as a scan: INSERT ... VALUES is
// the Values stage and the sink stage; a GROUP BY over VALUES adds the aggregate stage between them. The
// Values stage is one task at any parallelism (its rows are not split); the keyed stages run P tasks.
func TestBatchValuesStages(t *testing.T) {
	cases := []struct {
		name, script string
		par          string
		want         string // stage attempts (attemptsOf), in order
		rows         []string
	}{
		{"insert P=1", valuesInsertScript, "1", "1 Values -> Calc: attempt 1 read 3\n2 Sink: out_t: attempt 1 read 3\n",
			[]string{"+I[1, x]", "+I[2, y]", "+I[3, z]"}},
		{"group by P=1", valuesAggScript, "1", "1 Values -> Calc: attempt 1 read 5\n2 SortAggregate -> Calc: attempt 1 read 5\n3 Sink: out_t: attempt 1 read 3\n",
			[]string{"+I[a, 2, 4]", "+I[b, 2, 7]", "+I[c, 1, 4]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, notice, job, err := stagedRun(t, tc.script, map[string]string{"parallelism.default": tc.par})
			if err != nil {
				t.Fatalf("job failed: %v\n%s", err, notice)
			}
			if a := attemptsOf(job); a != tc.want {
				t.Fatalf("stage attempts:\n%s\nwant:\n%s", a, tc.want)
			}
			if strings.Join(got, "\n") != strings.Join(tc.rows, "\n") {
				t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.rows, "\n"))
			}
		})
	}
	// At P = 2 the Values stage stays one task; the aggregate and sink stages run two.
	for _, tc := range []struct {
		script string
		tasks  map[string]int
	}{
		{valuesInsertScript, map[string]int{"Values -> Calc": 1, "Sink: out_t": 2}},
		{valuesAggScript, map[string]int{"Values -> Calc": 1, "SortAggregate -> Calc": 2, "Sink: out_t": 2}},
	} {
		_, notice, job, err := stagedRun(t, tc.script, map[string]string{"parallelism.default": "2"})
		if err != nil {
			t.Fatalf("job failed: %v\n%s", err, notice)
		}
		stages := map[string]int{}
		for _, a := range job.StageAttempts() {
			stages[a.Name] = max(stages[a.Name], a.Tasks)
		}
		if len(stages) != len(tc.tasks) {
			t.Fatalf("stages %v, want %v", stages, tc.tasks)
		}
		for name, n := range tc.tasks {
			if stages[name] != n {
				t.Fatalf("stages %v, want %v", stages, tc.tasks)
			}
		}
	}
}

// A failure in the stage after the Values stage restarts that stage alone from the Values stage's file: the
// VALUES rows are produced once.
func TestBatchValuesStageFailover(t *testing.T) {
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if strings.Contains(st.name, "SortAggregate") && attempt == 1 && end {
			return errInjected
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, valuesAggScript, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	want := "1 Values -> Calc: attempt 1 read 5\n2 SortAggregate -> Calc: attempt 1 read 5 failed\n2 SortAggregate -> Calc: attempt 2 read 5\n3 Sink: out_t: attempt 1 read 3\n"
	if a := attemptsOf(job); a != want {
		t.Fatalf("stage attempts:\n%s\nwant:\n%s", a, want)
	}
	if strings.Join(got, "\n") != "+I[a, 2, 4]\n+I[b, 2, 7]\n+I[c, 1, 4]" {
		t.Fatalf("rows:\n%s", strings.Join(got, "\n"))
	}
}

// A SELECT with GROUP BY over VALUES alone: the Values stage, the aggregate stage and the Collect stage.
func TestBatchValuesSelectStages(t *testing.T) {
	rows, notice, job, err := queryRun(t, "SELECT k, COUNT(*), SUM(v) FROM (VALUES ('a', 1), ('b', 2), ('a', 3), ('c', 4), ('b', 5)) AS t(k, v) GROUP BY k",
		map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatalf("query failed: %v\n%s", err, notice)
	}
	if got := strings.Join(sorted(rows), "\n"); got != "+I[a, 2, 4]\n+I[b, 2, 7]\n+I[c, 1, 4]" {
		t.Fatalf("rows:\n%s", got)
	}
	want := "1 Values -> Calc: attempt 1 read 5\n2 SortAggregate: attempt 1 read 5\n3 Collect: attempt 1 read 3\n"
	if a := attemptsOf(job); a != want {
		t.Fatalf("stage attempts:\n%s\nwant:\n%s", a, want)
	}
}
