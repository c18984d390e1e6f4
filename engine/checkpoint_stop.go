package engine

import (
	"context"
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
//   - The write holds the graph lock and the gate (the sources stay at the cut), but a cancel or a failure of
//     the job meanwhile no longer waits for it: the write runs in its own goroutine, and when the job's run
//     ends first the graph stops at the cut and lets go of the lock (the sources' pushes are refused, the job
//     ends CANCELLED or FAILED at once); the STOP then fails with errStopCancelled once what the write left
//     is removed (a savepoint whose sinks were never committed is not one to restore). Before, a cancel (or
//     a failed part) waited for the whole write, its sources blocked on the lock.

//   - The STOP's caller giving up (its context done: the client's statement cancelled or timed out) while the
//     savepoint is written ends the STOP at once as a failed one: the job keeps running as if the STOP had not
//     been asked (Flink: a stop-with-savepoint that fails leaves the job running), the write goes on in the
//     background and what it leaves is removed when it is done (errStopAbandoned). Before, the STOP waited
//     for the whole write whatever its caller did. With drain, the job fails over as for any failed drain.

// errStopAbandoned is the error of a STOP ... WITH SAVEPOINT whose caller gave up while its savepoint was
// written.
var errStopAbandoned = errors.New("the STOP was given up by its caller while its savepoint was written, so the savepoint is discarded")

// errStopCancelled is the error of a STOP ... WITH SAVEPOINT whose job ended (cancelled, or failed) while
// its savepoint was written.
var errStopCancelled = errors.New("the job was cancelled or failed while its savepoint was written, so the savepoint is discarded (SHOW JOBS shows how the job ended)")

// stopWriteHook, when set, runs before a STOP's savepoint is written (a test hook: a slow write).
var stopWriteHook func()

// stopDiscardedHook, when set, runs once what an abandoned STOP's savepoint write left is removed (a test
// hook: the write goes on after the STOP returned).
var stopDiscardedHook func()

// stopCancelled is errStopCancelled with the end of the discarded write's cleanup.
type stopCancelled struct{ discarded <-chan struct{} }

func (e *stopCancelled) Error() string        { return errStopCancelled.Error() }
func (e *stopCancelled) Is(target error) bool { return target == errStopCancelled }

// stopWrite writes the STOP's cut w (the caller holds the graph lock and the gate). It returns the write's
// result, or a stopCancelled as soon as the job's run ends first: the caller stops the graph at the cut and
// lets go of the lock, and what the write leaves (the savepoint, the backend's checkpoint) is removed once
// it is done. When ctx (the STOP's caller's) is done first, it returns errStopAbandoned at once: the caller
// lets go of the lock and the job runs on; what the write leaves is removed once it is done.
func (c *checkpointer) stopWrite(ctx context.Context, w cutWrite) (string, error) {
	type result struct {
		path string
		err  error
	}
	runDone, _ := c.runDone.Load().(<-chan struct{}) // nil before the run started: the write is waited for
	done := make(chan result, 1)
	go func() {
		if stopWriteHook != nil {
			stopWriteHook()
		}
		path, err := c.write(w)
		done <- result{path, err}
	}()
	abandoned := false
	select {
	case r := <-done:
		return r.path, r.err
	case <-runDone:
	case <-ctx.Done():
		abandoned = true
	}
	discarded := make(chan struct{})
	hook := stopDiscardedHook
	go func() {
		defer close(discarded)
		if hook != nil {
			defer hook()
		}
		if r := <-done; r.err == nil && r.path != "" {
			_ = os.RemoveAll(r.path)
		}
		if w.backendDir != "" {
			_ = os.RemoveAll(w.backendDir)
		}
	}()
	if abandoned {
		return "", fmt.Errorf("%w (%w)", errStopAbandoned, context.Cause(ctx))
	}
	return "", &stopCancelled{discarded: discarded}
}

// waitDiscarded waits until the savepoint write that err (a STOP's error) abandoned is removed.
func waitDiscarded(err error) {
	var sc *stopCancelled
	if errors.As(err, &sc) {
		<-sc.discarded
	}
}

// errDrainFailed is the error of a job failed by a failed STOP ... WITH DRAIN.
var errDrainFailed = errors.New("STOP WITH DRAIN failed after the maximum watermark may have passed through the operators (windows and timers fired), so the job fails: later rows would be late")

// drainFailed fails the job when err, the error of a STOP WITH DRAIN's cut, is a failure (not a job that was
// finishing or had failed already); it returns the error the STOP reports.
func (g *graph) drainFailed(err error) error {
	if err == nil || errors.Is(err, errSinkEnded) || errors.Is(err, errJobFailed) || errors.Is(err, errStopCancelled) {
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
	if errors.Is(err, errDrainFailed) || errors.Is(err, errJobFailed) || errors.Is(err, errSinkEnded) || errors.Is(err, errStopCancelled) {
		return fmt.Errorf("job '%s': savepoint: %w", id, err)
	}
	return fmt.Errorf("job '%s': savepoint: %w; the job keeps running (run the STOP again once the cause is fixed)", id, err)
}
