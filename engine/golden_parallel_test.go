package engine

import (
	"context"
	"flag"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// goldenParallelisms are the values of 'parallelism.default' TestGoldenParallel runs the golden files at
// (issue 13). TestGolden runs them at 1 (the default) over single-partition topics and compares exactly.
var goldenParallelisms = []int{1, 2, 4}

// TestGoldenParallel runs every golden file TestGolden runs (all of testdata/ but checkpoint/, jobs/ and
// wasm/, which have tests of their own) again in a fresh session at 'parallelism.default' 2 and 4, streaming
// and batch, and checks each command's output against the checked-in golden (written at parallelism 1).
// Files and parallelisms run as parallel subtests. A file that sets the parallelism itself runs at its own
// setting from there on. What is compared, per command:
//
//   - exec: the output exactly (DDL, SET, SHOW, DESCRIBE, EXPLAIN and errors do not depend on the
//     parallelism), but for the line "parallelism.default | P" that SET lists as this test sets it, when the
//     golden has no such line.
//   - query (both modes): the streaming changelog at P, materialized, equals the batch rows at P (as
//     multisets), and both equal the golden's rows as multisets (the golden prints them sorted). An error
//     must be the golden's error. A SELECT in batch mode runs as one pipeline, so the query also runs as a
//     batch INSERT job (CREATE TABLE ... WITH ('connector' = 'print') AS query): stages of P tasks behind
//     blocking hash exchanges (batch_tasks.go), whose printed rows must be the golden's too.
//   - query mode=batch: the rows in the golden's order when the query has an ORDER BY, else as multisets.
//   - query mode=streaming, changelog: the materialized final table (each +I/+U line adds its row, each
//     -U/-D line takes one away) equals the golden's, as multisets. The order of the changes of different
//     keys is not defined at P > 1 (keyed subtasks emit concurrently), so the changelog lines themselves
//     are not compared.
//   - run, script: print sinks number their lines by subtask at P > 1 ("2> +I[..]", "id:2> +I[..]", as
//     Flink's PrintSink); the number is removed, then the changelog lines of every print identifier are
//     materialized as above and compared with the golden's, and every other line (statement results, job
//     errors) is compared exactly and in order.
//   - marks: a query or changelog command whose result depends on the order in which rows of different keys
//     or partitions arrive, which is not defined once several partitions are read or keyed subtasks emit
//     concurrently (in Flink too), says so in the golden file. parallel=ties: ROW_NUMBER over rows that tie
//     on the ORDER BY numbers them in arrival order, so the rows without their last column (the number) and
//     the multiset of numbers are compared. parallel=order-sensitive (FIRST_VALUE, LISTAGG over a GROUP
//     BY's changes; MATCH_RECOGNIZE ordered by a time with ties across keys): only that it succeeds with the
//     golden's number of rows.
//   - a job's failure (query, changelog, run, script) is compared without the place the engine names before
//     the cause: at P = 1 the failing operator runs in its source's goroutine ("source T: ..."), at P > 1
//     in a keyed subtask ("Match(...): subtask 2 of 2: ..."); the cause after it must be the golden's.
//   - produce: exactly. 'produce topic=T parallel-partitions=4 key=F' makes T a topic of four partitions
//     here (TestGolden writes one partition), each line in the partition of its field F, so that the rows
//     of one key keep their order: at P > 1 several source subtasks read it and feed the keyed operators
//     through hash exchanges; at P = 1 one subtask reads the four partitions (per-partition watermarks).
func TestGoldenParallel(t *testing.T) {
	if f := flag.Lookup("rewrite"); f != nil && f.Value.String() == "true" {
		t.Skip("-rewrite rewrites the goldens from TestGolden (parallelism 1) only")
	}
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		if strings.Contains(path, "checkpoint") || strings.Contains(path, "jobs") || strings.Contains(path, "wasm") || strings.HasSuffix(path, ".records") {
			return
		}
		t.Parallel()
		for _, p := range goldenParallelisms {
			t.Run(fmt.Sprintf("P%d", p), func(t *testing.T) {
				t.Parallel()
				runGoldenAt(t, path, p)
			})
		}
	})
}

