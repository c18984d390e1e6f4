package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sluicesql/sluice/sql"
)

// NoWatermark is the watermark of an operator or job that has not seen one yet.
const NoWatermark int64 = noWatermark

// OperatorMetrics are the counters of one operator (plan node) of a job, named like Flink's operator
// metrics.
type OperatorMetrics struct {
	ID   int    // 1-based, inputs before the operators that read them
	Name string // "Calc[2]": the operator's kind and ID (Flink's simplified operator names)
	// Description is the operator as EXPLAIN prints it.
	Description string
	// RecordsIn and RecordsOut are Flink's numRecordsIn and numRecordsOut: rows received and emitted (a
	// source's rows in are the rows it read; a sink's rows out are the rows it wrote).
	RecordsIn, RecordsOut int64
	// RecordsInPerSecond and RecordsOutPerSecond are their rates over the last 5 s.
	RecordsInPerSecond, RecordsOutPerSecond float64
	// InputWatermark is Flink's currentInputWatermark (the minimum over the inputs), OutputWatermark the
	// last watermark the operator emitted; NoWatermark when none.
	InputWatermark, OutputWatermark int64
	// Lag (sources) is the total number of records behind, LagMax the largest per partition (Kafka's
	// records-lag-max); -1 when the source does not report it.
	Lag, LagMax int64
	Inputs      []int // IDs of the operator's inputs
	// ChangelogMode is the kinds of rows the operator emits, as EXPLAIN CHANGELOG_MODE prints them: "I",
	// "I,UB,UA,D", ...
	ChangelogMode string
}

// Metrics returns the job's counters so far; safe to call at any time, also after the job ended.
func (j *Job) Metrics() JobMetrics {
	jm := &j.metrics
	m := JobMetrics{
		RowsIn: j.rowsInTotal(), RowsOut: j.rowsOutTotal(),
		RecordsInPerSecond:  math.Float64frombits(jm.rateIn.Load()),
		RecordsOutPerSecond: math.Float64frombits(jm.rateOut.Load()),
		Lag:                 -1, Watermark: NoWatermark,
		Restarts: jm.restarts.Load(), FailedCheckpoints: jm.failedCheckpoints.Load(),
		LastCheckpoint: j.LastCheckpoint(),
		ScaleOut:       j.scaleOut.metrics(), // scaleout_keep.go
	}
	type snap struct {
		o   *opMetrics
		id  int
		lag lagSource
		in  []int
	}
	jm.mu.Lock()
	ops := make([]snap, len(jm.ops))
	for i, o := range jm.ops {
		ops[i] = snap{o: o, id: o.id, lag: o.lag}
		for _, in := range o.inputs {
			ops[i].in = append(ops[i].in, in.id)
		}
	}
	jm.mu.Unlock()
	sinkWM := int64(math.MaxInt64)
	sinks := 0
	for _, sn := range ops {
		o := sn.o
		om := OperatorMetrics{
			ID: sn.id, Name: fmt.Sprintf("%s[%d]", o.kind, sn.id), Description: o.node.Describe(), Inputs: sn.in,
			RecordsIn: o.rowsIn(), RecordsOut: o.rowsOut.Load(),
			RecordsInPerSecond:  o.rateIn(),
			RecordsOutPerSecond: math.Float64frombits(o.rateOut.Load()),
			InputWatermark:      o.inputWatermark(), OutputWatermark: o.wmOut.Load(),
			Lag: -1, LagMax: -1, ChangelogMode: o.node.Mode().Kinds.String(),
		}
		if o.isSink() {
			om.RecordsOut, om.RecordsOutPerSecond = om.RecordsIn, om.RecordsInPerSecond
			om.OutputWatermark = om.InputWatermark
			sinkWM = min(sinkWM, om.InputWatermark)
			sinks++
		}
		if sn.lag != nil {
			if total, mx, ok := sn.lag.RecordsLag(); ok {
				om.Lag, om.LagMax = total, mx
				m.Lag = max(m.Lag, 0) + total
			}
		}
		m.Operators = append(m.Operators, om)
	}
	if sinks > 0 {
		m.Watermark = sinkWM
	}
	sortOperators(m.Operators)
	return m
}

func sortOperators(ops []OperatorMetrics) {
	for i := 1; i < len(ops); i++ {
		for k := i; k > 0 && ops[k].ID < ops[k-1].ID; k-- {
			ops[k], ops[k-1] = ops[k-1], ops[k]
		}
	}
}

// Name is the job's name ('pipeline.name', or insert-into_<table>).
func (j *Job) Name() string { return j.name }

// StartTime is when the job was submitted.
func (j *Job) StartTime() time.Time { return j.start }

// Statement is the text of the job's statement (INSERT INTO ... or EXECUTE STATEMENT SET ...).
func (j *Job) Statement() string { return j.stmt }

// Origin is where the job's statement is: "file:line:col" when it came from a script the client named
// (WithScript), else "line L, column C"; "" when unknown.
func (j *Job) Origin() string { return j.origin }

// Err returns the error that ended the job (nil while it runs, after it finished or was cancelled).
func (j *Job) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// RootCause returns the innermost error of err's chain: the error that started the failure.
func RootCause(err error) error {
	for err != nil {
		next := errors.Unwrap(err)
		if next == nil {
			if m, ok := err.(interface{ Unwrap() []error }); ok && len(m.Unwrap()) > 0 {
				next = m.Unwrap()[0]
			}
		}
		if next == nil {
			return err
		}
		err = next
	}
	return nil
}

type scriptKey struct{}

// WithScript returns a context that tells the session which script the statements executed with it come
// from, so that jobs name their statement as "file:line:col" (SHOW JOBS, DESCRIBE JOB, failure messages).
func WithScript(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, scriptKey{}, name)
}

// OriginOf names position p of a statement executed with ctx as a job's Origin does: "file:line:col" with
// the script of WithScript, else "line L, column C"; "" when p is unknown.
func OriginOf(ctx context.Context, p sql.Pos) string { return originOf(ctx, p) }

// originOf names the position of a job's statement.
func originOf(ctx context.Context, p sql.Pos) string {
	if p.Line == 0 {
		return ""
	}
	if name, ok := ctx.Value(scriptKey{}).(string); ok && name != "" {
		return fmt.Sprintf("%s:%d:%d", name, p.Line, p.Col)
	}
	return fmt.Sprintf("line %d, column %d", p.Line, p.Col)
}
