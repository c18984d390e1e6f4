//go:build unix

package engine

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// A batch job sweeps the job directories that killed processes left in 'io.tmp.dirs' (their lock is free),
// and leaves those of running jobs (locked) and fresh unlocked ones (a job between mkdir and lock) alone.
func TestBatchJobSweepsDeadJobDirs(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, lock bool) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "stage-1.arrow.inprogress"), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if lock {
			if err := os.WriteFile(filepath.Join(d, jobDirLockName), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	mk("sluice-job-dead", true) // its process was killed: the lock file exists, nobody holds it
	live := mk("sluice-job-live", false)
	f, err := lockJobDir(live) // a running job (in this process: flock locks are per open file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mk("sluice-job-fresh", false) // no lock file yet, just made
	old := mk("sluice-job-old", false)
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	mk("other-dir", true) // not a job directory

	if _, _, _, err := stagedRun(t, aggScript, map[string]string{"io.tmp.dirs": dir}); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"other-dir", "sluice-job-fresh", "sluice-job-live"}; !slices.Equal(names, want) {
		t.Fatalf("io.tmp.dirs after a batch job: %v, want %v", names, want)
	}
}

// Concurrent sessions: a sweep that runs while another job makes its directory never removes it (it did when
// it found the lock file between its creation and its flock).
func TestJobDirSweepDuringLock(t *testing.T) {
	dir := t.TempDir()
	stop := make(chan struct{})
	swept := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				swept <- n
				return
			default:
				n += sweepJobDirs(dir)
			}
		}
	}()
	for i := 0; i < 3000; i++ {
		nd := filepath.Join(dir, jobDirNewPrefix+strconv.Itoa(i))
		if err := os.MkdirAll(nd, 0o700); err != nil {
			t.Fatal(err)
		}
		f, err := lockJobDir(nd)
		if err == nil {
			err = os.Rename(nd, filepath.Join(dir, "sluice-job-"+strconv.Itoa(i)))
		}
		if err != nil {
			close(stop)
			<-swept
			t.Fatalf("job directory %d: %v", i, err)
		}
		f.Close() // the job ended without removing its directory: the next sweep removes it
	}
	close(stop)
	t.Logf("%d directories swept", <-swept)
}
