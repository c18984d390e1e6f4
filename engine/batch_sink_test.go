package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sinkUUIDs returns the uuids in the names of the finished part files under dir.
func sinkUUIDs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	uuids := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "part-") && len(d.Name()) > 41 {
			uuids[d.Name()[5:41]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return uuids
}

// sinkStageTasks is the number of tasks of a job's sink stage (and checks that each ran once).
func sinkStageTasks(t *testing.T, j *Job) int {
	t.Helper()
	n := 0
	for _, a := range j.StageAttempts() {
		if strings.HasPrefix(a.Name, "Sink: ") {
			if a.Err != nil || a.Attempt != 1 {
				t.Fatalf("sink attempt %+v\n%s", a, attemptsOf(j))
			}
			n++
		}
	}
	return n
}

// A batch filesystem sink runs as P tasks (or 'sink.parallelism'), each writing part files of its own
// (part-<uuid>-<task>-<n>, one uuid): fed forward by a P-task GROUP BY or a split source stage, or dealt
// round-robin by a one-task ORDER BY / a P-task stage of another parallelism. The rows equal those written
// at parallelism 1, which equal the rows computed from the input.
func TestBatchSinkTasksFiles(t *testing.T) {
	tables := batchTaskTables(t)
	type want struct{ p, sinkPar, tasks int }
	cases := []struct {
		name, cols, query string
		runs              []want
		rows              int
		dynamic           bool // the sink's input is a split source stage
	}{
		{"group by into forward", "k BIGINT, c BIGINT, s BIGINT", "SELECT k, COUNT(*), SUM(v) FROM f GROUP BY k",
			[]want{{1, 0, 1}, {2, 0, 2}, {3, 0, 3}, {3, 2, 2}, {1, 3, 3}}, 41, false},
		{"split source into forward", "id BIGINT, v BIGINT", "SELECT id, v * 2 FROM f WHERE k < 20",
			[]want{{1, 0, 1}, {2, 0, 2}, {3, 0, 3}, {2, 3, 3}}, 0, true},
		{"order by into rebalance", "id BIGINT, k BIGINT", "SELECT id, k FROM f WHERE v = 1 ORDER BY id",
			[]want{{1, 0, 1}, {3, 0, 3}}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var first []string
			for _, r := range tc.runs {
				dir := t.TempDir()
				opt := ""
				if r.sinkPar > 0 {
					opt = fmt.Sprintf(", 'sink.parallelism' = '%d'", r.sinkPar)
				}
				script := tables + fmt.Sprintf("CREATE TABLE out_t (%s) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv'%s);\nINSERT INTO out_t %s;",
					tc.cols, dir, opt, tc.query)
				_, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": fmt.Sprint(r.p)})
				if err != nil {
					t.Fatalf("%+v: %v\n%s", r, err, notice)
				}
				if strings.Contains(notice, "sink.parallelism") {
					t.Fatalf("%+v: notice about the option:\n%s", r, notice)
				}
				rows, tasks, hidden := sinkFiles(t, dir)
				if len(hidden) > 0 {
					t.Fatalf("%+v: hidden files left: %q", r, hidden)
				}
				if n := sinkStageTasks(t, job); n != r.tasks {
					t.Fatalf("%+v: the sink stage ran %d tasks, want %d\n%s", r, n, r.tasks, attemptsOf(job))
				}
				// A split source task may get no file (the enumerator hands them out on request): its sink
				// task then writes none.
				if (len(tasks) != r.tasks && !(tc.dynamic && len(tasks) >= 1 && len(tasks) <= r.tasks)) || len(sinkUUIDs(t, dir)) != 1 {
					t.Fatalf("%+v: part files of tasks %v (want %d), uuids %v", r, tasks, r.tasks, sinkUUIDs(t, dir))
				}
				if first == nil {
					first = rows
					if len(rows) < 40 || tc.rows > 0 && len(rows) != tc.rows {
						t.Fatalf("%d rows", len(rows))
					}
				} else if strings.Join(rows, "\n") != strings.Join(first, "\n") {
					t.Fatalf("%+v: %d rows differ from parallelism 1's %d", r, len(rows), len(first))
				}
			}
			if tc.name == "group by into forward" {
				for k := range int64(41) { // k, COUNT(*), SUM(v) over ids 0..2999 with k = id % 41, v = id % 13
					var c, s int64
					for id := k; id < 3000; id += 41 {
						c, s = c+1, s+id%13
					}
					if row := fmt.Sprintf("%d,%d,%d", k, c, s); sort.SearchStrings(first, row) == len(first) || first[sort.SearchStrings(first, row)] != row {
						t.Fatalf("row %s missing from %q", row, first)
					}
				}
			}
		})
	}
}

