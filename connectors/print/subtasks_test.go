package print_test

import (
	"bytes"
	"context"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

// runStreaming runs script in a streaming session at parallelism par and returns what was printed to
// standard output and to standard error, and the session's notices.
func runStreaming(t *testing.T, par int, script string) (stdout, stderr *lineWriter, notice string) {
	t.Helper()
	stdout, stderr = &lineWriter{}, &lineWriter{}
	var nb bytes.Buffer
	s, err := engine.NewSession(engine.Config{Stdout: stdout, Stderr: stderr, Notice: &nb, TempDir: t.TempDir(),
		Options: map[string]string{"parallelism.default": strconv.Itoa(par), "execution.runtime-mode": "streaming"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if _, err := s.Execute(ctx, st); err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
	}
	if err := s.WaitJobs(ctx); err != nil {
		t.Fatalf("parallelism %d: %v", par, err)
	}
	for _, w := range []*lineWriter{stdout, stderr} {
		if len(w.problems) > 0 {
			t.Fatalf("parallelism %d: %d bad writes, first: %s", par, len(w.problems), w.problems[0])
		}
	}
	return stdout, stderr, nb.String()
}

// splitPrefix splits the lines printed at parallelism par into their subtask numbers (0 when the line has
// no number) and their rows, sorted, checking the prefix: 'N> ' or '<id>:N> ' with N in 1..par above
// parallelism 1, none (or '<id>> ') at 1.
func splitPrefix(t *testing.T, lines []string, id string, par int) (tasks []int, rows []string) {
	t.Helper()
	numbered := regexp.MustCompile(`^` + regexp.QuoteMeta(id) + `(\d+)> ([-+][IUD]\[.*\])$`)
	if id != "" {
		numbered = regexp.MustCompile(`^` + regexp.QuoteMeta(id) + `:(\d+)> ([-+][IUD]\[.*\])$`)
	}
	plain := regexp.MustCompile(`^([-+][IUD]\[.*\])$`)
	if id != "" {
		plain = regexp.MustCompile(`^` + regexp.QuoteMeta(id) + `> ([-+][IUD]\[.*\])$`)
	}
	for _, l := range lines {
		if par == 1 {
			m := plain.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("parallelism 1 printed %q, want an unnumbered line", l)
			}
			tasks, rows = append(tasks, 0), append(rows, m[1])
			continue
		}
		m := numbered.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("parallelism %d printed %q, want a line numbered by its subtask", par, l)
		}
		n, _ := strconv.Atoi(m[1])
		if n < 1 || n > par {
			t.Fatalf("parallelism %d printed %q: subtask %d out of 1..%d", par, l, n, par)
		}
		tasks, rows = append(tasks, n), append(rows, m[2])
	}
	return tasks, rows
}

func sortedCopy(rows []string) []string {
	s := append([]string(nil), rows...)
	sort.Strings(s)
	return s
}

const subtaskSource = `CREATE TABLE src (id INT, k INT) WITH ('connector' = 'datagen', 'number-of-rows' = '3000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '3000',
  'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '3000');
`

// A streaming print sink prints from the subtasks of its input as Flink's PrintSink does: unnumbered at
// parallelism 1, every line numbered by its subtask ('N> ', 'id:N> ') above, the same rows in all; the rows of
// a key that the input hash-partitions (a GROUP BY's keyed subtasks) all come from one subtask; standard-error
// prints there only. An input that runs as one instance (a global aggregate) prints unnumbered.
func TestStreamingPrintSubtasks(t *testing.T) {
	cases := []struct {
		name, sink, opts, query string
		id                      string
		stderr                  bool
		keyed                   bool // every row of a key (its first column) at one subtask
		single                  bool // one instance above parallelism 1 too
	}{
		{name: "source subtasks", sink: "id INT, k INT", query: "SELECT id, k FROM src WHERE id % 3 <> 0"},
		{name: "identifier", sink: "id INT, k INT", opts: ", 'print-identifier' = 'out'", id: "out",
			query: "SELECT id, k FROM src"},
		{name: "standard-error", sink: "id INT, k INT", opts: ", 'standard-error' = 'true'", stderr: true,
			query: "SELECT id, k FROM src"},
		{name: "keyed", sink: "g INT, c BIGINT", keyed: true, query: "SELECT k % 37, COUNT(*) FROM src GROUP BY k % 37"},
		{name: "keyed identifier", sink: "g INT, c BIGINT", opts: ", 'print-identifier' = 'agg'", id: "agg", keyed: true,
			query: "SELECT k % 37, COUNT(*) FROM src GROUP BY k % 37"},
		{name: "one instance", sink: "c BIGINT", single: true, query: "SELECT COUNT(*) FROM src"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			script := subtaskSource + "CREATE TABLE out_t (" + tc.sink + ") WITH ('connector' = 'print'" + tc.opts + ");\n" +
				"INSERT INTO out_t " + tc.query + ";\n"
			var want []string
			for _, par := range []int{1, 2, 3} {
				stdout, stderr, _ := runStreaming(t, par, script)
				lines, other := stdout.lines, stderr.lines
				if tc.stderr {
					lines, other = other, lines
				}
				if len(other) > 0 {
					t.Fatalf("parallelism %d printed %d lines to the other stream, first %q", par, len(other), other[0])
				}
				pp := par
				if tc.single {
					pp = 1
				}
				tasks, rows := splitPrefix(t, lines, tc.id, pp)
				if par == 1 {
					want = sortedCopy(rows)
					if len(want) < 2 && !tc.single {
						t.Fatalf("too few lines: %q", lines)
					}
					continue
				}
				if got := sortedCopy(rows); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("parallelism %d printed other rows than parallelism 1 (%d lines, want %d)\ngot:\n%.1500s\nwant:\n%.1500s",
						par, len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				if tc.single {
					continue
				}
				seen := map[int]bool{}
				for _, n := range tasks {
					seen[n] = true
				}
				if len(seen) != par {
					t.Fatalf("parallelism %d: lines came from subtasks %v, want all %d", par, seen, par)
				}
				if tc.keyed {
					at := map[string]int{}
					for i, r := range rows {
						key := strings.SplitN(r[3:], ",", 2)[0]
						if n, ok := at[key]; ok && n != tasks[i] {
							t.Fatalf("parallelism %d: key %s printed by subtasks %d and %d", par, key, n, tasks[i])
						}
						at[key] = tasks[i]
					}
				}
			}
		})
	}
}

// 'sink.parallelism' of a streaming print sink is honoured (engine/exchange_sink.go): the sink runs as that
// many subtasks behind a rebalance exchange when its input runs as another number (2 sink subtasks over a
// job of parallelism 1, 3 over 2), each line numbered by its sink subtask, every subtask printing, every row
// once, no warning.
func TestStreamingPrintSinkParallelismHonoured(t *testing.T) {
	for _, tc := range []struct{ par, sinkPar int }{{1, 2}, {2, 3}} {
		script := subtaskSource + "CREATE TABLE out_t (id INT, k INT) WITH ('connector' = 'print', 'sink.parallelism' = '" + strconv.Itoa(tc.sinkPar) + "');\n" +
			"INSERT INTO out_t SELECT id, k FROM src;\n"
		stdout, _, notice := runStreaming(t, tc.par, script)
		if strings.Contains(notice, "sink.parallelism") {
			t.Fatalf("parallelism %d: a warning about 'sink.parallelism':\n%s", tc.par, notice)
		}
		tasks, rows := splitPrefix(t, stdout.lines, "", tc.sinkPar)
		if len(rows) != 3000 {
			t.Fatalf("parallelism %d: printed %d rows, want 3000", tc.par, len(rows))
		}
		seen := map[int]int{}
		for _, n := range tasks {
			seen[n]++
		}
		if len(seen) != tc.sinkPar {
			t.Fatalf("parallelism %d, sink.parallelism %d: lines from subtasks %v", tc.par, tc.sinkPar, seen)
		}
		if got := sortedCopy(rows); len(got) != len(rows) || got[0] == got[len(got)-1] {
			t.Fatalf("parallelism %d: rows %v...", tc.par, got[:3])
		}
		distinct := map[string]bool{}
		for _, r := range rows {
			distinct[r] = true
		}
		if len(distinct) != 3000 {
			t.Fatalf("parallelism %d: %d distinct rows, want 3000", tc.par, len(distinct))
		}
	}
}

// The lines are numbered only when the sink's parallelism ('sink.parallelism', else the job's) is above 1,
// as Flink's: a source of 'scan.parallelism' = '3' in a job of parallelism 1, or 'sink.parallelism' = '1' in a
// job of parallelism 2, prints unnumbered lines from the source's subtasks.
func TestStreamingPrintSinkParallelismOne(t *testing.T) {
	for _, tc := range []struct {
		par              int
		scanOpt, sinkOpt string
	}{
		{1, ", 'scan.parallelism' = '3'", ""},
		{2, "", ", 'sink.parallelism' = '1'"},
	} {
		script := strings.Replace(subtaskSource, "'number-of-rows' = '3000'", "'number-of-rows' = '3000'"+tc.scanOpt, 1) +
			"CREATE TABLE out_t (id INT, k INT) WITH ('connector' = 'print'" + tc.sinkOpt + ");\n" +
			"INSERT INTO out_t SELECT id, k FROM src;\n"
		stdout, _, notice := runStreaming(t, tc.par, script)
		if strings.Contains(notice, "sink.parallelism") {
			t.Errorf("parallelism %d%s%s: a warning about 'sink.parallelism':\n%s", tc.par, tc.scanOpt, tc.sinkOpt, notice)
		}
		if _, rows := splitPrefix(t, stdout.lines, "", 1); len(rows) != 3000 {
			t.Fatalf("parallelism %d%s%s: printed %d rows, want 3000", tc.par, tc.scanOpt, tc.sinkOpt, len(rows))
		}
	}
}
