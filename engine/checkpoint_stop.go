package engine

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/sluicesql/sluice/state"
)

// STOP JOB ... WITH SAVEPOINT's failures (Flink: a stop-with-savepoint whose savepoint fails leaves the job
// running; one that fails once the job began to drain fails the job over to its last checkpoint).
//
//   - Without drain, the savepoint is written while the cut holds the graph lock (and the gate), and the graph
//     stops only once it is written: a savepoint that cannot be written (a directory that is not writable,
//     a full disk) leaves the job running exactly as if the STOP had not been asked — the rows after the cut
//     were held back, not dropped — and the STOP returns the write's error. Before, the graph was stopped
//     before the write, so a failed write left a job that read nothing more (its sources' pushes were
//     refused) and was never cancelled: it hung as RUNNING, or its sources took the refusal for a cancel.
//   - With drain, the maximum watermark may already have gone through the operators (windows and timers
//     fired, at the barriers or under the lock) when the STOP fails: running on would drop every later row as
//     late. So the job fails with the drain's error (errDrainFailed) at once; with a restart strategy it
//     restarts from its last completed checkpoint, where the STOP can be run again.

// errDrainFailed is the error of a job failed by a failed STOP ... WITH DRAIN.
var errDrainFailed = errors.New("STOP WITH DRAIN failed after the maximum watermark may have passed through the operators (windows and timers fired), so the job fails: later rows would be late")

// drainFailed fails the job when err, the error of a STOP WITH DRAIN's cut, is a failure (not a job that was
// finishing or had failed already); it returns the error the STOP reports.
func (g *graph) drainFailed(err error) error {
	if err == nil || errors.Is(err, errSinkEnded) || errors.Is(err, errJobFailed) {
		return err
	}
	derr := fmt.Errorf("%w (it restarts from its last completed checkpoint if a restart strategy allows; run the STOP again then): %w", errDrainFailed, err)
	g.failure.mark(derr) // no later checkpoint completes
	if g.failJob != nil {
		g.failJob(derr)
	}
	return derr
}

// asyncPart is an operator part of a cut that is written after the part under the graph lock.
type asyncPart struct {
	idx   int
	name  string
	w     *state.FileWriter
	write func(state.Writer) error
}

// cutWrite is what a cut writes once its part under the graph lock is taken.
type cutWrite struct {
	id                 int64
	start              time.Time
	md                 *state.Metadata
	files              map[string]*state.FileWriter
	async              []asyncPart
	backendDir         string
	durable, savepoint bool
	dir                []string
}

// write writes the cut w: the operators that snapshot asynchronously, in parallel, then (durable) the
// checkpoint or savepoint directory. It returns the written path; its errors name the checkpoint.
func (c *checkpointer) write(w cutWrite) (string, error) {
	if len(w.async) > 0 {
		errs := make([]error, len(w.async))
		var wg sync.WaitGroup
		for i, a := range w.async {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if werr := a.write(a.w); werr != nil {
					errs[i] = fmt.Errorf("operator %s: %w", a.name, werr)
				}
			}()
		}
		wg.Wait()
		var err error
		for i, a := range w.async {
			if err == nil {
				err = errs[i]
			}
			w.md.Parts[a.idx].Entries, w.md.Parts[a.idx].Bytes = a.w.Entries(), a.w.Size()
		}
		if err != nil {
			return "", fmt.Errorf("checkpoint %d: %w", w.id, err)
		}
	}
	if !w.durable {
		return "", nil
	}
	parent, name := c.jobDir, "chk-"+strconv.FormatInt(w.id, 10)
	if w.savepoint {
		parent, name = w.dir[0], fmt.Sprintf("savepoint-%s-%s", c.job.id[:6], newJobID()[:12])
	}
	if err := c.g.checkFailed(w.id); err != nil {
		return "", err // the job failed meanwhile: its restart must not see this checkpoint
	}
	if parent == "" {
		return "", nil
	}
	var dirs map[string]string
	if w.backendDir != "" {
		dirs = map[string]string{backendDirName: w.backendDir}
	}
	path, err := state.WriteWithDirs(parent, name, w.md, w.files, dirs)
	if err != nil {
		return "", fmt.Errorf("checkpoint %d: write to '%s': %w", w.id, parent, err)
	}
	if time.Since(w.start) > c.cfg.timeout {
		_ = os.RemoveAll(path)
		return "", fmt.Errorf("checkpoint %d expired before completing (took %s; 'execution.checkpointing.timeout' is %s)", w.id, time.Since(w.start).Round(time.Millisecond), c.cfg.timeout)
	}
	if !w.savepoint {
		_ = state.Prune(parent, c.cfg.numRetained)
	}
	return path, nil
}

// stopFailed is the error of STOP JOB ... WITH SAVEPOINT whose cut failed with err: it says whether the job
// runs on.
func stopFailed(id string, err error) error {
	if errors.Is(err, errDrainFailed) || errors.Is(err, errJobFailed) || errors.Is(err, errSinkEnded) {
		return fmt.Errorf("job '%s': savepoint: %w", id, err)
	}
	return fmt.Errorf("job '%s': savepoint: %w; the job keeps running (run the STOP again once the cause is fixed)", id, err)
}
