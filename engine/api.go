// Package engine runs statements: it owns sessions (catalog + configuration), turns queries into running
// operator graphs, and runs jobs in streaming or batch mode. It is what the sql-client and the Go API call.
package engine

import (
	"context"
	"errors"
	"sync/atomic"

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
// Contract: Next blocks until a row is available, the query ends, or ctx is done, and returns ok=false in
// the last two cases. Err then says why: the query's error when it failed; ctx.Err() (context.Canceled or
// context.DeadlineExceeded) when Next stopped because its ctx ended — the query may still be running, and a
// later Next with a live ctx resumes it — or when the ctx given to Execute ended; nil only after a normal
// end (the query's input ended, or Close or the job's Cancel stopped it). So a caller that checks only Err
// never takes a cancelled or timed-out query for a finished one; a caller that cancelled on purpose compares
// with errors.Is(err, context.Canceled). The returned row is the caller's to keep. Close cancels the query
// and waits for it to stop; it is safe to call more than once.
type QueryResult struct {
	rows   chan changelog.Row
	done   chan struct{}
	err    error
	cancel context.CancelFunc
	job    *Job // the query's job (its batch stages' attempts: Job.StageAttempts)
	// stopped is ctx.Err() of the last Next that returned false because its ctx ended (nil otherwise).
	stopped atomic.Pointer[error]
}

// Next returns the next row; false at the query's end or when ctx is done (see Err).
func (q *QueryResult) Next(ctx context.Context) (changelog.Row, bool) {
	if q.stopped.Load() != nil {
		q.stopped.Store(nil)
	}
	select {
	case r, ok := <-q.rows:
		if !ok {
			<-q.done
			return changelog.Row{}, false
		}
		return r, true
	case <-ctx.Done():
		err := ctx.Err()
		q.stopped.Store(&err)
		return changelog.Row{}, false
	}
}

// Err returns why the last Next returned false: the error that ended the query, else the error of the ctx
// that stopped Next; nil after a normal end and while the query runs.
func (q *QueryResult) Err() error {
	select {
	case <-q.done:
		if q.err != nil {
			return q.err
		}
	default:
	}
	if p := q.stopped.Load(); p != nil {
		return *p
	}
	return nil
}

// Close cancels the query and waits for it to stop.
func (q *QueryResult) Close() error {
	q.cancel()
	for range q.rows {
	}
	<-q.done
	if errors.Is(q.err, context.Canceled) {
		return nil
	}
	return q.err
}
