package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// flinkTypeName is Flink's LogicalTypeRoot name of t.
func flinkTypeName(t types.Type) string {
	switch t.Kind {
	case types.Boolean:
		return "BOOLEAN"
	case types.TinyInt:
		return "TINYINT"
	case types.SmallInt:
		return "SMALLINT"
	case types.Int:
		return "INTEGER"
	case types.BigInt:
		return "BIGINT"
	case types.Float:
		return "FLOAT"
	case types.Double:
		return "DOUBLE"
	case types.Decimal:
		return "DECIMAL"
	case types.Char:
		return "CHAR"
	case types.VarChar:
		return "VARCHAR"
	case types.Binary:
		return "BINARY"
	case types.VarBinary:
		return "VARBINARY"
	case types.Date:
		return "DATE"
	case types.Time:
		return "TIME_WITHOUT_TIME_ZONE"
	case types.Timestamp:
		return "TIMESTAMP_WITHOUT_TIME_ZONE"
	case types.TimestampLTZ:
		return "TIMESTAMP_WITH_LOCAL_TIME_ZONE"
	case types.IntervalYearMonth:
		return "INTERVAL_YEAR_MONTH"
	case types.IntervalDayTime:
		return "INTERVAL_DAY_TIME"
	case types.Array:
		return "ARRAY"
	case types.Map:
		return "MAP"
	case types.Multiset:
		return "MULTISET"
	case types.Row:
		return "ROW"
	}
	return "NULL"
}

// kindName is Flink's RowKind name.
func kindName(k changelog.Kind) string {
	switch k {
	case changelog.UpdateBefore:
		return "UPDATE_BEFORE"
	case changelog.UpdateAfter:
		return "UPDATE_AFTER"
	case changelog.Delete:
		return "DELETE"
	}
	return "INSERT"
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// encodeRow renders a row's fields: NULL as null, BOOLEAN as true/false, exact and approximate numbers as
// JSON numbers (NaN and infinities as strings), everything else as its SQL text (as the shell prints it).
func encodeRow(k changelog.Kind, vals []types.Value, cols []engine.Column, loc *time.Location) row {
	out := row{Kind: kindName(k), Fields: make([]json.RawMessage, len(cols))}
	for i, c := range cols {
		v := vals[i]
		if v.IsNull() {
			out.Fields[i] = json.RawMessage("null")
			continue
		}
		text := types.AppendSQL(nil, v, c.Type, loc)
		switch c.Type.Kind {
		case types.Boolean:
			if string(text) == "TRUE" || string(text) == "true" {
				out.Fields[i] = json.RawMessage("true")
			} else {
				out.Fields[i] = json.RawMessage("false")
			}
			continue
		case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Float, types.Double, types.Decimal:
			if json.Valid(text) {
				out.Fields[i] = text
				continue
			}
		}
		out.Fields[i] = jsonString(string(text))
	}
	return out
}

// resultBody is Flink's FetchResultsResponseBody (v2 shape, which v1 clients read too).
type resultBody struct {
	ResultType    string       `json:"resultType"`
	IsQueryResult bool         `json:"isQueryResult"`
	JobID         string       `json:"jobID,omitempty"`
	ResultKind    string       `json:"resultKind"`
	Results       resultsBlock `json:"results"`
	NextResultURI string       `json:"nextResultUri,omitempty"`
	// Sluice extensions: what kind of statement it was, its message, and whether a query ran in batch mode.
	SluiceKind string `json:"sluiceKind,omitempty"`
	Message    string `json:"message,omitempty"`
	Batch      bool   `json:"batch,omitempty"`
}

type resultsBlock struct {
	Columns   []column `json:"columns"`
	RowFormat string   `json:"rowFormat"`
	Data      []row    `json:"data"`
}

// operation looks up the path's operation, writing a 404 when it is unknown.
func (s *Server) operation(w http.ResponseWriter, r *http.Request) (*session, *operation) {
	se := s.session(w, r)
	if se == nil {
		return nil, nil
	}
	h := r.PathValue("operation")
	se.mu.Lock()
	op := se.ops[h]
	se.mu.Unlock()
	if op == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Operation '%s' does not exist in session '%s' (it was closed, or belongs to another session).", h, se.handle))
	}
	return se, op
}

