package engine

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/exec"
)

// openRunFiles counts the sort run files under dir that this process holds open (their names are removed
// as they are created: /proc/self/fd still shows them).
func openRunFiles(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd to count open files: %v", err)
	}
	n := 0
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(l, dir+string(filepath.Separator)) && strings.Contains(filepath.Base(l), "sluice-sort-") {
			n++
		}
	}
	return n
}

// A failed attempt's spilled sort runs are closed when it fails, not when the garbage collector gets to its
// dropped operators: the aggregate stage's one task fails once in the middle of its input with its sort
// holding runs (under a small 'table.exec.resource.sort.memory'), and when its rerun starts reading, the
// run files open in the job's directory are only those the rerun wrote itself (counted per attempt:
// exec.SortRunsSpilled). Before, the failed attempt's runs (every one it had spilled) were still open there
// until the garbage collector finalized its dropped sort.
func TestBatchFailedAttemptSpillsReleased(t *testing.T) {
	want, _, _, err := stagedRun(t, aggScript, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	// The garbage collector off during the run: the failed attempt's files must be closed by the engine, not
	// by finalizers (which closed them in some runs before, in others not).
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	tmp := t.TempDir()
	var spilled1, atFault, open2, spilled2 int64 = 0, 0, -1, 0
	runs0 := exec.SortRunsSpilled()
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if !strings.Contains(st.name, "SortAggregate") {
			return nil
		}
		switch {
		case attempt == 1 && !end && rows > 8000:
			atFault = exec.SortRunsSpilled()
			spilled1 = atFault - runs0
			return errInjected // in the middle of its input, its sort holding runs
		case attempt == 2 && open2 < 0:
			spilled2 = exec.SortRunsSpilled() - atFault
			open2 = int64(openRunFiles(t, tmp))
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, aggScript, map[string]string{"parallelism.default": "1", "io.tmp.dirs": tmp,
		"table.exec.resource.sort.memory": "32 kb"})
	if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("job: %v (rows equal to a run without the fault: %v)\n%s", err, strings.Join(got, "\n") == strings.Join(want, "\n"), notice)
	}
	t.Logf("attempt 1 spilled %d runs before its fault; attempt 2 had spilled %d when it read its first batch, with %d run files open in the job directory\n%s",
		spilled1, spilled2, open2, attemptsOf(job))
	if spilled1 < 2 || open2 < 0 {
		t.Fatalf("the first attempt spilled %d runs (the test needs some), the rerun was seen: %v", spilled1, open2 >= 0)
	}
	if open2 > spilled2 {
		t.Fatalf("when the rerun read its first batch, %d sort run files were open in the job directory, more than the %d it had written: the failed attempt's %d runs were not closed",
			open2, spilled2, spilled1)
	}
}
