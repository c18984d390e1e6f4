package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The directory of a batch job under 'io.tmp.dirs' (sluice-job-<id>, jobdir_unix.go): staged jobs keep their
// intermediate results and spill files in it (batch_exchange.go makeDirs). A batch job that is not staged
// (pipelined: 'execution.batch-shuffle-mode' = 'ALL_EXCHANGES_PIPELINED', 'restart-strategy' = 'none', a
// batch savepoint) has one too, made when the job is built: its sink stage's materialized input
// (stage.go, sluice-stage-*.rows), its sorts' and OVER aggregates' spill files and a batch savepoint run's
// state backend live there. It wrote them into 'io.tmp.dirs' itself before, where a process killed with
// kill -9 left the sink stage's file for good (nothing swept it); now the kill leaves a directory whose
// lock nobody holds, and the next batch job under the same 'io.tmp.dirs' (staged or not) removes it
// (crashtest TestBatchPipelinedKill).

// makeJobDir makes the directory of job id under d: created as sluice-new-<id>, its lock file locked, then
// renamed to sluice-job-<id>, so a "sluice-job-" directory always has its lock file (a process killed in
// between leaves a "sluice-new-" one, swept as an unlocked one).
func makeJobDir(d, id string) (string, *os.File, error) {
	jd, nd := filepath.Join(d, "sluice-job-"+id), filepath.Join(d, jobDirNewPrefix+id)
	if err := os.MkdirAll(nd, 0o700); err != nil {
		return "", nil, fmt.Errorf("creating the directory of the job's intermediate results ('io.tmp.dirs'): %w", err)
	}
	lock, err := lockJobDir(nd)
	if err == nil {
		if err = os.Rename(nd, jd); err != nil && lock != nil {
			lock.Close()
		}
	}
	if err != nil {
		_ = os.RemoveAll(nd)
		return "", nil, fmt.Errorf("locking the directory of the job's intermediate results %s ('io.tmp.dirs'): %w", jd, err)
	}
	return jd, lock, nil
}

// removeJobDir removes job directory d and then releases its lock. It is renamed first (the lock still
// held), so a process killed while removing leaves a directory that the next sweep removes at once instead
// of an unlocked "sluice-job-" one it must leave for a minute.
func removeJobDir(d string, lock *os.File) {
	done := filepath.Join(filepath.Dir(d), jobDirDonePrefix+strings.TrimPrefix(filepath.Base(d), "sluice-job-"))
	if os.Rename(d, done) == nil {
		d = done
	}
	_ = os.RemoveAll(d)
	if lock != nil {
		lock.Close()
	}
}

// pipelinedJobDir is the directory of a batch job that is not staged.
type pipelinedJobDir struct {
	dir     string
	lock    *os.File
	lookups []*taskLookup // the graph's lookup handles, closed with the directory (batch_lookup.go)
}

// makePipelinedJobDir gives a batch graph that is not cut into stages a job directory in the first of
// 'io.tmp.dirs' and makes it the graph's temporary directory (g.tempDir: the sink stage's file, spills),
// after sweeping the directories of killed processes' jobs from every one of 'io.tmp.dirs'. A streaming
// graph keeps 'io.tmp.dirs' itself.
func (g *graph) makePipelinedJobDir(j *Job) error {
	if !g.batch || g.pipeDir != nil {
		return nil
	}
	for _, d := range g.tmpDirs {
		sweepJobDirs(d)
	}
	base := g.tempDir
	if len(g.tmpDirs) > 0 {
		base = g.tmpDirs[0]
	}
	jd, lock, err := makeJobDir(base, j.id)
	if err != nil {
		return err
	}
	g.pipeDir = &pipelinedJobDir{dir: jd, lock: lock}
	g.tempDir = jd
	return nil
}

// removePipelinedJobDir closes the lookup handles of a pipelined batch graph (those the lookup joins did not
// close at their End: the job failed or was cancelled) and removes its job directory (once the job ended,
// or when it was abandoned at submit); a no-op for other graphs and when done already.
func (g *graph) removePipelinedJobDir() {
	if g.pipeDir == nil {
		return
	}
	for _, l := range g.pipeDir.lookups {
		_ = l.Close()
	}
	removeJobDir(g.pipeDir.dir, g.pipeDir.lock)
	g.pipeDir = nil
}