// runGoldenAt runs one golden file in a session at 'parallelism.default' = par, as TestGoldenParallel says.
func runGoldenAt(t *testing.T, path string, par int) {
	var out syncBuffer
	s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(), Options: map[string]string{
		"table.local-time-zone": "UTC",
		"parallelism.default":   fmt.Sprint(par),
	}})
	if err != nil {
		t.Fatal(err)
	}
	kf := &kafkaFixture{t: t}
	defer kf.close()
	nexmarkDir, flinkHome := goldenDirs(t)
	scrub := func(s string) string { return strings.ReplaceAll(kf.scrub(s), flinkHome, "${FLINK_HOME}") }
	nStaged := 0 // queries run as batch INSERT jobs (stagedBatchRows)
	datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		input := kf.expand(d.Input)
		input = strings.NewReplacer("${NEXMARK_DIR}", nexmarkDir, "${SUBMIT_TIME}", "1700000000", "${FLINK_HOME}", flinkHome).Replace(input)
		fail := func(format string, args ...any) string {
			t.Errorf("%s: at parallelism %d: %s\n%s", d.Pos, par, fmt.Sprintf(format, args...), d.Input)
			return d.Expected // the golden file is never rewritten from here
		}
		mark := parallelMark(t, d)
		switch d.Cmd {
		case "produce":
			if got := kf.produceCmd(t, d, input, true); got != d.Expected {
				return fail("got\n%swant\n%s", got, d.Expected)
			}
		case "exec":
			if got := withoutParallelismSetting(scrub(execAll(ctx, t, s, input)), par, d.Expected); got != d.Expected {
				return fail("got\n%swant\n%s", got, d.Expected)
			}
		case "script", "run":
			out.Reset()
			res := execAll(ctx, t, s, input)
			var got string
			if err := s.WaitJobs(ctx); err != nil {
				got = scrub(res + "job error: " + errText(err) + "\n")
				if d.Cmd == "script" {
					got += scrub(out.String())
				}
			} else if d.Cmd == "script" {
				got = scrub(res + out.String())
			} else {
				got = scrub(out.String())
			}
			if diff := compareSinkOutput(got, d.Expected); diff != "" {
				return fail("%s\ngot\n%swant\n%s", diff, got, d.Expected)
			}
		case "changelog":
			got, err := queryText(ctx, s, input, ModeStreaming, false)
			if err != nil {
				got = errText(err) + "\n"
			}
			if diff := rowsDiff(mark, got, d.Expected); diff != "" {
				return fail("%s\ngot\n%swant\n%s", diff, got, d.Expected)
			}
		case "query":
			mode := "both"
			if d.HasArg("mode") {
				d.ScanArgs(t, "mode", &mode)
			}
			switch mode {
			case ModeStreaming:
				got, err := queryText(ctx, s, input, ModeStreaming, false)
				if err != nil {
					got = errText(err) + "\n"
				}
				if diff := rowsDiff(mark, got, d.Expected); diff != "" {
					return fail("%s\ngot\n%swant\n%s", diff, got, d.Expected)
				}
			case ModeBatch:
				ordered := mark == "" && topLevelOrderBy(input)
				got, err := queryText(ctx, s, input, ModeBatch, false)
				if err != nil {
					got = errText(err) + "\n"
				}
				if ordered && got != d.Expected {
					return fail("batch rows in order:\ngot\n%swant\n%s", got, d.Expected)
				}
				if diff := rowsDiff(mark, got, d.Expected); diff != "" {
					return fail("batch rows: %s\ngot\n%swant\n%s", diff, got, d.Expected)
				}
			default:
				srows, cols, err := collectQuery(ctx, s, input, ModeStreaming)
				if err != nil {
					if got := "streaming: " + errText(err) + "\n"; compareSinkOutput(got, d.Expected) != "" {
						return fail("got\n%swant\n%s", got, d.Expected)
					}
					return d.Expected
				}
				brows, _, err := collectQuery(ctx, s, input, ModeBatch)
				if err != nil {
					if got := "batch: " + errText(err) + "\n"; compareSinkOutput(got, d.Expected) != "" {
						return fail("got\n%swant\n%s", got, d.Expected)
					}
					return d.Expected
				}
				typs := columnTypes(cols)
				m := changelog.NewMaterializer(nil)
				for _, r := range srows {
					if err := m.Apply(r); err != nil {
						return fail("materializing the streaming changelog: %v", err)
					}
				}
				var bvals [][]types.Value
				for _, r := range brows {
					if r.Kind != changelog.Insert {
						return fail("batch mode emitted %s, want only +I", r.Kind)
					}
					bvals = append(bvals, r.Vals)
				}
				stream, batch := sortTextLines(formatVals(m.Rows(), typs)), sortTextLines(formatVals(bvals, typs))
				if diff := rowsDiff(mark, stream, batch); diff != "" {
					return fail("streaming result materialized differs from batch result: %s\nstreaming:\n%sbatch:\n%s", diff, stream, batch)
				}
				if diff := rowsDiff(mark, batch, d.Expected); diff != "" {
					return fail("rows differ from the golden's: %s\ngot:\n%swant:\n%s", diff, batch, sortTextLines(d.Expected))
				}
				nStaged++
				staged, err := stagedBatchRows(ctx, s, &out, input, fmt.Sprintf("golden_par_%d", nStaged))
				if err != nil {
					return fail("as a batch INSERT job: %v", err)
				}
				if diff := rowsDiff(mark, staged, d.Expected); diff != "" {
					return fail("as a batch INSERT job, rows differ from the golden's: %s\ngot:\n%swant:\n%s", diff, staged, sortTextLines(d.Expected))
				}
			}
		default:
			t.Fatalf("%s: unknown command %s", d.Pos, d.Cmd)
		}
		return d.Expected
	})
}

