package crashtest

import (
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/proctest"
)

// A batch job killed with SIGKILL is run again from scratch (docs/ARCHITECTURE.md, "Batch stages and
// failover"). batchKills kills successive runs of one statement at moments a test aims at in turn, names the
// moment each kill actually came in (the run may have moved on between the aim and the kill), and runs the
// statement once more to its end.

// killAim is one moment of a batch run that kills are aimed at.
type killAim struct {
	name string
	// reached reports that the run started last reached the moment (it may look at what begin, below,
	// noted before the run started).
	reached func() bool
	// the kill comes at a random moment in [0, within) after reached
	within time.Duration
	// reached is polled every poll (0: every 10 ms)
	poll time.Duration
}

// batchKills is a kill loop over runs of one batch statement.
type batchKills struct {
	sql, dir string
	// aim is where kill k is aimed
	aim func(k int) killAim
	// begin is called before each run starts (to note what the aims compare against)
	begin func()
	// where names the moment just before each kill
	where func() string
	// after, when not nil, is called after kill k with its moment
	after func(k int, moment string)
	// finished: a run that ends before its kill finished the job, the kills stop there (an exactly-once
	// sink: a run after it would write the result again); otherwise the moment is aimed at again
	finished bool
	// ended, when not nil, is called for run k that ended before its kill (not finished)
	ended func(k int)
}

// run runs the statement *kills times, killing run k at aim(k). A run that ends before its kill is checked
// for errors; unless it finished the job (finished), its aim is tried again (at most 3 × *kills times in
// all). Then the statement runs to its end. It returns the kills per moment, the runs that ended before
// their kill and the output of the run that ended.
func (b batchKills) run(t *testing.T) (moments map[string]int, early int, out string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(59, uint64(time.Now().UnixNano())))
	moments = map[string]int{}
	for k := 0; k < *kills; k++ {
		a := b.aim(k)
		b.begin()
		c := proctest.Start(t, clientBin, b.dir, b.sql)
		poll := a.poll
		if poll == 0 {
			poll = 10 * time.Millisecond
		}
		deadline := time.Now().Add(60 * time.Second)
		// Seen once is reached: a moment can pass between two looks (the sink's hidden files are renamed
		// into place by the commit), and a job whose client has not exited yet then looks as if it never
		// came there (CI: "did not reach its kill point ... in 60 s" 47 s into the test).
		reached := a.reached()
		for !reached && !c.Exited() && time.Now().Before(deadline) {
			time.Sleep(poll)
			reached = a.reached()
		}
		if !reached && !c.Exited() {
			t.Fatalf("run %d: the batch job did not reach its kill point (%s) in 60 s; where it is: %s; its job directories: %s; its output and goroutines (SIGQUIT):\n%s", k+1, a.name, b.where(), listJobDirs(b.dir), indent(c.Dump()))
		}
		time.Sleep(randomDelay(rng, 0, a.within))
		moment := b.where()
		ended := c.Exited()
		c.Kill()
		if ended {
			if strings.Contains(c.Output(), "[ERROR]") {
				t.Fatalf("run %d failed:\n%s", k+1, indent(c.Output()))
			}
			if b.finished {
				t.Logf("run %d ended before its kill (aimed at %s): the job finished", k+1, a.name)
				return moments, early + 1, c.Output()
			}
			if early++; early > 3**kills {
				t.Fatalf("run %d: the batch job ended before its kill %d times (give it more input)", k+1, early)
			}
			if b.ended != nil {
				b.ended(k)
			}
			k-- // aim at this moment again
			continue
		}
		moments[moment]++
		if b.after != nil {
			b.after(k, moment)
		}
	}
	b.begin()
	c := proctest.Start(t, clientBin, b.dir, b.sql)
	if ended, err := c.Wait(90 * time.Second); !ended || err != nil || strings.Contains(c.Output(), "[ERROR]") {
		t.Fatalf("the last run did not end well (ended %v, %v):\n%s", ended, err, indent(c.Output()))
	}
	return moments, early, c.Output()
}

// jobDirNames lists the batch job directories in tmp.
func jobDirNames(tmp string) map[string]bool {
	names, _ := filepath.Glob(filepath.Join(tmp, "sluice-job-*"))
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// total is the number of kills over every moment.
func total(moments map[string]int) int {
	n := 0
	for _, c := range moments {
		n += c
	}
	return n
}

// sourceWriting reports whether one of the job directories has a file of stage 1 (the source stage writing
// its result).
func sourceWriting(dirs []string) bool {
	for _, d := range dirs {
		if m, _ := filepath.Glob(filepath.Join(d, "stage-1*")); len(m) > 0 {
			return true
		}
	}
	return false
}

// newDirs lists the job directories in tmp that are not in old.
func newDirs(tmp string, old map[string]bool) []string {
	var dirs []string
	for d := range jobDirNames(tmp) {
		if !old[d] {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// listJobDirs lists the files under dir's batch job directories (for a stalled run's failure message).
func listJobDirs(dir string) string {
	var names []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "sluice-job-") {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return nil
	})
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
