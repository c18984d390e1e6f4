package client

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestScripts runs the files under testdata/ through Main as `sql-client -f script.sql` would, with the
// session's time zone pinned to UTC. Commands:
//
//	script [args=...]   the input is the script; the output is stdout, then "stderr:" and stderr when not
//	                    empty, then the exit code. Job ids are replaced by <job-id>.
//	shell               the input is fed to the shell on standard input.
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			args := []string{"-D", "table.local-time-zone=UTC"}
			for _, a := range d.CmdArgs {
				if a.Key == "args" {
					args = append(args, a.Vals...)
				}
			}
			var stdin, file string
			switch d.Cmd {
			case "script":
				file = filepath.Join(t.TempDir(), "script.sql")
				if err := os.WriteFile(file, []byte(d.Input), 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, "-f", file)
			case "shell":
				stdin = d.Input
			default:
				t.Fatalf("unknown command %q", d.Cmd)
			}
			var out, errb bytes.Buffer
			code := Main(Config{Args: args, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Signals: make(chan os.Signal)})
			return scrub(out.String(), errb.String(), code, file)
		})
	})
}

var jobIDs = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
var jobIDRE = regexp.MustCompile(`([Jj]ob )[0-9a-f]{32}`)

func scrub(out, errs string, code int, file string) string {
	var b strings.Builder
	for _, s := range []string{out, "stderr:\n" + errs} {
		if s == "stderr:\n" {
			continue
		}
		for _, l := range strings.SplitAfter(s, "\n") {
			if strings.HasPrefix(l, "Job ID: ") {
				l = "Job ID: <job-id>\n"
			}
			l = jobIDRE.ReplaceAllString(l, "${1}<job-id>")
			if file != "" {
				l = strings.ReplaceAll(l, file, "script.sql")
			}
			l = jobIDs.ReplaceAllString(l, "<job-id>")
			b.WriteString(l)
		}
	}
	fmt.Fprintf(&b, "exit %d\n", code)
	return b.String()
}