func (s *Server) operationStatus(w http.ResponseWriter, r *http.Request) {
	_, op := s.operation(w, r)
	if op == nil {
		return
	}
	op.mu.Lock()
	st := op.status
	op.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"status": st})
}

// cancelOperation stops a running query. The job of an INSERT is not stopped by it: it outlives the
// operation (STOP JOB '<id>' or POST .../jobs/<id>/cancel stops it).
func (s *Server) cancelOperation(w http.ResponseWriter, r *http.Request) {
	_, op := s.operation(w, r)
	if op == nil {
		return
	}
	op.mu.Lock()
	if op.status == statusRunning {
		op.status = statusCanceled
	}
	op.mu.Unlock()
	op.cancel()
	op.mu.Lock()
	st := op.status
	op.notifyLocked()
	op.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"status": st})
}

func (s *Server) closeOperation(w http.ResponseWriter, r *http.Request) {
	se, op := s.operation(w, r)
	if op == nil {
		return
	}
	se.mu.Lock()
	delete(se.ops, op.handle)
	se.mu.Unlock()
	op.close()
	writeJSON(w, http.StatusOK, map[string]string{"status": statusClosed})
}

// notReadyWait is how long a fetch waits for rows before it answers NOT_READY.
const notReadyWait = 300 * time.Millisecond

func (s *Server) fetchResult(w http.ResponseWriter, r *http.Request) {
	se, op := s.operation(w, r)
	if op == nil {
		return
	}
	token, err := strconv.ParseInt(r.PathValue("token"), 10, 64)
	if err != nil || token < 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Bad token '%s': expected a non-negative integer (the page number from nextResultUri).", r.PathValue("token")))
		return
	}
	q := r.URL.Query()
	if f := q.Get("rowFormat"); f != "" && f != "JSON" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Unsupported rowFormat '%s': only JSON is supported.", f))
		return
	}
	maxRows := DefaultPageRows
	if m := q.Get("maxRows"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Bad maxRows '%s': expected a positive integer up to %d.", m, MaxPageRows))
			return
		}
		if n > MaxPageRows {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("maxRows %d is too large: pages hold at most %d rows; fetch the next pages instead.", n, MaxPageRows))
			return
		}
		maxRows = n
	}
	deadline := time.NewTimer(notReadyWait)
	defer deadline.Stop()
	op.mu.Lock()
	for {
		// A page already cut (the current one again, or the one before) is served as it was.
		for _, p := range op.pages {
			if p.token == token {
				body := op.bodyLocked(se, p, r)
				op.mu.Unlock()
				writeJSON(w, http.StatusOK, body)
				return
			}
		}
		if token != op.next {
			next := op.next
			op.mu.Unlock()
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Token %d is not valid for this operation: the next page is %d (pages before %d are gone).", token, next, max(next-1, 0)))
			return
		}
		if op.status == statusError {
			err := op.err
			op.mu.Unlock()
			writeStatementError(w, err)
			return
		}
		if op.status == statusClosed {
			op.mu.Unlock()
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Operation '%s' was closed.", op.handle))
			return
		}
		if op.kind != "" && (len(op.rows) > 0 || op.done) {
			n := min(len(op.rows), maxRows)
			p := page{token: token, rows: op.rows[:n:n], eos: n == 0}
			op.rows = op.rows[n:]
			op.next++
			op.pages = append(op.pages, p)
			if len(op.pages) > 2 {
				op.pages = op.pages[len(op.pages)-2:]
			}
			select {
			case op.space <- struct{}{}:
			default:
			}
			body := op.bodyLocked(se, p, r)
			op.mu.Unlock()
			writeJSON(w, http.StatusOK, body)
			return
		}
		wake := op.wake
		op.mu.Unlock()
		select {
		case <-wake:
			op.mu.Lock()
			continue
		case <-deadline.C:
		case <-r.Context().Done():
			return
		}
		op.mu.Lock()
		body := resultBody{ResultType: "NOT_READY", ResultKind: "SUCCESS_WITH_CONTENT", Results: resultsBlock{RowFormat: "JSON", Columns: op.cols, Data: []row{}},
			NextResultURI: resultURI(r, se, op, token)}
		op.mu.Unlock()
		writeJSON(w, http.StatusOK, body)
		return
	}
}

