package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// TestGolden runs the files under testdata/. Commands:
//
//	exec            run statements; print each result (or error as line:col: message)
//	query [mode=streaming|batch|both]
//	                run one SELECT; print its changelog (streaming) or rows (batch). With both (the default),
//	                run it both ways, print the batch rows, and fail unless the materialized streaming
//	                changelog equals the batch result: the engine's main correctness check.
//	changelog       run one SELECT in streaming mode; print the changelog rows
//	run [sorted]    run an INSERT script to completion; print what the print sinks wrote (sorted: lines
//	                sorted, for sinks printed by several subtasks at once)
//	script          run statements, then wait for their jobs; print each result, job errors and what the
//	                print sinks wrote
//	produce topic=T [parallel-partitions=N [key=F]]
//	                write each input line as a record value to an in-process Kafka broker (kfake), which
//	                the file's statements reach as '$BROKER', to partition 0 (parallel-partitions and key
//	                are TestGoldenParallel's: golden_parallel_test.go)
func TestGolden(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		if strings.Contains(path, "checkpoint") {
			return // TestCheckpointGolden runs these
		}
		if strings.HasSuffix(path, ".records") {
			return // changelog records an old build wrote (TestScaleOutWindowRestoresOldChangelog), not a script
		}
		if strings.Contains(path, "jobs") {
			return // TestJobsGolden runs these (metrics_test.go)
		}
		if strings.Contains(path, "wasm") {
			return // TestWasmFunctionGolden runs these
		}
		var out bytes.Buffer
		s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
		if err != nil {
			t.Fatal(err)
		}
		kf := &kafkaFixture{t: t}
		defer kf.close()
		nexmarkDir, flinkHome := goldenDirs(t)
		scrub := func(s string) string { return strings.ReplaceAll(kf.scrub(s), flinkHome, "${FLINK_HOME}") }
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			input := kf.expand(d.Input) // the file names the broker $BROKER
			// The Nexmark benchmark's runner substitutes these in its DDL (q10 writes files below NEXMARK_DIR).
			input = strings.NewReplacer("${NEXMARK_DIR}", nexmarkDir, "${SUBMIT_TIME}", "1700000000", "${FLINK_HOME}", flinkHome).Replace(input)
			switch d.Cmd {
			case "produce":
				return kf.produceCmd(t, d, input, false)
			case "exec":
				return scrub(execAll(ctx, t, s, input))
			case "script":
				out.Reset()
				res := execAll(ctx, t, s, input)
				if err := s.WaitJobs(ctx); err != nil {
					res += "job error: " + errText(err) + "\n"
				}
				return scrub(res + out.String())
			case "run":
				out.Reset()
				res := execAll(ctx, t, s, input)
				if err := s.WaitJobs(ctx); err != nil {
					return scrub(res + "job error: " + errText(err) + "\n")
				}
				if d.HasArg("sorted") { // several sink subtasks print at once: their lines sorted
					lines := strings.SplitAfter(scrub(out.String()), "\n")
					sort.Strings(lines)
					return strings.Join(lines, "")
				}
				return scrub(out.String())
			case "changelog":
				rows, _, err := queryRows(ctx, s, input, ModeStreaming)
				if err != nil {
					return errText(err) + "\n"
				}
				return formatRows(rows)
			case "query":
				mode := "both"
				if d.HasArg("mode") {
					d.ScanArgs(t, "mode", &mode)
				}
				if mode != "both" {
					rows, _, err := queryRows(ctx, s, input, mode)
					if err != nil {
						return errText(err) + "\n"
					}
					return formatRows(rows)
				}
				srows, _, err := queryRows(ctx, s, input, ModeStreaming)
				if err != nil {
					return "streaming: " + errText(err) + "\n"
				}
				brows, _, err := queryRows(ctx, s, input, ModeBatch)
				if err != nil {
					return "batch: " + errText(err) + "\n"
				}
				for _, r := range brows {
					if r.Kind != changelog.Insert {
						t.Fatalf("batch mode emitted %s, want only +I", r.Kind)
					}
				}
				m := changelog.NewMaterializer(nil)
				for _, r := range srows {
					if err := m.Apply(r); err != nil {
						t.Fatalf("materializing the streaming changelog: %v", err)
					}
				}
				got, want := sortedLines(m.Rows()), sortedLines(rowVals(brows))
				if got != want {
					t.Fatalf("streaming result materialized differs from batch result\nstreaming:\n%s\nbatch:\n%s", got, want)
				}
				// The same at parallelism 2 and 4 (keyed streaming operators as subtasks).
				for _, par := range []string{"2", "4"} {
					if err := s.Set("parallelism.default", par); err != nil {
						t.Fatal(err)
					}
					prows, _, err := queryRows(ctx, s, input, ModeStreaming)
					if err := s.Set("parallelism.default", "1"); err != nil {
						t.Fatal(err)
					}
					if err != nil {
						t.Fatalf("streaming at parallelism %s: %v", par, err)
					}
					pm := changelog.NewMaterializer(nil)
					for _, r := range prows {
						if err := pm.Apply(r); err != nil {
							t.Fatalf("materializing the streaming changelog at parallelism %s: %v", par, err)
						}
					}
					if pgot := sortedLines(pm.Rows()); pgot != want {
						t.Fatalf("streaming result at parallelism %s differs from batch result\nstreaming:\n%s\nbatch:\n%s", par, pgot, want)
					}
				}
				// Rows of several sources (UNION ALL, joins) arrive in any order: print them sorted. (Queries
				// whose order matters use mode=batch.)
				lines := strings.SplitAfter(formatRows(brows), "\n")
				sort.Strings(lines)
				return strings.Join(lines, "")
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

var jobID = regexp.MustCompile(`job [0-9a-f]{32}`)

func errText(err error) string {
	if line, col, msg, ok := sql.Position(err); ok {
		return fmt.Sprintf("%d:%d: %s", line, col, msg)
	}
	return jobID.ReplaceAllString(err.Error(), "job <id>")
}

func execAll(ctx context.Context, t *testing.T, s *Session, input string) string {
	stmts, err := sql.ParseScript(input)
	if err != nil {
		return errText(err) + "\n"
	}
	var b strings.Builder
	for _, st := range stmts {
		res, err := s.Execute(ctx, st)
		if err != nil {
			b.WriteString(errText(err) + "\n")
			continue
		}
		switch res.Kind {
		case ResultOK:
			b.WriteString(res.Message + "\n")
		case ResultJob:
			b.WriteString("[INFO] job submitted\n")
		case ResultTable:
			var names []string
			for _, c := range res.Columns {
				names = append(names, c.Name)
			}
			b.WriteString(strings.Join(names, " | ") + "\n")
			for _, r := range res.Rows {
				var vs []string
				for _, v := range r {
					vs = append(vs, v.Str())
				}
				b.WriteString(strings.Join(vs, " | ") + "\n")
			}
			if res.Message != "" {
				b.WriteString(res.Message + "\n")
			}
		case ResultQuery:
			t.Fatalf("use the query command for SELECT")
		}
	}
	return b.String()
}

// queryRows runs a SELECT in the given runtime mode and collects its changelog (and sets colTypes for
// printing).
func queryRows(ctx context.Context, s *Session, text, mode string) ([]changelog.Row, []Column, error) {
	rows, cols, err := collectQuery(ctx, s, text, mode)
	if err != nil {
		return nil, nil, err
	}
	colTypes = nil
	for _, c := range cols {
		colTypes = append(colTypes, c.Type)
	}
	return rows, cols, nil
}

// collectQuery is queryRows without colTypes: tests that run in parallel print with the columns it returns.
func collectQuery(ctx context.Context, s *Session, text, mode string) ([]changelog.Row, []Column, error) {
	st, err := sql.ParseStatement(text)
	if err != nil {
		return nil, nil, err
	}
	defer setModeFor(s, mode)()
	res, err := s.Execute(ctx, st)
	if err != nil {
		return nil, nil, err
	}
	if res.Kind != ResultQuery {
		return nil, nil, fmt.Errorf("not a query")
	}
	var rows []changelog.Row
	for {
		r, ok := res.Query.Next(ctx)
		if !ok {
			break
		}
		rows = append(rows, r)
	}
	select {
	case <-res.Query.done:
	default:
		// Next also stops when ctx ends; the rows so far are a prefix of the changelog, not the result
		// (materialized, it may differ from the batch result).
		res.Query.Close()
		return nil, nil, fmt.Errorf("the query did not end: %w", ctx.Err())
	}
	if err := res.Query.Err(); err != nil {
		return nil, nil, err
	}
	return rows, res.Columns, nil
}

// colTypes are the column types of the last query, for printing.
var colTypes []types.Type

func formatRows(rows []changelog.Row) string {
	var b []byte
	for _, r := range rows {
		b = changelog.AppendRow(b, r, colTypes, time.UTC)
		b = append(b, '\n')
	}
	return string(b)
}

func rowVals(rows []changelog.Row) [][]types.Value {
	var out [][]types.Value
	for _, r := range rows {
		out = append(out, r.Vals)
	}
	return out
}

func sortedLines(rows [][]types.Value) string {
	var lines []string
	for _, r := range rows {
		lines = append(lines, string(changelog.AppendRow(nil, changelog.Row{Vals: r}, colTypes, time.UTC)))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// goldenDirs makes the directories the engine goldens' Nexmark files need: NEXMARK_DIR (q10 writes files
// below it) and a FLINK_HOME whose data/side_input.txt is q13's side input, as the benchmark's setup writes
// it: keys 0..9999, each with its own number as the value.
func goldenDirs(t *testing.T) (nexmarkDir, flinkHome string) {
	nexmarkDir, flinkHome = t.TempDir(), t.TempDir()
	var side strings.Builder
	for k := 0; k < 10000; k++ {
		fmt.Fprintf(&side, "%d,%d\n", k, k)
	}
	if err := os.MkdirAll(filepath.Join(flinkHome, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(flinkHome, "data", "side_input.txt"), []byte(side.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return nexmarkDir, flinkHome
}

// setModeFor sets the session's 'execution.runtime-mode' to mode for one statement of a test; the returned
// function restores what was set before (or unsets it).
func setModeFor(s *Session, mode string) (restore func()) {
	prev, had := s.Option("execution.runtime-mode")
	s.mu.Lock()
	s.opts["execution.runtime-mode"] = mode
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		if had {
			s.opts["execution.runtime-mode"] = prev
		} else {
			delete(s.opts, "execution.runtime-mode")
		}
		s.mu.Unlock()
	}
}