// parallelMark is the command's parallel=... argument: "", "order-sensitive" or "ties" (TestGoldenParallel).
func parallelMark(t *testing.T, d *datadriven.TestData) string {
	var v string
	if !d.MaybeScanArgs(t, "parallel", &v) {
		return ""
	}
	if v != "order-sensitive" && v != "ties" {
		t.Fatalf("%s: parallel=%s: want parallel=order-sensitive or parallel=ties", d.Pos, v)
	}
	return v
}

// rowsDiff compares printed rows (changelogs materialized, see materializeLines) as the command's mark says:
// without a mark as compareSinkOutput; "ties": the rows without their last column, and the values of their
// last column, each as a multiset; "order-sensitive": the number of rows. "" when they are equal.
func rowsDiff(mark, got, want string) string {
	if mark == "" {
		return compareSinkOutput(got, want)
	}
	gt, gother := materializeLines(got)
	wt, wother := materializeLines(want)
	if strings.Join(gother, "\n") != strings.Join(wother, "\n") {
		return fmt.Sprintf("other lines differ: got %q, want %q", gother, wother)
	}
	if mark == "order-sensitive" {
		if n, m := tableSize(gt), tableSize(wt); n != m {
			return fmt.Sprintf("order-sensitive: got %d rows, want %d", n, m)
		}
		return ""
	}
	gRest, gLast := splitLastColumn(gt)
	wRest, wLast := splitLastColumn(wt)
	if !reflect.DeepEqual(gRest, wRest) {
		return fmt.Sprintf("ties: the rows without their last column differ: got %v, want %v", gRest, wRest)
	}
	if !reflect.DeepEqual(gLast, wLast) {
		return fmt.Sprintf("ties: the last column's values differ: got %v, want %v", gLast, wLast)
	}
	return ""
}

func tableSize(table map[string]int) int {
	n := 0
	for _, c := range table {
		n += c
	}
	return n
}

// splitLastColumn splits a materialized table's rows ("id> [a, b, 3]") into the multisets of the rows
// without their last column and of the last column's values.
func splitLastColumn(table map[string]int) (rest, last map[string]int) {
	rest, last = map[string]int{}, map[string]int{}
	for row, c := range table {
		i := strings.LastIndex(row, ", ")
		if i < 0 {
			rest[row] += c
			continue
		}
		rest[row[:i]] += c
		last[strings.TrimSuffix(row[i+2:], "]")] += c
	}
	return rest, last
}

// withoutParallelismSetting removes from got the line SET lists for the session's 'parallelism.default'
// when want (written at the default) has no such line.
func withoutParallelismSetting(got string, par int, want string) string {
	line := fmt.Sprintf("parallelism.default | %d\n", par)
	if strings.Contains(want, line) {
		return got
	}
	return strings.ReplaceAll(got, line, "")
}

// stagedBatchRows runs query in batch mode as an INSERT job, CREATE TABLE name WITH ('connector' = 'print')
// AS query, so that it runs as stages of 'parallelism.default' tasks behind blocking exchanges (a SELECT in
// batch mode runs as one pipeline), and returns the rows the sink printed (the table is dropped).
func stagedBatchRows(ctx context.Context, s *Session, out *syncBuffer, query, name string) (string, error) {
	defer setModeFor(s, ModeBatch)()
	st, err := sql.ParseStatement(fmt.Sprintf("CREATE TABLE %s WITH ('connector' = 'print', 'print-identifier' = '%s') AS %s", name, name, query))
	if err != nil {
		return "", err
	}
	out.Reset()
	res, err := s.Execute(ctx, st)
	if err != nil {
		return "", err
	}
	defer func() {
		if drop, err := sql.ParseStatement("DROP TABLE " + name); err == nil {
			_, _ = s.Execute(ctx, drop)
		}
	}()
	if res.Kind != ResultJob {
		return "", fmt.Errorf("CREATE TABLE AS returned no job (%v)", res.Kind)
	}
	if err := res.Job.Wait(ctx); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(l, name+"> "); ok {
			b.WriteString(rest)
		} else if m := subtaskPrefix.FindStringSubmatch(l); m != nil && m[1] == name {
			b.WriteString(l[len(m[0]):])
		}
	}
	return b.String(), nil
}

