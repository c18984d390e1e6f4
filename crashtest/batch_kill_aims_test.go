package crashtest

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/proctest"
)

// A batch job killed with SIGKILL is run again from scratch (docs/ARCHITECTURE.md, "Batch stages and
// failover"). killAims kills successive runs of one statement at moments a test aims at in turn, names the
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
}

// batchKills runs the script sql under dir *kills times, killing run k at aims[k%len(aims)]: begin is called
// before each run starts (to note counters the aims compare against), where names the moment just before
// each kill, and after (when not nil) is called after each kill with its moment. A run that ends before its
// kill is checked for errors and its aim tried again (at most 3 × *kills times in all). Then the statement
// runs to its end; its output is returned with the kills per moment.
func batchKills(t *testing.T, sql, dir string, aims []killAim, begin func(), where func() string, after func(k int, moment string)) (moments map[string]int, early int, out string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(59, uint64(time.Now().UnixNano())))
	moments = map[string]int{}
	for k := 0; k < *kills; k++ {
		a := aims[k%len(aims)]
		begin()
		c := proctest.Start(t, clientBin, dir, sql)
		if !waitFor(60*time.Second, func() bool { return a.reached() || c.Exited() }) {
			t.Fatalf("run %d: the batch job did not reach its kill point (%s) in 60 s:\n%s", k+1, a.name, indent(c.Output()))
		}
		time.Sleep(randomDelay(rng, 0, a.within))
		moment := where()
		ended := c.Exited()
		c.Kill()
		if ended {
			if strings.Contains(c.Output(), "[ERROR]") {
				t.Fatalf("run %d failed:\n%s", k+1, indent(c.Output()))
			}
			if early++; early > 3**kills {
				t.Fatalf("run %d: the batch job ended before its kill %d times (give it more input)", k+1, early)
			}
			k-- // aim at this moment again
			continue
		}
		moments[moment]++
		if after != nil {
			after(k, moment)
		}
	}
	c := proctest.Start(t, clientBin, dir, sql)
	if ended, err := c.Wait(90 * time.Second); !ended || err != nil || strings.Contains(c.Output(), "[ERROR]") {
		t.Fatalf("the last run did not end well (ended %v, %v):\n%s", ended, err, indent(c.Output()))
	}
	return moments, early, c.Output()
}

// newJobDir returns a function that reports whether a batch job made a directory in tmp that was not there
// when newJobDir was called (a killed run's directory stays until the next run sweeps it).
func newJobDir(tmp string) func() bool {
	old := jobDirNames(tmp)
	return func() bool {
		for n := range jobDirNames(tmp) {
			if !old[n] {
				return true
			}
		}
		return false
	}
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
