package client

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/sluicesql/sluice/engine"
)

// A remote shell's jobs run in the gateway. The shell polls its session's job list and prints a job's failure
// (root cause, the statement's file:line:col, the cause chain) as the embedded shell does, while it runs and
// once more when it ends.

// remotePollInterval is how often the remote shell asks the gateway for its jobs.
const remotePollInterval = 300 * time.Millisecond

type remoteJobs struct {
	mu       sync.Mutex
	origins  map[string]string // job id → where the shell submitted its statement
	reported map[string]bool
	failed   int
}

// noteRemoteJob records the origin of a job the shell submitted.
func (r *runner) noteRemoteJob(jobID, origin string) {
	rj := r.remoteJobs
	rj.mu.Lock()
	defer rj.mu.Unlock()
	rj.origins[jobID] = origin
}

// pollRemoteJobs checks the session's jobs every remotePollInterval until ctx ends.
func (r *runner) pollRemoteJobs(ctx context.Context) {
	t := time.NewTicker(remotePollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.checkRemoteJobs(ctx)
		}
	}
}

// checkRemoteJobs prints the failures of the session's jobs not printed yet; it returns how many jobs failed
// in all.
func (r *runner) checkRemoteJobs(ctx context.Context) int {
	var out struct {
		Jobs []struct {
			JobID, JobName, Status, RootCause, Origin, Error string
		}
	}
	g := r.remote
	if err := g.call(ctx, "GET", "/v1/sessions/"+g.handle+"/jobs", nil, &out); err != nil {
		return r.remoteFailures()
	}
	rj := r.remoteJobs
	for _, j := range out.Jobs {
		if j.Status != string(engine.JobFailed) {
			continue
		}
		rj.mu.Lock()
		seen := rj.reported[j.JobID]
		rj.reported[j.JobID] = true
		origin, ok := rj.origins[j.JobID]
		if !seen {
			rj.failed++
		}
		rj.mu.Unlock()
		if seen {
			continue
		}
		if !ok {
			// Not started by this shell's statements (or before it noted them): the gateway's position.
			origin = strings.TrimPrefix(j.Origin, "statement:")
		}
		r.printJobFailure(j.JobID, j.JobName, origin, j.RootCause, j.Error)
	}
	return r.remoteFailures()
}

func (r *runner) remoteFailures() int {
	r.remoteJobs.mu.Lock()
	defer r.remoteJobs.mu.Unlock()
	return r.remoteJobs.failed
}
