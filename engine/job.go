package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicesql/sluice/state"
)

// JobStatus is the state of a job.
type JobStatus string

const (
	JobRunning   JobStatus = "RUNNING"
	JobFinished  JobStatus = "FINISHED"
	JobFailed    JobStatus = "FAILED"
	JobCancelled JobStatus = "CANCELED"
)

// JobMetrics are counters of a job (metrics_api.go builds them).
type JobMetrics struct {
	RowsIn  int64 // rows read by the sources
	RowsOut int64 // rows written to the sinks
	// RecordsInPerSecond and RecordsOutPerSecond are the rates of RowsIn and RowsOut over the last 5 s.
	RecordsInPerSecond, RecordsOutPerSecond float64
	// Lag is how many records the job's sources are behind their input (Kafka: for each partition the high
	// watermark minus the next offset to read, summed); -1 when no source reports one.
	Lag int64
	// Watermark is the watermark that reached the sinks, ms since the epoch; NoWatermark when none has.
	Watermark         int64
	Restarts          int64 // restarts after failures ('restart-strategy')
	FailedCheckpoints int64
	LastCheckpoint    CheckpointInfo
	// Operators are the counters of each operator of the plan, in plan order (inputs first).
	Operators []OperatorMetrics
	// ScaleOut are a scale-out member's counters per keyed stage, the first keyed operator first (nil for
	// other jobs and for a stateless scale-out plan).
	ScaleOut []ScaleOutStageMetrics
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
	// rowsInSubs and rowsOutSubs are the subtasks' shares of rowsIn and rowsOut (pipeline_counters.go).
	rowsInSubs, rowsOutSubs subtaskCounts

	lastCheckpoint CheckpointInfo   // guarded by mu
	ckptHistory    []CheckpointInfo // the latest completed checkpoints, oldest first (at most checkpointHistory); guarded by mu
	ckptStats      CheckpointStats
	restoredFrom   string // the checkpoint or savepoint the job started from
	graph          *graph // while running
	savepoint      string // the savepoint a batch run wrote ('sluice.batch.savepoint-dir')
	ephemeralDir   string // checkpoints without 'state.checkpoints.dir': removed when the job ends

	metrics jobMetrics // per-operator counters (metrics.go)
	origin  string     // where the job's statement is: "file:line:col" or "line L, column C"
	stmt    string     // the job's statement text

	// scaleOut counts a scale-out member's restored changelog records and kept partitions (scaleout_keep.go).
	scaleOut *scaleOutStats
}

// CheckpointInfo describes a job's latest completed checkpoint.
type CheckpointInfo struct {
	ID       int64
	Path     string // "" when no checkpoint directory is configured (kept in memory)
	Duration time.Duration
	Bytes    int64
	Time     time.Time
}

// CheckpointStats are totals over a job's completed checkpoints.
type CheckpointStats struct {
	Count int
	Pause time.Duration // time the pipeline was held for the cuts (state snapshot + sink pre-commits)
	Total time.Duration // time from the start of each checkpoint to its completion
}

// CheckpointStats returns the job's checkpoint totals.
func (j *Job) CheckpointStats() CheckpointStats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.ckptStats
}

// LastCheckpoint returns the job's latest completed checkpoint (ID 0: none yet).
func (j *Job) LastCheckpoint() CheckpointInfo {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lastCheckpoint
}

// checkpointHistory is how many completed checkpoints a job remembers (Flink's web.checkpoints.history
// defaults to 10).
const checkpointHistory = 10

// CheckpointHistory returns the job's latest completed checkpoints (at most 10), oldest first.
func (j *Job) CheckpointHistory() []CheckpointInfo {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]CheckpointInfo(nil), j.ckptHistory...)
}

func (j *Job) noteCheckpoint(id int64, path string, d, pause time.Duration, md *state.Metadata) {
	var n int64
	for _, p := range md.Parts {
		n += p.Bytes + int64(len(p.Inline))
	}
	j.mu.Lock()
	j.lastCheckpoint = CheckpointInfo{ID: id, Path: path, Duration: d, Bytes: n, Time: time.Now()}
	if len(j.ckptHistory) == checkpointHistory {
		j.ckptHistory = append(j.ckptHistory[:0], j.ckptHistory[1:]...)
	}
	j.ckptHistory = append(j.ckptHistory, j.lastCheckpoint)
	j.ckptStats.Count++
	j.ckptStats.Pause += pause
	j.ckptStats.Total += d
	j.mu.Unlock()
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

// Savepoint returns the path of the savepoint that a finished batch job wrote ('sluice.batch.savepoint-dir'),
// or "".
func (j *Job) Savepoint() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.savepoint
}
