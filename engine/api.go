// Package engine runs statements: it owns sessions (catalog + configuration), turns queries into running
// operator graphs, and runs jobs in streaming or batch mode. It is what the sql-client and the Go API call.
package engine

import (
	"context"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// ResultKind says what a statement returned.
type ResultKind uint8

const (
	// ResultOK: a statement with no rows (CREATE, DROP, SET k=v, RESET). Message is Flink's "[INFO] ..." line.
	ResultOK ResultKind = iota
	// ResultTable: a small, final table (SHOW TABLES, DESCRIBE, SET listing, EXPLAIN has one STRING column).
	ResultTable
	// ResultQuery: a SELECT; rows come from Next as a changelog.
	ResultQuery
	// ResultJob: an INSERT or statement set submitted as a job.
	ResultJob
)

// Column is one result column.
type Column struct {
	Name string
	Type types.Type
}

// Result is what Execute returns.
type Result struct {
	Kind    ResultKind
	Message string
	Columns []Column
	// Rows holds the rows of a ResultTable.
	Rows [][]types.Value
	// Query streams a ResultQuery's rows.
	Query *QueryResult
	// Job is the job of a ResultJob.
	Job *Job
	// Batch reports whether the statement ran in batch mode (results are final +I rows).
	Batch bool
}

// QueryResult streams the changelog of a running SELECT.
//
// Contract: Next blocks until a row is available, the query ends, or ctx is done. It returns ok=false at the
// end; Err then says whether the end was an error. The returned row is the caller's to keep. Close cancels
// the query and waits for it to stop; it is safe to call more than once.
type QueryResult struct {
	rows   chan changelog.Row
	done   chan struct{}
	err    error
	cancel context.CancelFunc
}

// Next returns the next row.
func (q *QueryResult) Next(ctx context.Context) (changelog.Row, bool) {
	select {
	case r, ok := <-q.rows:
		if !ok {
			<-q.done
			return changelog.Row{}, false
		}
		return r, true
	case <-ctx.Done():
		return changelog.Row{}, false
	}
}

// Err returns the error that ended the query, nil after a normal end.
func (q *QueryResult) Err() error {
	select {
	case <-q.done:
		return q.err
	default:
		return nil
	}
}

// Close cancels the query and waits for it to stop.
func (q *QueryResult) Close() error {
	q.cancel()
	for range q.rows {
	}
	<-q.done
	if q.err == context.Canceled {
		return nil
	}
	return q.err
}
