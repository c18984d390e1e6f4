// Package sluice embeds the Sluice streaming SQL engine in a Go program: the native API for what
// database/sql cannot express (changelog kinds, runtime modes, job handles, Go functions and Go iterators
// as tables). For database/sql, import github.com/sluicesql/sluice/driver.
//
//	eng, err := sluice.Open(sluice.WithRuntimeMode(sluice.Batch))
//	defer eng.Close()
//	err = eng.Exec(ctx, `CREATE TABLE t (...) WITH ('connector' = 'datagen', 'number-of-rows' = '10')`)
//	rows, err := eng.Query(ctx, "SELECT k, COUNT(*) FROM t GROUP BY k")
//	for rows.Next() { fmt.Println(rows.Kind(), rows.Values()) }
//	job, err := eng.Execute(ctx, "INSERT INTO sink SELECT ...") // a running job: Wait, Cancel, Status, Metrics
//
// Values are Go values as the driver maps them (see the driver package doc): BIGINT → int64, DOUBLE →
// float64, STRING → string, DECIMAL → Decimal, TIMESTAMP → time.Time, NULL → nil, and so on.
package sluice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync"
	"time"

	"github.com/sluicesql/sluice/changelog"
	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/driver"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Kind is the change a row carries: Insert (+I), UpdateBefore (-U), UpdateAfter (+U), Delete (-D).
type Kind = changelog.Kind

// The changelog kinds.
const (
	Insert       = changelog.Insert
	UpdateBefore = changelog.UpdateBefore
	UpdateAfter  = changelog.UpdateAfter
	Delete       = changelog.Delete
)

// Decimal is an exact DECIMAL value as its text ("12.50").
type Decimal = driver.Decimal

// RuntimeMode is execution.runtime-mode.
type RuntimeMode uint8

const (
	// Streaming (the default): results are changelogs; aggregates emit +I, then -U/+U as they change.
	Streaming RuntimeMode = iota
	// Batch: every source must be bounded; results are final +I rows.
	Batch
	// Automatic: batch when every source of a statement is bounded, else streaming.
	Automatic
)

// String returns the option value: streaming, batch, automatic.
func (m RuntimeMode) String() string {
	switch m {
	case Streaming:
		return engine.ModeStreaming
	case Batch:
		return engine.ModeBatch
	case Automatic:
		return engine.ModeAutomatic
	}
	return fmt.Sprintf("RuntimeMode(%d)", uint8(m))
}

// ErrClosed is returned by the methods of a closed Engine.
var ErrClosed = errors.New("sluice: engine is closed")

// Option configures Open.
type Option func(*config) error

type config struct {
	opts           map[string]string
	stdout, stderr io.Writer
}

// WithRuntimeMode sets execution.runtime-mode.
func WithRuntimeMode(m RuntimeMode) Option {
	return func(c *config) error {
		if m > Automatic {
			return fmt.Errorf("WithRuntimeMode: unknown mode %s (want Streaming, Batch or Automatic)", m)
		}
		c.opts["execution.runtime-mode"] = m.String()
		return nil
	}
}

// WithOption sets a session option, as SET 'key' = 'value' does (e.g. "table.local-time-zone", "UTC").
func WithOption(key, value string) Option {
	return func(c *config) error {
		if key == "" {
			return errors.New("WithOption: empty key")
		}
		c.opts[key] = value
		return nil
	}
}

// WithOutput sets where print sinks write (os.Stdout and os.Stderr by default).
func WithOutput(stdout, stderr io.Writer) Option {
	return func(c *config) error {
		c.stdout, c.stderr = stdout, stderr
		return nil
	}
}

// Engine is an embedded Sluice session: one catalog, one set of session options, its jobs and registered
// Go functions and sources. Its methods may be called from several goroutines; statements are executed
// one at a time (queries and jobs then run concurrently).
type Engine struct {
	sess    *engine.Session
	sources *goSources

	mu     sync.Mutex
	closed bool
}

// Open starts an engine. Options are validated here, in order; the first bad one is reported.
func Open(opts ...Option) (*Engine, error) {
	c := &config{opts: map[string]string{}}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("sluice: %w", err)
		}
	}
	srcs := &goSources{byName: map[string]*goSource{}}
	sess, err := engine.NewSession(engine.Config{
		Options:    c.opts,
		Stdout:     c.stdout,
		Stderr:     c.stderr,
		Connectors: connbuiltin.Registry().With(&goIteratorFactory{sources: srcs}),
	})
	if err != nil {
		return nil, fmt.Errorf("sluice: %w", err)
	}
	return &Engine{sess: sess, sources: srcs}, nil
}

