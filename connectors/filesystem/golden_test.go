package filesystem_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// TestGolden runs the files under testdata/golden, each in its own session and temporary directory ($DIR in
// the input). Commands:
//
//	sql            run statements; SELECT results are printed sorted (row order across files is not
//	               defined), INSERT jobs are waited for; notices ([WARNING] ...) are printed
//	ls [all]       list the files below $DIR (part file uuids scrubbed); 'all' shows hidden files too
//	cat file=F     print a file below $DIR (the first part file of a directory when F is a directory)
//	write file=F   write the input into a file below $DIR
//	node-read file=F   read a Parquet file below $DIR (the first part file of a directory) with hyparquet
//	                   (testdata/interop/read.mjs) and print its rows as JSON
//	node-write file=F  write the Parquet file of testdata/interop/write.mjs with hyparquet-writer
//	py-avro-read file=F / py-avro-write file=F   the same for Avro container files with Python's avro
//	                   (testdata/interop/avro_read.py, avro_write.py; Debian's python3-avro)
func TestGolden(t *testing.T) {
	datadriven.Walk(t, "testdata/golden", func(t *testing.T, path string) {
		dir := t.TempDir()
		var notice lockedBuf
		s, err := engine.NewSession(engine.Config{Stdout: &notice, Stderr: &notice, Notice: &notice, TempDir: t.TempDir(),
			Options: map[string]string{"table.local-time-zone": "UTC"}})
		if err != nil {
			t.Fatal(err)
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			input := strings.ReplaceAll(d.Input, "$DIR", dir)
			switch d.Cmd {
			case "sql":
				out := runSQL(t, s, input)
				out = strings.ReplaceAll(out+notice.take(), dir, "$DIR")
				return jobRE.ReplaceAllString(out, "job <id>")
			case "ls":
				return listFiles(t, dir, d.HasArg("all"))
			case "cat":
				var f string
				d.ScanArgs(t, "file", &f)
				b, err := os.ReadFile(firstPart(filepath.Join(dir, f)))
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				return string(b)
			case "write":
				var f string
				d.ScanArgs(t, "file", &f)
				p := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(input+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return "ok\n"
			case "node-read", "node-write":
				var f string
				d.ScanArgs(t, "file", &f)
				p := filepath.Join(dir, f)
				if d.Cmd == "node-read" {
					p = firstPart(p)
				} else if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				return strings.ReplaceAll(runNode(t, strings.TrimPrefix(d.Cmd, "node-")+".mjs", p), dir, "$DIR")
			case "py-avro-read", "py-avro-write":
				var f string
				d.ScanArgs(t, "file", &f)
				p := filepath.Join(dir, f)
				if d.Cmd == "py-avro-read" {
					p = firstPart(p)
				} else if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				return strings.ReplaceAll(runPython(t, strings.ReplaceAll(strings.TrimPrefix(d.Cmd, "py-"), "-", "_")+".py", p), dir, "$DIR")
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

// runSQL executes a script and returns what it printed: errors, sorted SELECT rows.
func runSQL(t *testing.T, s *engine.Session, script string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stmts, err := sql.ParseScript(script)
	if err != nil {
		return "parse error: " + err.Error() + "\n"
	}
	var sb strings.Builder
	for _, st := range stmts {
		res, err := s.Execute(ctx, st)
		if err != nil {
			sb.WriteString("error: " + err.Error() + "\n")
			continue
		}
		switch {
		case res.Query != nil:
			sb.WriteString(collect(ctx, res))
		case res.Job != nil:
			if err := res.Job.Wait(ctx); err != nil {
				sb.WriteString("job error: " + err.Error() + "\n")
			}
		case res.Rows != nil:
			for _, r := range res.Rows {
				sb.WriteString(formatRow(r, res.Columns) + "\n")
			}
		}
	}
	return sb.String()
}

func collect(ctx context.Context, res *engine.Result) string {
	var lines []string
	q := res.Query
	for {
		r, ok := q.Next(ctx)
		if !ok {
			break
		}
		lines = append(lines, r.Kind.String()+" "+formatRow(r.Vals, res.Columns))
	}
	out := ""
	if err := q.Err(); err != nil {
		out = "query error: " + err.Error() + "\n"
	}
	_ = q.Close()
	sort.Strings(lines)
	if len(lines) == 0 {
		return out + "(no rows)\n"
	}
	return out + strings.Join(lines, "\n") + "\n"
}

func formatRow(vals []types.Value, cols []engine.Column) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = string(types.AppendPrint(nil, v, cols[i].Type, time.UTC))
	}
	return strings.Join(parts, " | ")
}

var jobRE = regexp.MustCompile(`(?i)job [0-9a-f]{32}`)

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func listFiles(t *testing.T, dir string, all bool) string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if !all && strings.Contains(rel, "/.") || !all && strings.HasPrefix(rel, ".") {
			return nil
		}
		out = append(out, uuidRE.ReplaceAllString(filepath.ToSlash(rel), "<uuid>"))
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, "\n") + "\n"
}

var _ = changelog.Insert
var _ = fmt.Sprint

// firstPart returns p, or the first part file in it when p is a directory.
func firstPart(p string) string {
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "part-") {
				return filepath.Join(p, e.Name())
			}
		}
	}
	return p
}

// runNode runs a script of testdata/interop with node. The test fails (it never skips) when node or the
// packages are missing.
func runNode(t *testing.T, script string, args ...string) string {
	t.Helper()
	dir, _ := filepath.Abs("testdata/interop")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "hyparquet-writer")); err != nil {
		t.Fatalf("the interop packages are not installed: run 'npm ci' in %s (Node 20; .ci/run does it)", dir)
	}
	cmd := exec.Command("node", append([]string{filepath.Join(dir, script)}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, out)
	}
	return string(out)
}

// runPython runs a script of testdata/interop with Debian's python3 and its avro package (installed by
// .ci/run). The test fails (it never skips) when they are missing.
func runPython(t *testing.T, script string, args ...string) string {
	t.Helper()
	dir, _ := filepath.Abs("testdata/interop")
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import avro.datafile").Run(); err != nil {
		t.Fatalf("%s cannot import avro (%v): install Debian's python3-avro (.ci/run does it)", py, err)
	}
	out, err := exec.Command(py, append([]string{filepath.Join(dir, script)}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python %s: %v\n%s", script, err, out)
	}
	return string(out)
}
