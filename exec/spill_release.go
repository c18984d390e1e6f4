package exec

// SpillReleaser is implemented by operators that may hold spill files open: a spilling sort's runs, a
// sorting OVER aggregate's sort and frame queues (their names are removed as they are created, so the
// files take space until closed). ReleaseSpills closes them when the operator will not be used again
// before its End: the engine calls it on the operators of a batch stage attempt that failed, whose files
// were otherwise freed only when the garbage collector finalized them, during the stage's rerun. It must
// not run concurrently with Push or End; the operator is not used after it.
type SpillReleaser interface {
	ReleaseSpills()
}

var (
	_ SpillReleaser = (*sortOp)(nil)
	_ SpillReleaser = (*sortedOver)(nil)
)

// ReleaseSpills closes the spilled runs (SpillReleaser).
func (s *sortOp) ReleaseSpills() { s.removeRuns() }

// ReleaseSpills closes the spilling sort's runs and the frame queues' files (SpillReleaser): what Close
// does when the job's attempt ends, done as soon as a batch stage's attempt failed.
func (o *sortedOver) ReleaseSpills() { o.Close() }
