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

// option returns a session option: the embedded session's, or the gateway session's property.
func (r *runner) option(key string) (string, bool) {
	if r.remote == nil {
		return r.sess.Option(key)
	}
	var out struct{ Properties map[string]string }
	g := r.remote
	if err := g.call(context.Background(), "GET", "/v1/sessions/"+g.handle, nil, &out); err != nil {
		return "", false
	}
	v, ok := out.Properties[key]
	return v, ok
}

// viewRemote shows a streaming query's result from the gateway in a live view (view.go): first the rows of
// pg, then the next pages as they come, until the end of the result or q.
func (r *runner) viewRemote(ctx context.Context, cancel func(), cols []engine.Column, pg remotePage, mode string, kb viewKeys) error {
	g := r.remote
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
	}
	changes := make(chan viewChange, 1024)
	var qerr error
	go func() {
		defer close(changes)
		for {
			for _, d := range pg.Results.Data {
				cells := make([]string, len(d.Fields))
				for i, f := range d.Fields {
					cells[i] = remoteCell(f)
				}
				select {
				case changes <- viewChange{kindSymbols[d.Kind], cells}:
				case <-ctx.Done():
					return
				}
			}
			if pg.ResultType == "EOS" || pg.NextResultURI == "" {
				return
			}
			uri := pg.NextResultURI
			pg = remotePage{}
			if err := g.call(ctx, "GET", uri, nil, &pg); err != nil {
				if ctx.Err() == nil {
					qerr = err // read by errOf after changes is closed
				}
				return
			}
		}
	}()
	return r.showView(names, changes, func() error { return qerr }, mode, r.maxViewRows(), kb, cancel)
}

// remoteCauses is an error from the gateway with the chain of causes it sent ("Caused by: ..." lines), which
// the shell prints with 'sql-client.verbose'.
type remoteCauses struct {
	err   error
	lines []string
}

func (e *remoteCauses) Error() string { return e.err.Error() }
func (e *remoteCauses) Unwrap() error { return e.err }