// A fault in one task of a 3-task filesystem sink stage (fed forward by a 3-task OVER stage), after it
// wrote its rows (rolled into 1 KiB files), restarts that task alone: its files are discarded, it writes its rows again, and the committed
// output is exact (no row lost or twice) with no hidden file left. When the restarts run out, the job fails
// and no file of any task is committed.
func TestBatchSinkTaskFailover(t *testing.T) {
	tables := batchTaskTables(t)
	script := func(dir string) string {
		return tables + fmt.Sprintf(`CREATE TABLE out_t (id BIGINT, k BIGINT, v BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv',
  'sink.rolling-policy.file-size' = '1kb');
INSERT INTO out_t SELECT id, k, SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM f;`, dir)
	}
	dir := t.TempDir()
	if _, notice, _, err := stagedRun(t, script(dir), map[string]string{"parallelism.default": "1"}); err != nil {
		t.Fatalf("%v\n%s", err, notice)
	}
	want, _, _ := sinkFiles(t, dir)
	if len(want) != 3000 {
		t.Fatalf("%d rows written, want 3000", len(want))
	}
	var faults int
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if strings.HasPrefix(st.name, "Sink: ") && task == 1 && attempt == 1 && end {
			faults++
			return errInjected
		}
		return nil
	})
	dir = t.TempDir()
	_, notice, job, err := stagedRun(t, script(dir), map[string]string{"parallelism.default": "3"})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	got, tasks, hidden := sinkFiles(t, dir)
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(hidden) > 0 || len(tasks) != 3 || faults != 1 {
		t.Fatalf("%d rows (want %d), tasks %v, hidden %q, %d faults\n%s", len(got), len(want), tasks, hidden, faults, attemptsOf(job))
	}
	at := taskAttempts(job)
	var sinkStage int
	for _, a := range job.StageAttempts() {
		if strings.HasPrefix(a.Name, "Sink: ") {
			sinkStage = a.Stage
		} else if a.Tasks != 3 || a.Attempt != 1 || a.Err != nil {
			t.Fatalf("attempt %+v\n%s", a, attemptsOf(job))
		}
	}
	for task, attempts := range []int{1, 2, 1} {
		for a := 1; a <= 3; a++ {
			x, ok := at[fmt.Sprintf("%d/%d/%d", sinkStage, task, a)]
			if ok != (a <= attempts) || ok && (x.Err != nil) != (a < attempts) {
				t.Fatalf("sink task %d attempt %d: %+v\n%s", task, a, x, attemptsOf(job))
			}
		}
	}
	if f, r := at[fmt.Sprintf("%d/1/1", sinkStage)], at[fmt.Sprintf("%d/1/2", sinkStage)]; r.RowsRead != f.RowsRead || r.RowsRead < 100 {
		t.Fatalf("task 1 read %d rows then %d", f.RowsRead, r.RowsRead)
	}
	if m := job.Metrics(); m.RowsOut != 3000 {
		t.Fatalf("rows out %d, want 3000", m.RowsOut)
	}
	if !strings.Contains(notice, fmt.Sprintf("Restarting stage %d task 2/3 alone, from the intermediate results of its inputs", sinkStage)) {
		t.Fatalf("notice:\n%s", notice)
	}

	// Every attempt of task 1 fails: the job fails, nothing is committed.
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if strings.HasPrefix(st.name, "Sink: ") && task == 1 && end {
			return errInjected
		}
		return nil
	})
	dir = t.TempDir()
	if _, notice, job, err := stagedRun(t, script(dir), map[string]string{"parallelism.default": "3"}); err == nil {
		t.Fatalf("the job succeeded\n%q %v", notice, job.StageAttempts())
		_ = notice
	}
	if got, _, hidden := sinkFiles(t, dir); len(got) > 0 || len(hidden) > 0 {
		t.Fatalf("a failed job left %d rows and hidden files %q", len(got), hidden)
	}
}