// Session returns the engine's session, for lower-level access.
func (e *Engine) Session() *engine.Session { return e.sess }

func (e *Engine) check() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	return nil
}

// Close cancels the running jobs and waits for them to stop (their sinks are flushed). Queries still open
// are cancelled through their contexts or Rows.Close. Close is safe to call more than once.
func (e *Engine) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.sess.CancelJobs()
	return e.sess.Close() // the Prometheus endpoint ('metrics.reporter.prom.port')
}

// MetricsAddr returns the address of the engine's Prometheus endpoint ("127.0.0.1:9249"), or "" when the
// option 'metrics.reporter.prom.port' is not set. It serves the running jobs' counters under Flink's metric
// names (docs/OBSERVABILITY.md); Job.Metrics returns the same numbers.
func (e *Engine) MetricsAddr() string { return e.sess.MetricsAddr() }

// SetRuntimeMode switches execution.runtime-mode for the statements that follow, like Flink's
// TableConfig / EnvironmentSettings.inBatchMode.
func (e *Engine) SetRuntimeMode(m RuntimeMode) error {
	if m > Automatic {
		return fmt.Errorf("sluice: unknown runtime mode %s (want Streaming, Batch or Automatic)", m)
	}
	return e.Set("execution.runtime-mode", m.String())
}

// Set sets a session option, as SET 'key' = 'value' does.
func (e *Engine) Set(key, value string) error {
	if err := e.check(); err != nil {
		return err
	}
	if err := e.sess.Set(key, value); err != nil {
		return fmt.Errorf("sluice: %w", err)
	}
	return nil
}

