package connectors

import (
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/vec"
)

// RowSelector is a Calc's filter compiled to batch kernels (exec.CompileScanFilter), for a source that runs
// it before decoding the rest of a record (issue 14 part 2).
type RowSelector interface {
	// Select evaluates the filter over b (its columns laid out as the scan's output; only the filter's
	// columns need to be filled) and returns the rows that pass. An error means the filter could not be
	// evaluated here: the source must then keep every row (the Calc above reports the error, as without
	// the pushed filter).
	Select(b *vec.Batch) ([]int32, error)
	// Fresh returns a selector of the same filter with its own state, for another goroutine (a subtask).
	Fresh() RowSelector
}

// FilterableSource is a source that can drop rows before decoding them in full. The planner calls
// ApplyFilter after ApplyProjection, before Run, when the scan has a single reader, a Calc directly over
// it, whose filter is deterministic; reads says which scan columns (and ROW members) the filter reads.
// The Calc still evaluates the filter: the source may ignore the call, or drop any rows that do not pass
// it, provided every error and skip it reports is the one it reports without the filter.
type FilterableSource interface {
	ApplyFilter(reads *formats.Projection, f RowSelector)
}

// ReadCounter is an output that counts the rows pushed through it (the job's rows in, an operator's rows
// out). A source that drops rows with a pushed filter reports them with CountRead: they were read, and
// count as if pushed, so that metrics (RowsIn, DESCRIBE JOB, the rates) are those without the filter.
type ReadCounter interface {
	CountRead(n int64)
}

// CountRead reports n rows read and dropped by a pushed filter to out when it counts rows (ReadCounter).
func CountRead(out any, n int64) {
	if rc, ok := out.(ReadCounter); ok && n > 0 {
		rc.CountRead(n)
	}
}
