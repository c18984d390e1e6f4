package filesystem_test

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

// writeRounds writes rounds of three files into a monitored directory while a job runs: in round r, c (minutes
// 10r..10r+2), then b (10r+3..), then a (10r+6..), each renamed in, so a listing that sees a file sees the
// files behind it of its round. The first file in name order (a) leads the others by minutes, more than the
// WATERMARK's 5 s: a subtask that reads it must not let the watermark pass the rows of b and c. A file far ahead
// closes every window at the end. It returns the expected counts per window.
func writeRounds(t *testing.T, dir string, rounds int, pause time.Duration) map[string]int {
	t.Helper()
	rng := rand.New(rand.NewSource(11))
	want := map[string]int{}
	for r := range rounds {
		for _, f := range []struct {
			name string
			off  int
		}{{"c", 0}, {"b", 3}, {"a", 6}} {
			wmFile{name: fmt.Sprintf("r%03d-%s.csv", r, f.name), base: 10*r + f.off, n: 60}.write(t, dir, rng, want)
		}
		time.Sleep(pause)
	}
	wmFile{name: "zzz.csv", base: 10*rounds + 100, n: 1}.write(t, dir, rng, nil)
	return want
}

// TestMonitoredRoundsAtParallelism: files that appear while the job runs, each round's lead file first in name
// order, read at parallelism 1, 2 and 3 from a monitored directory into TUMBLE counts: every window has every
// row at every parallelism (one enumerator hands out the files, and the watermark passes a listing's files
// only after they have been read; with the subtasks listing on their own and files owned by a hash, rows of
// the lagging files were dropped as late at parallelism 2 and 3).
func TestMonitoredRoundsAtParallelism(t *testing.T) {
	for _, par := range []int{1, 2, 3} {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		var out lockedBuf
		job := startWindowJob(ctx, t, &out, dir, par, ", 'source.monitor-interval' = '20 ms'", "")
		want := writeRounds(t, dir, 30, 45*time.Millisecond)
		for formatWindows(windows(t, out.String())) != formatWindows(want) {
			if ctx.Err() != nil {
				t.Fatalf("parallelism %d:\n got  %s\n want %s", par, formatWindows(windows(t, out.String())), formatWindows(want))
			}
			time.Sleep(20 * time.Millisecond)
		}
		job.Cancel()
		cancel()
	}
}

// TestFileIdleTimeout: the idle timeout as it applies to file subtasks. a.csv (100,000 rows from minute 60 on,
// read in many batches; 20,000 were read within the 1 ms timeout at parallelism 2 once CSV decoded into
// columns) leads b.csv (minutes 0-5), the round's closing file, which is read after it. Without
// an idle timeout a.csv's hold keeps the watermark behind b.csv's rows, at every parallelism: every window
// has every row. With a timeout shorter than a.csv takes to read ('scan.watermark.idle-timeout', or the
// session's 'table.exec.source.idle-timeout' when the table sets none) the hold goes idle, the watermark
// follows a.csv, and b.csv's rows are late: its windows are missing. A table's '0 ms' disables idleness
// whatever the session sets.
func TestFileIdleTimeout(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(5))
	want, lead := map[string]int{}, map[string]int{}
	wmFile{name: "a.csv", base: 60, n: 100000, step: 2 * time.Millisecond}.write(t, dir, rng, lead)
	wmFile{name: "b.csv", base: 0, n: 150}.write(t, dir, rng, want)
	for k, n := range lead {
		want[k] += n
	}
	cases := []struct {
		name, session, table string
		lose                 bool
	}{
		{"none", "", "", false},
		{"table", "", ", 'scan.watermark.idle-timeout' = '1 ms'", true},
		{"session", "1 ms", "", true},
		{"table disables", "1 ms", ", 'scan.watermark.idle-timeout' = '0 ms'", false},
	}
	for _, tc := range cases {
		for _, par := range []int{1, 2} {
			got := runWindowsWith(t, dir, par, tc.session, tc.table)
			switch {
			case !tc.lose && formatWindows(got) != formatWindows(want):
				t.Fatalf("%s, parallelism %d:\n got  %s\n want %s", tc.name, par, formatWindows(got), formatWindows(want))
			case tc.lose:
				// a.csv's windows are all there, b.csv's (minutes 0-5, an hour behind) none.
				for k, n := range lead {
					if got[k] != n {
						t.Fatalf("%s, parallelism %d: window %s has %d rows, want %d (a.csv's)", tc.name, par, k, got[k], n)
					}
				}
				if len(got) != len(lead) {
					t.Fatalf("%s, parallelism %d: %d windows, want a.csv's %d alone (b.csv's rows late):\n got %s", tc.name, par, len(got), len(lead), formatWindows(got))
				}
			}
		}
	}
}

// runWindowsWith is runWindows with the session's 'table.exec.source.idle-timeout' (when not "") and more
// table options.
func runWindowsWith(t *testing.T, dir string, par int, sessionIdle, extra string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out lockedBuf
	opts := map[string]string{"table.local-time-zone": "UTC"}
	if sessionIdle != "" {
		opts["table.exec.source.idle-timeout"] = sessionIdle
	}
	s, err := engine.NewSession(engine.Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(), Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	script := strings.NewReplacer("PAR", fmt.Sprint(par), "DIR", dir, "EXTRA", extra).Replace(wmScript)
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	var job *engine.Job
	for _, st := range stmts {
		res, err := s.Execute(ctx, st)
		if err != nil {
			t.Fatalf("%v\nscript:\n%s", err, script)
		}
		if res.Job != nil {
			job = res.Job
		}
	}
	if err := job.Wait(ctx); err != nil {
		t.Fatalf("parallelism %d: %v\n%s", par, err, out.String())
	}
	return windows(t, out.String())
}
