package engine

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

// buildWasm builds the Go package in pkgDir as a WASM function module (a wasip1 reactor) with the local Go
// toolchain into the test's temporary directory: the example count_char or the test module of package
// wasmudf.
func buildWasm(t testing.TB, pkgDir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkgDir)+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkgDir, err, b)
	}
	return out
}

// TestWasmFunctionGolden runs testdata/wasm/ like TestGolden (commands exec, run, query [mode=...]), with
// $COUNT_CHAR and $TESTMOD standing for the paths of the built modules (in input and output).
func TestWasmFunctionGolden(t *testing.T) {
	vars := []string{
		"$COUNT_CHAR", buildWasm(t, "../examples/wasm/count_char"),
		"$TESTMOD", buildWasm(t, "../udf/wasmudf/testdata/testmod"),
	}
	expand := strings.NewReplacer(vars...)
	var back []string
	for i := 0; i < len(vars); i += 2 {
		back = append(back, vars[i+1], vars[i])
	}
	unexpand := strings.NewReplacer(back...)
	datadriven.Walk(t, "testdata/wasm", func(t *testing.T, path string) {
		var out bytes.Buffer
		s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
		if err != nil {
			t.Fatal(err)
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			input := expand.Replace(d.Input)
			switch d.Cmd {
			case "exec":
				return unexpand.Replace(execAll(ctx, t, s, input))
			case "run":
				out.Reset()
				res := execAll(ctx, t, s, input)
				if err := s.WaitJobs(ctx); err != nil {
					return unexpand.Replace(res + "job error: " + errText(err) + "\n")
				}
				return unexpand.Replace(out.String())
			case "query":
				modes := []string{ModeStreaming, ModeBatch}
				if d.HasArg("mode") {
					var m string
					d.ScanArgs(t, "mode", &m)
					modes = []string{m}
				}
				var results []string
				for _, mode := range modes {
					rows, _, err := queryRows(ctx, s, input, mode)
					if err != nil {
						results = append(results, unexpand.Replace(errText(err)))
						continue
					}
					if mode == ModeStreaming {
						m := changelog.NewMaterializer(nil)
						for _, r := range rows {
							if err := m.Apply(r); err != nil {
								t.Fatal(err)
							}
						}
						results = append(results, sortedLines(m.Rows()))
					} else {
						results = append(results, sortedLines(rowVals(rows)))
					}
				}
				if len(results) == 2 && results[0] != results[1] {
					t.Fatalf("streaming and batch results differ\nstreaming:\n%s\nbatch:\n%s", results[0], results[1])
				}
				return results[len(results)-1] + "\n"
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

// WASM functions show in SHOW FUNCTIONS next to the built-in ones; Go functions cannot be dropped from SQL.
func TestWasmFunctionShowAndGoDrop(t *testing.T) {
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	u, err := expr.NewUDF("double_it", func(x int64) int64 { return 2 * x })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterFunction(u); err != nil {
		t.Fatal(err)
	}
	countChar := buildWasm(t, "../examples/wasm/count_char")
	exec := func(stmt string) (*Result, error) {
		st, err := sql.ParseStatement(strings.ReplaceAll(stmt, "$COUNT_CHAR", countChar))
		if err != nil {
			t.Fatal(err)
		}
		return s.Execute(context.Background(), st)
	}
	if _, err := exec("CREATE TEMPORARY FUNCTION count_char AS 'count_char' LANGUAGE WASM USING JAR '$COUNT_CHAR'"); err != nil {
		t.Fatal(err)
	}
	res, err := exec("SHOW FUNCTIONS")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range res.Rows {
		names = append(names, r[0].Str())
	}
	for _, want := range []string{"COUNT_CHAR", "DOUBLE_IT", "UPPER", "SUM"} {
		if !slices.Contains(names, want) {
			t.Errorf("SHOW FUNCTIONS lacks %s", want)
		}
	}
	_, err = exec("DROP TEMPORARY SYSTEM FUNCTION double_it")
	if err == nil || !strings.Contains(err.Error(), "function DOUBLE_IT is registered through the Go API (Session.RegisterFunction) and cannot be dropped from SQL") {
		t.Errorf("dropping a Go function: %v", err)
	}
	if _, err := exec("CREATE FUNCTION double_it AS 'count_char' LANGUAGE WASM USING JAR '$COUNT_CHAR'"); err == nil {
		t.Error("CREATE FUNCTION over a Go function succeeded")
	}
	// A Go registration replaces a WASM function of the same name, which then is a Go function.
	if err := s.RegisterFunction(mustUDF(t, "count_char", func(s, c string) int32 { return 0 })); err != nil {
		t.Fatal(err)
	}
	if _, err := exec("DROP TEMPORARY FUNCTION count_char"); err == nil || !strings.Contains(err.Error(), "registered through the Go API") {
		t.Errorf("dropping a Go function that replaced a WASM one: %v", err)
	}
}

func mustUDF(t *testing.T, name string, fn any) *expr.UDF {
	t.Helper()
	u, err := expr.NewUDF(name, fn)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
