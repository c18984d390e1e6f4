package engine

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/sql"
)

// TestJobsGolden runs testdata/jobs: SHOW JOBS and DESCRIBE JOB with their volatile parts masked (job ids,
// start times, rates); row counts of bounded jobs are exact. Commands:
//
//	exec             run statements, print results (SHOW JOBS rows masked)
//	run              run statements, then wait for every job (a job error is printed)
//	describe-job n=N DESCRIBE JOB the N-th job of the session (1-based)
func TestJobsGolden(t *testing.T) {
	datadriven.Walk(t, "testdata/jobs", func(t *testing.T, path string) {
		var out bytes.Buffer
		s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.CancelJobs()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			switch d.Cmd {
			case "exec":
				return maskJobs(execAll(ctx, t, s, d.Input))
			case "run":
				res := execAll(ctx, t, s, d.Input)
				if err := s.WaitJobs(ctx); err != nil {
					res += "job error: " + errText(err) + "\n"
				}
				return maskJobs(res)
			case "describe-job":
				var n int
				d.ScanArgs(t, "n", &n)
				jobs := s.Jobs()
				if n < 1 || n > len(jobs) {
					t.Fatalf("no job %d (%d jobs)", n, len(jobs))
				}
				return maskJobs(execAll(ctx, t, s, fmt.Sprintf("DESCRIBE JOB '%s';", jobs[n-1].ID())))
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

var (
	maskID    = regexp.MustCompile(`[0-9a-f]{32}`)
	maskStart = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`)
	maskRate  = regexp.MustCompile(`in/s=[0-9.]+`)
	// the records/s column of a SHOW JOBS row: after rows in and rows out
	maskRateCol = regexp.MustCompile(`(\| \d+ \| \d+ \| )[0-9.]+( \|)`)
)

func maskJobs(s string) string {
	s = maskID.ReplaceAllString(s, "<job-id>")
	s = maskStart.ReplaceAllString(s, "<start>")
	s = maskRate.ReplaceAllString(s, "in/s=<rate>")
	return maskRateCol.ReplaceAllString(s, "${1}<rate>${2}")
}

// Rows in and out of a bounded job are exact, per job and per operator, in both runtime modes.
func TestJobMetricsExact(t *testing.T) {
	for _, mode := range []string{ModeStreaming, ModeBatch} {
		t.Run(mode, func(t *testing.T) {
			s, err := NewSession(Config{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, TempDir: t.TempDir(), Options: map[string]string{"execution.runtime-mode": mode}})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, q := range []string{
				`CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '100', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '100')`,
				`CREATE TABLE hole (id BIGINT) WITH ('connector' = 'blackhole')`,
				`INSERT INTO hole SELECT id FROM src WHERE id % 4 = 0`,
			} {
				st, err := sql.ParseStatement(q)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.Execute(ctx, st); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.WaitJobs(ctx); err != nil {
				t.Fatal(err)
			}
			m := s.Jobs()[0].Metrics()
			if m.RowsIn != 100 || m.RowsOut != 25 {
				t.Fatalf("rows in/out = %d/%d, want 100/25", m.RowsIn, m.RowsOut)
			}
			var got []string
			for _, o := range m.Operators {
				got = append(got, fmt.Sprintf("%s %d/%d %v", o.Name, o.RecordsIn, o.RecordsOut, o.Inputs))
			}
			want := "TableSourceScan[1] 100/100 [] Calc[2] 100/25 [1] Sink[3] 25/25 [2]"
			if strings.Join(got, " ") != want {
				t.Fatalf("operators:\n got %s\nwant %s", strings.Join(got, " "), want)
			}
		})
	}
}

// A job submitted from a named script names its statement as file:line:col in DESCRIBE JOB and Origin.
func TestDescribeFailedJobFromScript(t *testing.T) {
	s, err := NewSession(Config{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Notice: &bytes.Buffer{}, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithScript(context.Background(), "jobs.sql")
	stmts, err := sql.ParseScript("CREATE TABLE hole (n INT) WITH ('connector' = 'blackhole');\n  INSERT INTO hole\n  SELECT CAST(9999999999 AS INT);")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if _, err := s.Execute(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	j := s.Jobs()[0]
	if err := j.Wait(ctx); err == nil {
		t.Fatal("the job did not fail")
	}
	if j.Origin() != "jobs.sql:2:3" {
		t.Fatalf("origin %q", j.Origin())
	}
	st, _ := sql.ParseStatement("DESCRIBE JOB '" + j.ID() + "'")
	res, err := s.Execute(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	want := "Root cause: value 9999999999 is out of range for INT\n  in the job of the statement at jobs.sql:2:3\n"
	if !strings.Contains(res.Message, want) || res.Rows[0][2].Str() != "FAILED" {
		t.Fatalf("DESCRIBE JOB of a failed job:\n%s\nrow %v", res.Message, res.Rows)
	}
}

// numRestarts counts the restarts of a streaming job: one that fails on every run with 'fixed-delay' and 2
// attempts fails for good after exactly 2 restarts.
func TestJobMetricsRestarts(t *testing.T) {
	var notice bytes.Buffer
	s, err := NewSession(Config{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Notice: &notice, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stmts, err := sql.ParseScript(`
SET 'restart-strategy' = 'fixed-delay';
SET 'restart-strategy.fixed-delay.attempts' = '2';
SET 'restart-strategy.fixed-delay.delay' = '10 ms';
SET 'execution.checkpointing.interval' = '50 ms';
CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '1000');
CREATE TABLE hole (n INT) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT CAST(id * 1000000000 AS INT) FROM src;`)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if _, err := s.Execute(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	j := s.Jobs()[0]
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := j.Wait(wctx); err == nil || j.Status() != JobFailed {
		t.Fatalf("job ended with %v (%s), want a failure", err, j.Status())
	}
	if m := j.Metrics(); m.Restarts != 2 || strings.Count(notice.String(), "Restarting it") != 2 {
		t.Fatalf("numRestarts %d after %d announced restarts, want 2:\n%s", m.Restarts, strings.Count(notice.String(), "Restarting it"), notice.String())
	}
}
