package engine

import (
	"fmt"

	"github.com/sluicesql/sluice/planner"
)

// The sinks' flush at a cancelled staged job: whether the sources may publish their final positions.

// noteFlushErr records the error of a sink flushed when the job was cancelled (the first one).
func (sj *stagedJob) noteFlushErr(err error) {
	sj.mu.Lock()
	if sj.flushErr == nil {
		sj.flushErr = err
	}
	sj.mu.Unlock()
}

// flushFailure returns why the sinks of a job that ended (cancelled) may not have written every row its
// sources read, nil when they did: a sink flushed at the cancellation failed (a task's: noteFlushErr; a
// sink stage's commit: stageSink.finish), or a sink stage did not finish and was not flushed (it had not
// started, its last attempt failed, or its rows were aborted), while the source stages had read their
// input: publishing the sources' positions would then commit Kafka offsets for rows never written.
func (sj *stagedJob) flushFailure() error {
	sj.mu.Lock()
	defer sj.mu.Unlock()
	if sj.flushErr != nil {
		return sj.flushErr
	}
	for _, st := range sj.stages {
		if st.sink != nil && st.sink.flushErr != nil {
			return st.sink.flushErr
		}
		if _, ok := st.root.(*planner.Sink); !ok || sj.finished[st] {
			continue
		}
		ok := st.sink == nil || st.sink.flushed
		for _, tk := range st.tasks {
			ok = ok && tk.flushed
		}
		if !ok {
			return fmt.Errorf("stage %d (%s) did not write its rows before the job was cancelled", st.id, st.name)
		}
	}
	return nil
}
