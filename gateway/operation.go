package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// session is one client session: an engine session and its operations. Its jobs belong to it: any client
// holding the session handle may stop them, no other session can (the handle is the capability).
type session struct {
	handle, name string
	props        map[string]string
	es           *engine.Session
	mu           sync.Mutex
	ops          map[string]*operation
	run          sync.Mutex   // statements of a session run one at a time, in order
	lastUsed     atomic.Int64 // unix ns of the last request naming the session (expiry.go)
}

func (se *session) close() {
	se.mu.Lock()
	ops := se.ops
	se.ops = map[string]*operation{}
	se.mu.Unlock()
	for _, op := range ops {
		op.close()
	}
	se.es.CancelJobs()
	se.es.Close()
}

// Operation statuses, as Flink's OperationStatus.
const (
	statusRunning  = "RUNNING"
	statusFinished = "FINISHED"
	statusCanceled = "CANCELED"
	statusClosed   = "CLOSED"
	statusError    = "ERROR"
)

// Kinds of results (the "sluiceKind" field) so that a client prints them as the embedded shell does.
const (
	kindOK    = "OK"
	kindTable = "TABLE"
	kindQuery = "QUERY"
	kindJob   = "JOB"
)

// column is a result column: Flink's shape (name, logicalType, comment) plus the SQL type text.
type column struct {
	Name        string      `json:"name"`
	LogicalType logicalType `json:"logicalType"`
	Comment     *string     `json:"comment"`
}

type logicalType struct {
	Type      string `json:"type"`
	Nullable  bool   `json:"nullable"`
	Length    int    `json:"length,omitempty"`
	Precision int    `json:"precision,omitempty"`
	Scale     int    `json:"scale,omitempty"`
	// SQL is the type as SQL text, e.g. "VARCHAR(10) NOT NULL" (a Sluice extension).
	SQL string `json:"sql"`
}

// row is a result row: the changelog kind as Flink's RowKind name and the fields as JSON values.
type row struct {
	Kind   string            `json:"kind"`
	Fields []json.RawMessage `json:"fields"`
}

type page struct {
	token int64
	eos   bool
	rows  []row
}

// operation is one statement's execution and its result buffer.
type operation struct {
	handle string
	cancel context.CancelFunc

	mu      sync.Mutex
	status  string
	err     error
	kind    string
	message string
	batch   bool
	jobID   string
	cols    []column
	rows    []row // produced, not yet paged
	done    bool  // no more rows will come
	next    int64 // the token of the next page to cut
	pages   []page
	wake    chan struct{} // closed and replaced whenever rows arrive or the state changes
	space   chan struct{} // signalled when a page was cut (a full buffer may fill again)
}

func (op *operation) notifyLocked() {
	close(op.wake)
	op.wake = make(chan struct{})
}

func (op *operation) close() {
	op.cancel()
	op.mu.Lock()
	if op.status == statusRunning {
		op.status = statusClosed
	}
	op.done = true
	op.notifyLocked()
	op.mu.Unlock()
}

type statementRequest struct {
	Statement        string            `json:"statement"`
	ExecutionTimeout int64             `json:"executionTimeout"`
	ExecutionConfig  map[string]string `json:"executionConfig"`
}