// queryText runs a query and prints its rows (sorted when sorted is set), with the query's own column types.
func queryText(ctx context.Context, s *Session, text, mode string, sorted bool) (string, error) {
	rows, cols, err := collectQuery(ctx, s, text, mode)
	if err != nil {
		return "", err
	}
	typs := columnTypes(cols)
	var b []byte
	for _, r := range rows {
		b = changelog.AppendRow(b, r, typs, time.UTC)
		b = append(b, '\n')
	}
	if sorted {
		return sortTextLines(string(b)), nil
	}
	return string(b), nil
}

func columnTypes(cols []Column) []types.Type {
	typs := make([]types.Type, len(cols))
	for i, c := range cols {
		typs[i] = c.Type
	}
	return typs
}

// formatVals prints rows as +I lines.
func formatVals(rows [][]types.Value, typs []types.Type) string {
	var b []byte
	for _, r := range rows {
		b = changelog.AppendRow(b, changelog.Row{Vals: r}, typs, time.UTC)
		b = append(b, '\n')
	}
	return string(b)
}

// sortTextLines sorts the lines of s (each ending in a newline).
func sortTextLines(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.SplitAfter(strings.TrimSuffix(s, "\n")+"\n", "\n")
	sort.Strings(lines)
	return strings.Join(lines, "")
}

var (
	// failurePlace is the place a job failure names before its cause (see TestGoldenParallel).
	failurePlace = regexp.MustCompile(`failed: (?:source [^:]+: |[A-Za-z]+\(.*\): subtask \d+ of \d+: )`)
	// subtaskPrefix is the subtask number a print sink of parallelism above 1 writes before a row: "2> " or
	// "id:2> " (Flink's PrintSink).
	subtaskPrefix = regexp.MustCompile(`^(?:(\S+):)?\d+> `)
	// changeLine is a printed changelog row, with an optional print identifier.
	changeLine = regexp.MustCompile(`^(?:(\S+)> )?([+-][IUD])(\[.*)$`)
)

// materializeLines removes the subtask numbers of print sinks, applies the changelog lines to a multiset
// of rows per print identifier (+I and +U add one, -U and -D take one away; a count may go below zero, so
// that a retraction of a row never added shows) and returns it with every other line in order.
func materializeLines(out string) (table map[string]int, other []string) {
	table = map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		if m := subtaskPrefix.FindStringSubmatch(l); m != nil {
			rest := l[len(m[0]):]
			if m[1] != "" {
				rest = m[1] + "> " + rest
			}
			l = rest
		}
		m := changeLine.FindStringSubmatch(l)
		if m == nil {
			other = append(other, l)
			continue
		}
		row := m[1] + "> " + m[3]
		if m[2] == "+I" || m[2] == "+U" {
			table[row]++
		} else {
			table[row]--
		}
		if table[row] == 0 {
			delete(table, row)
		}
	}
	return table, other
}

// compareSinkOutput compares printed output as materializeLines sees it: "" when equal, else what differs.
func compareSinkOutput(got, want string) string {
	got, want = failurePlace.ReplaceAllString(got, "failed: "), failurePlace.ReplaceAllString(want, "failed: ")
	gt, gother := materializeLines(got)
	wt, wother := materializeLines(want)
	var diff []string
	if strings.Join(gother, "\n") != strings.Join(wother, "\n") {
		diff = append(diff, fmt.Sprintf("other lines differ: got %q, want %q", gother, wother))
	}
	keys := map[string]bool{}
	for k := range gt {
		keys[k] = true
	}
	for k := range wt {
		keys[k] = true
	}
	var rows []string
	for k := range keys {
		if gt[k] != wt[k] {
			rows = append(rows, fmt.Sprintf("%s: %d times, want %d", k, gt[k], wt[k]))
		}
	}
	sort.Strings(rows)
	if len(rows) > 0 {
		diff = append(diff, "materialized rows differ:\n"+strings.Join(rows, "\n"))
	}
	return strings.Join(diff, "\n")
}

// topLevelOrderBy reports an ORDER BY outside parentheses: the query's own, whose order the rows must keep
// (one inside OVER (...) or a subquery orders nothing of the result).
func topLevelOrderBy(q string) bool {
	q = strings.ToUpper(q)
	depth := 0
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '(':
			depth++
		case ')':
			depth--
		case 'O':
			if depth == 0 && strings.HasPrefix(q[i:], "ORDER BY") {
				return true
			}
		}
	}
	return false
}
