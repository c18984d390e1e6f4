package connectors

import (
	"context"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// LookupFactory is implemented by factories whose tables can serve lookups by key, for processing-time
// temporal joins (`JOIN dim FOR SYSTEM_TIME AS OF o.proc_time ON o.k = dim.k`): the planner then joins each
// row of the probe side with the rows the lookup returns at that moment instead of reading the table.
type LookupFactory interface {
	// CreateLookup returns a lookup source over the table that finds rows by the physical columns keys
	// (indexes into the table's physical columns, in order).
	CreateLookup(ctx Context, keys []int) (LookupSource, error)
}

// LookupSource finds the rows of a table whose key columns equal given values.
//
// Contract: Open before the first Lookup, Close once at the end; calls come from one goroutine at a time.
// Lookup appends to dst the matching rows (the table's physical columns in order) and returns it; the rows
// stay valid until Close (the source may cache and share them: callers must not modify them). A key with a
// NULL value matches nothing.
type LookupSource interface {
	Open(ctx context.Context) error
	Lookup(ctx context.Context, key []types.Value, dst [][]types.Value) ([][]types.Value, error)
	Close() error
}

// TaskLookupSource is a LookupSource that can make another handle over the same table for another task of a
// batch stage (Flink gives each subtask its own lookup function): TaskLookup returns a LookupSource with the
// same keys, projection and options and resources of its own (jdbc: its own connection and cache), opened,
// called and closed independently of the receiver and of the other handles, from another goroutine. It is
// called before the receiver is opened; the receiver itself need not be opened at all.
type TaskLookupSource interface {
	LookupSource
	TaskLookup() LookupSource
}

// ProjectableLookupSource is a LookupSource that can fetch only the columns of the dimension rows a query
// reads (projection pushdown into a lookup join). p is over the table's physical columns; it always needs
// the lookup keys. The planner calls ApplyProjection before Open; Lookup's rows then keep their width and
// the columns p does not need are NULL. A ROW column p reads in part may still be fetched whole.
type ProjectableLookupSource interface {
	LookupSource
	ApplyProjection(p *formats.Projection)
}