func (s *Server) executeStatement(w http.ResponseWriter, r *http.Request) {
	se := s.session(w, r)
	if se == nil {
		return
	}
	var req statementRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.Statement == "" {
		writeError(w, http.StatusBadRequest, "Bad request: the body needs a non-empty \"statement\".")
		return
	}
	if len(req.ExecutionConfig) > 0 {
		writeError(w, http.StatusBadRequest, "Bad request: \"executionConfig\" is not supported; use SET statements or session properties.")
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	op := &operation{handle: newHandle(), cancel: cancel, status: statusRunning, wake: make(chan struct{}), space: make(chan struct{}, 1)}
	se.mu.Lock()
	se.ops[op.handle] = op
	se.mu.Unlock()
	go se.execute(ctx, op, req.Statement)
	writeJSON(w, http.StatusOK, map[string]string{"operationHandle": op.handle})
}

// execute runs one statement (several in one request run in order; the result is the last one's).
func (se *session) execute(ctx context.Context, op *operation, text string) {
	se.run.Lock()
	locked := true
	defer func() {
		if locked {
			se.run.Unlock()
		}
	}()
	fail := func(err error) {
		op.mu.Lock()
		if op.status == statusRunning {
			op.status, op.err = statusError, err
		}
		op.done = true
		op.notifyLocked()
		op.mu.Unlock()
	}
	stmts, err := sql.ParseScript(text)
	if err != nil {
		fail(err)
		return
	}
	if len(stmts) == 0 {
		fail(errors.New("the statement is empty"))
		return
	}
	var res *engine.Result
	for i, st := range stmts {
		if res != nil && res.Query != nil {
			res.Query.Close()
		}
		res, err = se.es.Execute(engine.WithScript(ctx, "statement"), st)
		if err != nil {
			fail(err)
			return
		}
		if i < len(stmts)-1 && res.Kind == engine.ResultQuery {
			res.Query.Close()
		}
	}
	loc := se.es.Location()
	se.run.Unlock() // a query's rows stream while the next statements run
	locked = false
	op.mu.Lock()
	op.message, op.batch = res.Message, res.Batch
	switch res.Kind {
	case engine.ResultOK:
		op.kind = kindOK
		op.cols = []column{stringColumn("result")}
		op.rows = []row{{Kind: "INSERT", Fields: []json.RawMessage{jsonString("OK")}}}
	case engine.ResultTable:
		op.kind = kindTable
		op.cols = columns(res.Columns)
		for _, vals := range res.Rows {
			op.rows = append(op.rows, encodeRow(changelog.Insert, vals, res.Columns, loc))
		}
	case engine.ResultJob:
		op.kind, op.jobID = kindJob, res.Job.ID()
		op.cols = []column{stringColumn("job id")}
		op.rows = []row{{Kind: "INSERT", Fields: []json.RawMessage{jsonString(res.Job.ID())}}}
	case engine.ResultQuery:
		op.kind = kindQuery
		op.cols = columns(res.Columns)
		op.notifyLocked()
		op.mu.Unlock()
		se.pump(ctx, op, res, loc)
		return
	}
	op.done = true
	op.status = statusFinished
	op.notifyLocked()
	op.mu.Unlock()
}

// pump moves a query's rows into the operation's buffer, waiting while the buffer is full.
func (se *session) pump(ctx context.Context, op *operation, res *engine.Result, loc *time.Location) {
	q := res.Query
	defer q.Close()
	for {
		r, ok := q.Next(ctx)
		if !ok {
			break
		}
		enc := encodeRow(r.Kind, r.Vals, res.Columns, loc)
		op.mu.Lock()
		for len(op.rows) >= maxBufferedRows && !op.done {
			op.mu.Unlock()
			select {
			case <-op.space:
			case <-ctx.Done():
			}
			op.mu.Lock()
			if ctx.Err() != nil {
				break
			}
		}
		op.rows = append(op.rows, enc)
		op.notifyLocked()
		op.mu.Unlock()
	}
	err := q.Err()
	op.mu.Lock()
	defer op.mu.Unlock()
	switch {
	case err != nil && ctx.Err() == nil:
		if op.status == statusRunning {
			op.status, op.err = statusError, err
		}
	case op.status == statusRunning && ctx.Err() != nil:
		op.status = statusCanceled
	case op.status == statusRunning:
		op.status = statusFinished
	}
	op.done = true
	op.notifyLocked()
}

func stringColumn(name string) column {
	return column{Name: name, LogicalType: logicalType{Type: "VARCHAR", Nullable: true, Length: 2147483647, SQL: "STRING"}}
}

func columns(cols []engine.Column) []column {
	out := make([]column, len(cols))
	for i, c := range cols {
		t := c.Type
		lt := logicalType{Type: flinkTypeName(t), Nullable: !t.NotNull, SQL: t.String()}
		switch t.Kind {
		case types.Char, types.VarChar, types.Binary, types.VarBinary:
			lt.Length = t.Length
		case types.Decimal:
			lt.Precision, lt.Scale = t.Precision, t.Scale
		case types.Time, types.Timestamp, types.TimestampLTZ:
			lt.Precision = t.Precision
		}
		out[i] = column{Name: c.Name, LogicalType: lt}
	}
	return out
}
