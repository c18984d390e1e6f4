package engine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// A push that fails part-way leaves the graph half-applied: the operators below the one that failed (an
// aggregate under a Calc whose function failed on one row) took rows whose source position never advanced,
// and a restart reads them again. A checkpoint cut after such a failure would write that state with the
// position from before the batch, so the restart counts those rows twice. So the graph is marked failed at
// the moment a push returns an error: under the graph lock the push held (sources pushing under the lock,
// the chain ends of source subtasks, the mini-batch ticker), before the gate is let go (two-phase locals),
// and before a keyed subtask's queue item stops counting as pending (exec.Exchange.SetOnError: markSubtaskError
// sees the error of any item, its operator's inputs, output and own mini-batch flushes on a tick included;
// the quiesce and the waits for lock-fed sinks see the mark once they saw the item done, and a barrier
// checkpoint's subtasks that failed before their barrier never take it). A checkpoint or savepoint checks the
// mark when it starts, at the end of its part under the graph lock and before it writes its metadata, and
// fails with the job's error (errJobFailed); the job's restart then uses the last checkpoint completed before
// the failure. The mark costs one nil check per failed-or-not call, and a checkpoint one atomic load.

// errJobFailed is the error of a checkpoint not taken because the job failed in a push.
var errJobFailed = errors.New("the job failed while processing input")

// pushFailure is the graph's failure mark: the first error a push returned.
type pushFailure struct{ err atomic.Pointer[error] }

// mark records err (the first one wins) and returns it. A cancellation is not a failure of the input: a push
// that a STOP or cancel interrupted must not refuse the STOP's savepoint. A sink's error is a failure even
// when it wraps context.Canceled (sink_failure.go).
func (f *pushFailure) mark(err error) error {
	if err != nil && f != nil && (!errors.Is(err, context.Canceled) || isSinkError(err)) {
		first := new(error) // not &err: that moves err to the heap on every call, nil or not
		*first = err
		f.err.CompareAndSwap(nil, first)
	}
	return err
}

// load returns the recorded error, nil while no push failed.
func (f *pushFailure) load() error {
	if f == nil {
		return nil
	}
	if e := f.err.Load(); e != nil {
		return *e
	}
	return nil
}

// ignorePushFailure makes checkpoints ignore the failure mark (a test hook: the checkpoint is wrong with it,
// holding a half-applied batch).
var ignorePushFailure = false

// checkFailed returns the error of checkpoint id when a push of the graph failed, else nil.
func (g *graph) checkFailed(id int64) error {
	if ignorePushFailure {
		return nil
	}
	if err := g.failure.load(); err != nil {
		return fmt.Errorf("checkpoint %d not taken: %w after the last completed checkpoint, and the graph holds part of a batch whose position did not advance (the restart uses the last completed checkpoint): %w", id, errJobFailed, err)
	}
	return nil
}

// beforeFailCancel runs when a part of the job reported its error, before the job is cancelled (a test
// hook: a checkpoint taken there lands between the failure and the cancel).
var beforeFailCancel func(g *graph)

// errorRank orders the errors of a job's parts: a part's own failure (2) over a checkpoint refused after a
// failed push (1) over the cancellation of the others (0). A sink's error that wraps context.Canceled is a
// failure (sink_failure.go), as is a failed STOP WITH DRAIN (errDrainFailed).
func errorRank(err error) int {
	switch {
	case isSinkError(err) || errors.Is(err, errDrainFailed):
		return 2
	case errors.Is(err, context.Canceled):
		return 0
	case errors.Is(err, errJobFailed):
		return 1
	}
	return 2
}

// markSubtaskError marks the graph failed with the error of a keyed subtask's item (exec.Exchange.SetOnError),
// also of an error inside the operator itself (its mini-batch flush on a tick).
func (g *graph) markSubtaskError(err error) { g.failure.mark(err) }
