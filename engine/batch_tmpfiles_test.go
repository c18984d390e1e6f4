package engine

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/exec"
)

// tmpFiles lists the files under dir (any depth) whose names start with one of prefixes.
func tmpFiles(t *testing.T, dir string, prefixes ...string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		for _, pre := range prefixes {
			if strings.HasPrefix(d.Name(), pre) {
				rel, _ := filepath.Rel(dir, p)
				out = append(out, rel)
			}
		}
		return nil
	})
	return out
}

// The sort run files of a staged batch job (a SortAggregate's input sort spilling under a small
// 'table.exec.resource.sort.memory') live in the job's directory under 'io.tmp.dirs', not beside it: an
// attempt that fails in the middle of its input (its sort never ends, so it never removes its runs) and a job
// that fails for good leave nothing in 'io.tmp.dirs' once the job ended; a process killed with kill -9
// leaves them in a directory that the next staged job sweeps (crashtest TestBatchStagesKafkaExactlyOnceKill).
// The hook checks that the sort had spilled when the fault came (exec.SortRunsSpilled: the run files are
// unlinked as they are written, exec/sort.go, so their names are not there to count).
func TestBatchSpillFilesInJobDir(t *testing.T) {
	want, _, _, err := stagedRun(t, aggScript, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		forGood bool // every attempt of the task fails: the job fails
	}{{"failed attempt", false}, {"failed job", true}} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			var spilled int64
			runs0 := exec.SortRunsSpilled()
			withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
				if strings.Contains(st.name, "SortAggregate") && task == 1 && (attempt == 1 || tc.forGood) && !end && rows > 4000 {
					spilled = exec.SortRunsSpilled() - runs0
					return errInjected // in the middle of its input, its sort holding runs
				}
				return nil
			})
			got, notice, _, err := stagedRun(t, aggScript, map[string]string{"parallelism.default": "2", "io.tmp.dirs": tmp,
				"table.exec.resource.sort.memory": "32 kb"})
			if spilled == 0 {
				t.Fatalf("the sort had not spilled when the fault came: the test tests nothing\n%s", notice)
			}
			if tc.forGood {
				if !errors.Is(err, errInjected) {
					t.Fatalf("want the job to fail with the injected fault, got %v\n%s", err, notice)
				}
			} else if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("job: %v (rows equal to P = 1's: %v)\n%s", err, strings.Join(got, "\n") == strings.Join(want, "\n"), notice)
			}
			if left := tmpFiles(t, tmp, ""); len(left) > 0 {
				t.Fatalf("'io.tmp.dirs' holds %d files after the job ended (%d spilled runs at the fault), e.g. %v", len(left), spilled, left[:min(3, len(left))])
			}
		})
	}
}
