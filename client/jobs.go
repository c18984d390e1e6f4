package client

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sluicesql/sluice/engine"
)

// Jobs seen from the client: a background job's failure is printed as soon as it happens (watch), QUIT
// stops the running jobs after asking (shell) or saying which (script), and a script waiting for its jobs
// shows a progress line when stderr is a terminal.

// jobWatch tracks the failures of the session's jobs.
type jobWatch struct {
	mu       sync.Mutex
	reported map[string]chan struct{} // closed once the job's failure was printed (or it ended without one)
	failures chan *engine.Job
}

func newJobWatch() *jobWatch {
	return &jobWatch{reported: map[string]chan struct{}{}, failures: make(chan *engine.Job, 64)}
}

// watch prints j's failure on the error stream as soon as j fails.
func (r *runner) watch(j *engine.Job) {
	done := make(chan struct{})
	r.jobs.mu.Lock()
	r.jobs.reported[j.ID()] = done
	r.jobs.mu.Unlock()
	if r.sync {
		close(done) // table.dml-sync: the statement itself returns the job's error
		return
	}
	go func() {
		defer close(done)
		err := j.Wait(context.Background())
		if err == nil || j.Status() != engine.JobFailed {
			return
		}
		r.reportJobFailure(j, err)
		select {
		case r.jobs.failures <- j:
		default:
		}
	}()
}

// reportJobFailure prints a failed job's root cause and where its statement is.
func (r *runner) reportJobFailure(j *engine.Job, err error) {
	r.printJobFailure(j.ID(), j.Name(), j.Origin(), engine.RootCause(err).Error(), err.Error())
}

// printJobFailure prints a failed job's root cause (root), where its statement is (origin, may be empty)
// and its whole error chain (full) when that says more than the root cause.
func (r *runner) printJobFailure(id, name, origin, root, full string) {
	var b strings.Builder
	if r.interactive {
		b.WriteString("\n") // leave the prompt line
	}
	fmt.Fprintf(&b, "[ERROR] Job %s (%s) failed. Reason:\n", id, name)
	if origin != "" {
		fmt.Fprintf(&b, "%s: %s\n", origin, root)
	} else {
		fmt.Fprintf(&b, "%s\n", root)
	}
	// The full chain, without repeating the job's id, when it says more than the root cause.
	if full = strings.TrimPrefix(full, "job "+id+" failed: "); full != root {
		fmt.Fprintf(&b, "Caused by: %s\n", full)
	}
	if r.interactive {
		fmt.Fprintf(&b, "(DESCRIBE JOB '%s' shows its plan and counters.)\n\n", id)
		// The prompt the message pushed up; what was typed reappears with the next key.
		if p, ok := r.prompt.Load().(string); ok {
			b.WriteString(p)
		}
	}
	fmt.Fprint(r.errw, b.String())
}

// reportedDone returns the channel closed once j's watcher finished (its failure, if any, printed).
func (r *runner) reportedDone(j *engine.Job) <-chan struct{} {
	r.jobs.mu.Lock()
	defer r.jobs.mu.Unlock()
	if ch, ok := r.jobs.reported[j.ID()]; ok {
		return ch
	}
	ch := make(chan struct{})
	close(ch)
	return ch
}

// running returns the session's jobs that have not ended.
func (r *runner) running() []*engine.Job {
	var out []*engine.Job
	if r.sess == nil {
		return nil // sql-client gateway: the jobs run in the gateway and outlive the shell
	}
	for _, j := range r.sess.Jobs() {
		if j.Status() == engine.JobRunning {
			out = append(out, j)
		}
	}
	return out
}

// stopJobs cancels the given jobs (their sinks are flushed), saying which.
func (r *runner) stopJobs(jobs []*engine.Job, why string) {
	for _, j := range jobs {
		j.Cancel()
		fmt.Fprintf(r.errw, "[INFO] %s: job %s (%s) stopped.\n", why, j.ID(), j.Name())
	}
}

// confirmQuit asks, in the interactive shell, whether to stop the running jobs and quit.
func (r *runner) confirmQuit(lr lineReader) bool {
	jobs := r.running()
	if len(jobs) == 0 {
		return true
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, fmt.Sprintf("%s (%s)", j.ID(), j.Name()))
	}
	fmt.Fprintf(r.out, "%d job(s) still running: %s.\nQuitting stops them (their sinks are flushed).\n", len(jobs), strings.Join(ids, ", "))
	answer, err := lr.Prompt("Stop them and quit? [y/N] ")
	if err != nil {
		return false
	}
	a := strings.ToLower(strings.TrimSpace(answer))
	if a != "y" && a != "yes" {
		fmt.Fprintln(r.out, "[INFO] Not quitting; the jobs keep running.")
		return false
	}
	r.stopJobs(jobs, "QUIT")
	return true
}

// waitJobs waits until every job of the session ended, a job failed (its failure is printed by its
// watcher), or ctx is done (interrupt). With progress, a line with the jobs' rows, rate and lag is
// rewritten every second on the error stream (a terminal) while it waits.
func (r *runner) waitJobs(ctx context.Context) error {
	jobs := r.sess.Jobs()
	all := make(chan struct{})
	go func() {
		defer close(all)
		for _, j := range jobs {
			if j.Wait(ctx) != nil && ctx.Err() != nil {
				return
			}
		}
	}()
	var tick <-chan time.Time
	if r.progress {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
	}
	shown := false
	clear := func() {
		if shown {
			fmt.Fprint(r.errw, "\r\033[K")
			shown = false
		}
	}
	defer clear()
	for {
		select {
		case j := <-r.jobs.failures:
			clear()
			return fmt.Errorf("job %s failed", j.ID())
		case <-all:
			clear()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			for _, j := range jobs {
				if j.Status() == engine.JobFailed {
					<-r.reportedDone(j)
					return fmt.Errorf("job %s failed", j.ID())
				}
			}
			return nil
		case <-ctx.Done():
			clear()
			return ctx.Err()
		case <-tick:
			fmt.Fprint(r.errw, "\r\033[K"+progressLine(jobs))
			shown = true
		}
	}
}

// progressLine sums the running jobs' counters: "[INFO] 1 job running: 1200 rows in, 1180 rows out,
// 250.0 rows/s, lag 12 (Ctrl-C stops)".
func progressLine(jobs []*engine.Job) string {
	var n int
	var in, out, lag int64 = 0, 0, -1
	var rate float64
	for _, j := range jobs {
		if j.Status() != engine.JobRunning {
			continue
		}
		n++
		m := j.Metrics()
		in += m.RowsIn
		out += m.RowsOut
		rate += m.RecordsInPerSecond
		if m.Lag >= 0 {
			lag = max(lag, 0) + m.Lag
		}
	}
	s := fmt.Sprintf("[INFO] %d job(s) running: %d rows in, %d rows out, %.1f rows/s", n, in, out, rate)
	if lag >= 0 {
		s += fmt.Sprintf(", lag %d", lag)
	}
	return s + " (Ctrl-C stops)"
}
