//go:build unix

package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A batch job that is not staged (pipelined shuffle mode, 'restart-strategy' = 'none'; an INSERT and a
// SELECT) sweeps the directory a killed process's job left in 'io.tmp.dirs' (its lock file free, its sink
// stage's file in it) and leaves nothing there itself: its sink stage's file and spills are in a job
// directory of its own, removed when it ends. (Pipelined jobs swept nothing before, and wrote the sink
// stage's file into 'io.tmp.dirs' itself: crashtest TestBatchPipelinedKill kills one.) The sort's small
// memory makes the aggregate spill into the job directory.
func TestBatchPipelinedJobDir(t *testing.T) {
	query := strings.Replace(aggScript, "INSERT INTO out_t SELECT", "SELECT", 1)
	run := func(t *testing.T, script string, opts map[string]string) ([]string, string, *Job, error) {
		if strings.Contains(script, "INSERT") {
			return stagedRun(t, script, opts)
		}
		rows, notice, job, err := queryRun(t, script, opts)
		return sorted(rows), notice, job, err
	}
	for _, tc := range []struct {
		name, script string
		opts         map[string]string
	}{
		{"pipelined insert", aggScript, map[string]string{"execution.batch-shuffle-mode": "ALL_EXCHANGES_PIPELINED"}},
		{"pipelined select", query, map[string]string{"execution.batch-shuffle-mode": "ALL_EXCHANGES_PIPELINED"}},
		{"no restarts insert", aggScript, map[string]string{"restart-strategy": "none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, _, _, err := run(t, tc.script, map[string]string{"parallelism.default": "1"}) // staged
			if err != nil || len(want) != 300 {
				t.Fatalf("the staged run: %v, %d lines", err, len(want))
			}
			tmp := t.TempDir()
			dead := filepath.Join(tmp, "sluice-job-dead")
			if err := os.MkdirAll(dead, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{jobDirLockName, "sluice-stage-1.rows"} {
				if err := os.WriteFile(filepath.Join(dead, f), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			opts := map[string]string{"io.tmp.dirs": tmp, "table.exec.resource.sort.memory": "32 kb", "parallelism.default": "1"}
			for k, v := range tc.opts {
				opts[k] = v
			}
			got, notice, job, err := run(t, tc.script, opts)
			if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("job: %v (rows equal to the staged run's: %v)\n%s", err, strings.Join(got, "\n") == strings.Join(want, "\n"), notice)
			}
			if job != nil && job.StageAttempts() != nil {
				t.Fatalf("the job ran in stages: the test tests nothing")
			}
			if left := tmpFiles(t, tmp, ""); len(left) > 0 {
				t.Fatalf("'io.tmp.dirs' holds %v after the job ended (the dead job's directory must be swept, the job's own removed)", left)
			}
		})
	}
}