func params(args []any) ([]types.Value, error) {
	if len(args) == 0 {
		return nil, nil
	}
	out := make([]types.Value, len(args))
	for i, a := range args {
		v, err := driver.ParamValue(a)
		if err != nil {
			return nil, fmt.Errorf("sluice: parameter %d: %w", i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

// Exec runs the statements of script in order (DDL, SET/RESET, INSERT, statement sets). An INSERT waits for
// its job: it returns at the end of bounded input; over an unbounded source it runs until ctx is cancelled
// (the job is then cancelled, its sinks flushed, and ctx.Err() returned). Use Execute for a job that runs
// on its own. Queries are refused: use Query. Positional parameters (? or $n) need a single statement.
func (e *Engine) Exec(ctx context.Context, script string, args ...any) error {
	if err := e.check(); err != nil {
		return err
	}
	ps, err := params(args)
	if err != nil {
		return err
	}
	stmts, err := sql.ParseScript(script)
	if err != nil {
		return err
	}
	if len(ps) > 0 && len(stmts) > 1 {
		return fmt.Errorf("sluice: parameters need a single statement; the script has %d", len(stmts))
	}
	for _, st := range stmts {
		res, err := e.sess.ExecuteWithParams(ctx, st, ps)
		if err != nil {
			return err
		}
		switch res.Kind {
		case engine.ResultJob:
			if err := res.Job.Wait(ctx); err != nil {
				if ctx.Err() != nil {
					res.Job.Cancel()
					return ctx.Err()
				}
				return err
			}
		case engine.ResultQuery:
			_ = res.Query.Close()
			p := st.Position()
			return fmt.Errorf("sluice: %d:%d: Exec got a query; use Query to read its rows", p.Line, p.Col)
		}
	}
	return nil
}

// Execute runs one statement. An INSERT or statement set returns its running job, which is not tied to ctx:
// it runs until its input ends, Job.Cancel, or Engine.Close. Other statements (DDL, SET) run to completion
// and return a nil Job. Queries are refused: use Query.
func (e *Engine) Execute(ctx context.Context, stmt string, args ...any) (*Job, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	ps, err := params(args)
	if err != nil {
		return nil, err
	}
	st, err := sql.ParseStatement(stmt)
	if err != nil {
		return nil, err
	}
	res, err := e.sess.ExecuteWithParams(ctx, st, ps)
	if err != nil {
		return nil, err
	}
	switch res.Kind {
	case engine.ResultJob:
		return &Job{j: res.Job}, nil
	case engine.ResultQuery:
		_ = res.Query.Close()
		return nil, errors.New("sluice: Execute got a query; use Query to read its rows")
	}
	return nil, nil
}

// Query runs a query (SELECT, VALUES, SHOW, DESCRIBE, EXPLAIN) and returns its rows as they are produced.
// The query runs until its input ends, ctx is cancelled, or Rows.Close. In streaming mode over unbounded
// sources it never ends by itself. Always Close the rows.
func (e *Engine) Query(ctx context.Context, q string, args ...any) (*Rows, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	ps, err := params(args)
	if err != nil {
		return nil, err
	}
	st, err := sql.ParseStatement(q)
	if err != nil {
		return nil, err
	}
	res, err := e.sess.ExecuteWithParams(ctx, st, ps)
	if err != nil {
		return nil, err
	}
	r := &Rows{ctx: ctx, loc: e.sess.Location(), batch: res.Batch}
	switch res.Kind {
	case engine.ResultQuery:
		r.q = res.Query
		r.cols = res.Columns
	case engine.ResultTable:
		r.cols = res.Columns
		r.static = res.Rows
	case engine.ResultOK:
		r.cols = []engine.Column{{Name: "result", Type: types.StringType()}}
		r.static = [][]types.Value{{types.StringValue(res.Message)}}
	case engine.ResultJob:
		if err := res.Job.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				res.Job.Cancel()
				return nil, ctx.Err()
			}
			return nil, err
		}
	}
	r.columns = make([]Column, len(r.cols))
	for i, c := range r.cols {
		r.columns[i] = Column{Name: c.Name, Type: c.Type.String()}
	}
	return r, nil
}

// RegisterFunction makes fn callable from SQL as name (case-insensitive), a scalar function. fn's
// arguments and result are Go types among int64, int32, float64, string, []byte, bool, time.Time and
// *big.Rat, optionally with an error as second result; calls are type-checked when a query is planned.
// NULL arguments give a NULL result without calling fn. See expr.UDF for the full mapping.
func (e *Engine) RegisterFunction(name string, fn any) error {
	if err := e.check(); err != nil {
		return err
	}
	u, err := expr.NewUDF(name, fn)
	if err != nil {
		return fmt.Errorf("sluice: register %w", err)
	}
	return e.sess.RegisterFunction(u)
}

// Job is a running INSERT or statement set.
type Job struct{ j *engine.Job }

// JobStatus is RUNNING, FINISHED, FAILED or CANCELED.
type JobStatus = engine.JobStatus

// JobMetrics are a job's counters: rows read by its sources, rows written to its sinks, rates, lag,
// watermark, restarts, checkpoints, and each operator's counters (docs/OBSERVABILITY.md).
type JobMetrics = engine.JobMetrics

// OperatorMetrics are one operator's counters (Flink's numRecordsIn, numRecordsOut, ...).
type OperatorMetrics = engine.OperatorMetrics

// NoWatermark is the watermark of an operator or job that has not seen one yet.
const NoWatermark = engine.NoWatermark

// ID is the job's identifier (as SHOW JOBS lists it).
func (j *Job) ID() string { return j.j.ID() }

// Wait blocks until the job ends or ctx is done; it returns the job's error (nil when it finished or was
// cancelled through Cancel) or ctx.Err(). The job keeps running when ctx is done.
func (j *Job) Wait(ctx context.Context) error { return j.j.Wait(ctx) }

// Cancel stops the job, flushes its sinks and waits for it to end.
func (j *Job) Cancel() { j.j.Cancel() }

// Status reports the job's state.
func (j *Job) Status() JobStatus { return j.j.Status() }

// Metrics returns the job's counters so far (the numbers the Prometheus endpoint serves).
func (j *Job) Metrics() JobMetrics { return j.j.Metrics() }

// Name is the job's name ('pipeline.name', or insert-into_<table>).
func (j *Job) Name() string { return j.j.Name() }

// Column is a column of a Go source or of a result: its name and SQL type ("BIGINT", "DECIMAL(10, 2)",
// "TIMESTAMP(3)", "STRING NOT NULL").
type Column struct {
	Name string
	Type string
}

// Rows is a query's changelog, read with Next.
//
// Contract: Next blocks until a row is available, the query ends (false; Err says whether with an error) or
// the query's ctx is done (false; Err returns ctx.Err()). Kind, Values and Row describe the current row.
// Rows is not safe for concurrent use. Close cancels the query and waits for it to stop.
type Rows struct {
	ctx     context.Context
	loc     *time.Location
	cols    []engine.Column
	columns []Column
	q       *engine.QueryResult
	static  [][]types.Value
	batch   bool
	cur     changelog.Row
	err     error
	done    bool
	closed  bool
}

// Columns are the result's columns.
func (r *Rows) Columns() []Column { return r.columns }

// Batch reports whether the query ran in batch mode (every row is a final +I).
func (r *Rows) Batch() bool { return r.batch }

// Next advances to the next row.
func (r *Rows) Next() bool {
	if r.done || r.closed {
		return false
	}
	if r.q == nil {
		if len(r.static) == 0 {
			r.done = true
			return false
		}
		r.cur = changelog.Row{Kind: Insert, Vals: r.static[0]}
		r.static = r.static[1:]
		return true
	}
	row, ok := r.q.Next(r.ctx)
	if !ok {
		r.done = true
		if err := r.q.Err(); err != nil {
			r.err = err
		} else if err := r.ctx.Err(); err != nil {
			r.err = err
		}
		return false
	}
	r.cur = row
	return true
}

// Kind is the current row's changelog kind.
func (r *Rows) Kind() Kind { return r.cur.Kind }

// Values returns the current row as Go values (a new slice; see the package doc for the mapping).
func (r *Rows) Values() []any {
	out := make([]any, len(r.cur.Vals))
	for i, v := range r.cur.Vals {
		g, err := driver.GoValue(v, r.cols[i].Type, r.loc)
		if err != nil {
			g = err.Error()
		}
		out[i] = g
	}
	return out
}

// Row returns the current row for typed access without conversion to interfaces. It is valid until Close
// (the values are the row's own).
func (r *Rows) Row() Row { return Row{kind: r.cur.Kind, vals: r.cur.Vals, cols: r.cols, loc: r.loc} }

// Scan copies the current row's columns into dest, which must have one pointer per column, with the same
// conversions as database/sql's Rows.Scan for this driver (see Row.Scan).
func (r *Rows) Scan(dest ...any) error { return r.Row().Scan(dest...) }

// Err is the error that ended the rows: the query's failure, or ctx.Err() when its context was cancelled.
func (r *Rows) Err() error { return r.err }

// Close cancels the query (when it still runs) and waits for it to stop.
func (r *Rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.q != nil {
		if err := r.q.Close(); err != nil && r.err == nil {
			return err
		}
	}
	return nil
}

// All iterates over the remaining rows as kinds and Go values, then closes the rows; check Err afterwards.
// Stopping the loop early closes the rows too.
func (r *Rows) All() iter.Seq2[Kind, []any] {
	return func(yield func(Kind, []any) bool) {
		defer r.Close()
		for r.Next() {
			if !yield(r.Kind(), r.Values()) {
				return
			}
		}
	}
}

// Row is one changelog row with typed accessors. An accessor called on a NULL, or on a column whose type it
// does not read, returns the zero value; use Scan for checked conversion.
type Row struct {
	kind Kind
	vals []types.Value
	cols []engine.Column
	loc  *time.Location
}

// Kind is the row's changelog kind.
func (r Row) Kind() Kind { return r.kind }

// Len is the number of columns.
func (r Row) Len() int { return len(r.vals) }

// IsNull reports whether column i is NULL.
func (r Row) IsNull(i int) bool { return r.vals[i].IsNull() }

func (r Row) kindOf(i int) types.Kind { return r.cols[i].Type.Kind }

func isIntKind(k types.Kind) bool {
	switch k {
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.IntervalYearMonth, types.IntervalDayTime:
		return true
	}
	return false
}

// Int64 reads an integer (or interval) column.
func (r Row) Int64(i int) int64 {
	if v := r.vals[i]; !v.IsNull() && isIntKind(r.kindOf(i)) {
		return v.Int()
	}
	return 0
}

// Float64 reads a FLOAT or DOUBLE column, converting integers and decimals.
func (r Row) Float64(i int) float64 {
	v := r.vals[i]
	if v.IsNull() {
		return 0
	}
	switch k := r.kindOf(i); {
	case k == types.Float || k == types.Double:
		return v.Float()
	case k == types.Decimal:
		return types.DecimalToFloat(v)
	case isIntKind(k):
		return float64(v.Int())
	}
	return 0
}

// String reads a CHAR or VARCHAR column without copying; other types are rendered as SQL text (as the
// sql-client prints them). NULL is "".
func (r Row) String(i int) string {
	v := r.vals[i]
	if v.IsNull() {
		return ""
	}
	switch r.kindOf(i) {
	case types.Char, types.VarChar:
		return v.Str()
	}
	return string(types.AppendSQL(nil, v, r.cols[i].Type, r.loc))
}

// Bool reads a BOOLEAN column.
func (r Row) Bool(i int) bool {
	return r.kindOf(i) == types.Boolean && !r.vals[i].IsNull() && r.vals[i].Bool()
}

// Bytes reads a BINARY or VARBINARY column (a new slice).
func (r Row) Bytes(i int) []byte {
	if v := r.vals[i]; !v.IsNull() && (r.kindOf(i) == types.Binary || r.kindOf(i) == types.VarBinary) {
		return v.Bytes()
	}
	return nil
}

// Decimal reads a DECIMAL column as exact text.
func (r Row) Decimal(i int) Decimal {
	if v := r.vals[i]; !v.IsNull() && r.kindOf(i) == types.Decimal {
		return Decimal(types.AppendSQL(nil, v, r.cols[i].Type, r.loc))
	}
	return ""
}

// Time reads a DATE, TIME, TIMESTAMP (UTC holding the wall clock) or TIMESTAMP_LTZ (the instant in the
// session time zone) column.
func (r Row) Time(i int) time.Time {
	switch r.kindOf(i) {
	case types.Date, types.Time, types.Timestamp, types.TimestampLTZ:
		if g, err := driver.GoValue(r.vals[i], r.cols[i].Type, r.loc); err == nil && g != nil {
			return g.(time.Time)
		}
	}
	return time.Time{}
}

// Value returns column i as a Go value (see the package doc).
func (r Row) Value(i int) any {
	g, err := driver.GoValue(r.vals[i], r.cols[i].Type, r.loc)
	if err != nil {
		return err.Error()
	}
	return g
}

// Scan copies the row's columns into dest: *int64, *int, *float64, *string, *bool, *[]byte, *time.Time,
// *Decimal or *any, with the driver's mapping. A NULL scans into *any as nil and is an error for other
// destinations.
func (r Row) Scan(dest ...any) error {
	if len(dest) != len(r.vals) {
		return fmt.Errorf("sluice: Scan: got %d destinations for %d columns", len(dest), len(r.vals))
	}
	for i, d := range dest {
		g, err := driver.GoValue(r.vals[i], r.cols[i].Type, r.loc)
		if err != nil {
			return fmt.Errorf("sluice: Scan column %s: %w", r.cols[i].Name, err)
		}
		if err := assign(d, g); err != nil {
			return fmt.Errorf("sluice: Scan column %d (%s %s): %w", i+1, r.cols[i].Name, r.cols[i].Type, err)
		}
	}
	return nil
}

func assign(dest, src any) error {
	if p, ok := dest.(*any); ok {
		*p = src
		return nil
	}
	if src == nil {
		return fmt.Errorf("NULL cannot be stored in %T; scan into *any", dest)
	}
	switch d := dest.(type) {
	case *int64:
		if v, ok := src.(int64); ok {
			*d = v
			return nil
		}
	case *int:
		if v, ok := src.(int64); ok {
			*d = int(v)
			return nil
		}
	case *float64:
		switch v := src.(type) {
		case float64:
			*d = v
			return nil
		case int64:
			*d = float64(v)
			return nil
		}
	case *string:
		switch v := src.(type) {
		case string:
			*d = v
			return nil
		case Decimal:
			*d = string(v)
			return nil
		}
	case *bool:
		if v, ok := src.(bool); ok {
			*d = v
			return nil
		}
	case *[]byte:
		if v, ok := src.([]byte); ok {
			*d = v
			return nil
		}
	case *time.Time:
		if v, ok := src.(time.Time); ok {
			*d = v
			return nil
		}
	case *Decimal:
		if v, ok := src.(Decimal); ok {
			*d = v
			return nil
		}
	default:
		return fmt.Errorf("unsupported destination %T", dest)
	}
	return fmt.Errorf("cannot store %T in %T", src, dest)
}

// quoteIdent backquotes a name for SQL text.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// CheckpointInfo describes a job's latest completed checkpoint (ID 0: none yet).
type CheckpointInfo = engine.CheckpointInfo

// LastCheckpoint returns the job's latest completed checkpoint.
func (j *Job) LastCheckpoint() CheckpointInfo { return j.j.LastCheckpoint() }

// StopWithSavepoint stops a streaming job as Flink's STOP JOB ... WITH SAVEPOINT does: it writes a savepoint
// under dir (drain: after the maximum watermark has fired every window and timer), lets no row pass after it,
// then cancels the job. It returns the savepoint's path, for 'execution.savepoint.path'. When ctx is done
// before the savepoint is written, the stop fails at once and the job keeps running (with drain: it fails
// over), as a stop whose savepoint cannot be written does.
func (j *Job) StopWithSavepoint(ctx context.Context, dir string, drain bool) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("StopWithSavepoint: give the directory for the savepoint")
	}
	return j.j.Stop(ctx, dir, drain)
}

// Savepoint returns the savepoint a finished batch job wrote ('sluice.batch.savepoint-dir'), or "".
func (j *Job) Savepoint() string { return j.j.Savepoint() }