func resultURI(r *http.Request, se *session, op *operation, token int64) string {
	v := "v1"
	if len(r.URL.Path) > 3 && r.URL.Path[:3] == "/v2" {
		v = "v2"
	}
	return fmt.Sprintf("/%s/sessions/%s/operations/%s/result/%d?rowFormat=JSON", v, se.handle, op.handle, token)
}

func (op *operation) bodyLocked(se *session, p page, r *http.Request) resultBody {
	b := resultBody{ResultType: "PAYLOAD", IsQueryResult: op.kind == kindQuery, JobID: op.jobID, ResultKind: "SUCCESS_WITH_CONTENT",
		Results:    resultsBlock{Columns: op.cols, RowFormat: "JSON", Data: p.rows},
		SluiceKind: op.kind, Message: op.message, Batch: op.batch}
	if op.kind == kindOK {
		b.ResultKind = "SUCCESS"
	}
	if b.Results.Data == nil {
		b.Results.Data = []row{}
	}
	if p.eos {
		b.ResultType = "EOS"
	} else {
		b.NextResultURI = resultURI(r, se, op, p.token+1)
	}
	return b
}

// writeStatementError answers a failed statement: 400 with its message and, for SQL errors, its position.
func writeStatementError(w http.ResponseWriter, err error) {
	body := errorBody{Errors: []string{err.Error()}}
	if line, col, msg, ok := sql.Position(err); ok {
		body.Errors[0], body.Line, body.Column = msg, line, col
	}
	// The cause chain as the embedded shell prints it with 'sql-client.verbose' (a repeated message once).
	last := err.Error()
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		if len(body.Errors) > 8 {
			break
		}
		if m := e.Error(); m != last && m != "" {
			body.Errors = append(body.Errors, fmt.Sprintf("Caused by: %s (%T)", m, e))
			last = m
		}
	}
	writeJSON(w, http.StatusBadRequest, body)
}

type jobBody struct {
	JobID  string `json:"jobId"`
	Name   string `json:"jobName"`
	Status string `json:"status"`
	// A failed job's root cause, the statement that started it (file:line:col when the client sent one)
	// and its whole error chain, so that a remote shell can print the failure as the embedded one does.
	RootCause string `json:"rootCause,omitempty"`
	Origin    string `json:"origin,omitempty"`
	Error     string `json:"error,omitempty"`
}

func newJobBody(j *engine.Job) jobBody {
	b := jobBody{JobID: j.ID(), Name: j.Name(), Status: string(j.Status()), Origin: j.Origin()}
	if err := j.Err(); err != nil && j.Status() == engine.JobFailed {
		b.RootCause, b.Error = engine.RootCause(err).Error(), err.Error()
	}
	return b
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	se := s.session(w, r)
	if se == nil {
		return
	}
	out := []jobBody{}
	for _, j := range se.es.Jobs() {
		out = append(out, newJobBody(j))
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": out})
}

// cancelJob stops one of the session's jobs. A job of another session is not found: sessions only see
// and stop their own jobs.
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	se := s.session(w, r)
	if se == nil {
		return
	}
	id := r.PathValue("job")
	for _, j := range se.es.Jobs() {
		if j.ID() == id {
			j.Cancel()
			writeJSON(w, http.StatusOK, jobBody{JobID: j.ID(), Name: j.Name(), Status: string(j.Status())})
			return
		}
	}
	s.mu.Lock()
	other := false
	for _, o := range s.sessions {
		if o == se {
			continue
		}
		for _, j := range o.es.Jobs() {
			if j.ID() == id {
				other = true
			}
		}
	}
	s.mu.Unlock()
	if other {
		writeError(w, http.StatusForbidden, fmt.Sprintf("Job '%s' was submitted by another session; only that session can stop it.", id))
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("Job '%s' does not exist in session '%s'.", id, se.handle))
}
