//go:build unix

package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// A batch job's directory in 'io.tmp.dirs' (sluice-job-<id>) holds a lock file that the job's process keeps
// locked (flock) while the job runs. A process killed with kill -9 cannot remove its directory, but the
// kernel drops its lock: the next batch job that makes its own directory under the same 'io.tmp.dirs'
// removes every job directory whose lock nobody holds.

const jobDirLockName = ".lock"

// lockJobDir creates and locks dir's lock file; the lock lasts until the returned file is closed. The file
// is created and locked under a temporary name and then renamed into place (the lock stays with the
// file), so a sweep of another process never finds the lock file before it is locked: it found it between
// the create and the flock before, took the lock itself and removed a live job's new directory (a batch job
// of a concurrent session then failed with "rename ... sluice-new-...: no such file or directory").
func lockJobDir(dir string) (*os.File, error) {
	tmp := filepath.Join(dir, jobDirLockName+".new")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, jobDirLockName)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// sweepJobDirs removes the job directories under tmp whose lock no process holds (left by killed
// processes) and returns how many it removed. A directory without a lock file is left alone unless it is
// older than a minute (a job of another process may be between creating its directory and locking it).
func sweepJobDirs(tmp string) int {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return 0
	}
	removed := 0
	for _, e := range entries {
		dir := filepath.Join(tmp, e.Name())
		if e.IsDir() && strings.HasPrefix(e.Name(), jobDirDonePrefix) { // a job's, being removed (or killed then)
			if os.RemoveAll(dir) == nil {
				removed++
			}
			continue
		}
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "sluice-job-") && !strings.HasPrefix(e.Name(), jobDirNewPrefix) {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, jobDirLockName), os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Minute {
				if os.RemoveAll(dir) == nil {
					removed++
				}
			}
			continue
		}
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			// Renamed first (the lock held), so a sweep killed while removing leaves a "sluice-done-" directory
			// the next sweep removes at once, not a "sluice-job-" one without its lock file.
			done := filepath.Join(tmp, jobDirDonePrefix+e.Name())
			if os.Rename(dir, done) == nil {
				dir = done
			}
			if os.RemoveAll(dir) == nil {
				removed++
			}
		}
		f.Close()
	}
	return removed
}