// 'sink.parallelism' of a filesystem sink: 0 and 'abc' are refused at CREATE TABLE, naming the option; 2 is
// honoured without a warning in batch mode (tasks) and in streaming mode (the sink's own subtasks,
// exchange_sink.go).
func TestBatchSinkParallelismOption(t *testing.T) {
	for _, tc := range []struct{ mode, value, want string }{
		{"batch", "0", "Invalid value for option 'sink.parallelism': '0' must be at least 1"},
		{"batch", "abc", "Invalid value for option 'sink.parallelism': 'abc' is not a number"},
		{"batch", "2", ""},
		{"streaming", "2", ""},
		{"batch", "2', 'sink.shuffle-by-partition.enable' = 'true", ""},
		{"streaming", "1', 'sink.shuffle-by-partition.enable' = 'true", "'sink.shuffle-by-partition.enable' = 'true' has effect in batch mode only"},
		{"streaming", "1', 'sink.shuffle-by-partition.enable' = 'false", ""},
	} {
		var note strings.Builder
		s, err := NewSession(Config{Stdout: &note, Stderr: &note, Notice: &note, Options: map[string]string{"execution.runtime-mode": tc.mode}})
		if err != nil {
			t.Fatal(err)
		}
		ddl := fmt.Sprintf("CREATE TABLE o (a BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv', 'sink.parallelism' = '%s')", t.TempDir(), tc.value)
		out := execAll(t.Context(), t, s, ddl)
		switch {
		case tc.want == "" && strings.Contains(out+note.String(), "WARNING"):
			t.Errorf("%s, '%s': %s%s", tc.mode, tc.value, out, note.String())
		case tc.want != "" && !strings.Contains(out+note.String(), tc.want):
			t.Errorf("%s, '%s': want %q in:\n%s%s", tc.mode, tc.value, tc.want, out, note.String())
		}
	}
}

// 'sink.shuffle-by-partition.enable' = 'true' on a partitioned filesystem sink at parallelism 3: the rows are
// hashed by the partition column in front of the 3 sink tasks, so each partition's files come from one task
// (without the option, the one-task ORDER BY deals its rows round-robin and every partition gets files of
// several tasks); the rows are those of parallelism 1.
func TestBatchSinkShuffleByPartition(t *testing.T) {
	tables := batchTaskTables(t)
	run := func(p int, shuffle string) (rows []string, tasksPerPart map[string]map[string]bool) {
		dir := t.TempDir()
		script := tables + fmt.Sprintf(`CREATE TABLE out_t (id BIGINT, v BIGINT, k BIGINT) PARTITIONED BY (k) WITH ('connector' = 'filesystem', 'path' = '%s',
  'format' = 'csv', 'sink.shuffle-by-partition.enable' = '%s');
INSERT INTO out_t SELECT id, v, k FROM f ORDER BY id;`, dir, shuffle)
		_, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": fmt.Sprint(p)})
		if err != nil {
			t.Fatalf("%v\n%s", err, notice)
		}
		if n := sinkStageTasks(t, job); n != p {
			t.Fatalf("%d sink tasks at parallelism %d\n%s", n, p, attemptsOf(job))
		}
		tasksPerPart = map[string]map[string]bool{}
		parts, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range parts {
			if !d.IsDir() {
				continue
			}
			lines, tasks, hidden := sinkFiles(t, filepath.Join(dir, d.Name()))
			if len(hidden) > 0 {
				t.Fatalf("hidden files %q", hidden)
			}
			tasksPerPart[d.Name()] = tasks
			for _, l := range lines {
				rows = append(rows, d.Name()+":"+l)
			}
		}
		sort.Strings(rows)
		return rows, tasksPerPart
	}
	want, _ := run(1, "true")
	if len(want) != 3000 {
		t.Fatalf("%d rows", len(want))
	}
	got, perPart := run(3, "true")
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(perPart) != 41 {
		t.Fatalf("%d rows in %d partitions at parallelism 3, want %d in 41", len(got), len(perPart), len(want))
	}
	writers := map[string]bool{}
	for part, tasks := range perPart {
		if len(tasks) != 1 {
			t.Fatalf("partition %s written by tasks %v", part, tasks)
		}
		for k := range tasks {
			writers[k] = true
		}
	}
	if len(writers) != 3 {
		t.Fatalf("the partitions were written by tasks %v, want 3 tasks", writers)
	}
	got, perPart = run(3, "false")
	several := 0
	for _, tasks := range perPart {
		if len(tasks) > 1 {
			several++
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || several == 0 {
		t.Fatalf("without the option: %d rows, %d of %d partitions written by several tasks", len(got), several, len(perPart))
	}
}
