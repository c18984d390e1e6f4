package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// JobStatus is the state of a job.
type JobStatus string

const (
	JobRunning   JobStatus = "RUNNING"
	JobFinished  JobStatus = "FINISHED"
	JobFailed    JobStatus = "FAILED"
	JobCancelled JobStatus = "CANCELED"
)

// JobMetrics are counters of a job.
type JobMetrics struct {
	RowsIn  int64 // rows read by the sources
	RowsOut int64 // rows written to the sinks
}

// Job is a running INSERT (or statement set).
//
// Contract: Wait blocks until the job ends or ctx is done and returns the job's error (nil when it finished
// or was cancelled through Cancel). Cancel stops the job cleanly: sinks are flushed. Both are safe to call
// from any goroutine, more than once.
type Job struct {
	id      string
	name    string
	start   time.Time
	end     time.Time
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	err     error
	status  JobStatus
	rowsIn  atomic.Int64
	rowsOut atomic.Int64
}

// ID is the job's identifier.
func (j *Job) ID() string { return j.id }

// Wait blocks until the job ends.
func (j *Job) Wait(ctx context.Context) error {
	select {
	case <-j.done:
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Cancel stops the job and waits for it.
func (j *Job) Cancel() {
	j.cancel()
	<-j.done
}

// Status reports the job's state.
func (j *Job) Status() JobStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.status
}

// Metrics returns the job's counters.
func (j *Job) Metrics() JobMetrics {
	return JobMetrics{RowsIn: j.rowsIn.Load(), RowsOut: j.rowsOut.Load()}
}
