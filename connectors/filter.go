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
