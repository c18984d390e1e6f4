//go:build unix

package filesystem

import (
	"errors"
	"os"
	"syscall"
)

// A batch run's record in the staging area holds a lock file that the run's process keeps locked (flock)
// while the run's output is open. A process killed with kill -9 cannot remove its record, but the kernel
// drops its lock: the next sink writing into the path takes the record over.

// createRunLock creates and locks the lock file at p; the lock lasts until the returned file is closed.
func createRunLock(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// tryRunLock locks the lock file at p of another run: ok is false when a live process holds it. The file
// must exist.
func tryRunLock(p string) (f *os.File, ok bool, err error) {
	f, err = os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return f, true, nil
}
