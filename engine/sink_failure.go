package engine

import (
	"errors"
	"strings"
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/vec"
)

// A sink's failure. Every call into a streaming sink's connector goes through its endOnce (graph.go): the
// Output's own Push, Watermark and End, and the writers and encoders that subtasks write it through without
// the graph lock (concurrent writers of source, keyed and sink subtasks, pipeline_sink.go, exchange_sink.go,
// pipeline_reuse.go; encoders of kafka and upsert-kafka, pipeline.go, exchange_sink.go). The first error is
// recorded there (final() then publishes no positions), named after the sink, and fails the job: a later
// write by another subtask of the same sink returns it at once instead of writing on.
//
// The error is a sinkError, a failure of the job even when it wraps context.Canceled: a sink is opened
// without the job's context, so a cancellation it reports is its own (a client that gave up on a context of
// its own), never the user's STOP or cancel. Before, such an error was taken for the job's cancellation: the
// job ended CANCELLED with no error and final() published nothing.

// sinkError is an error a sink's connector returned.
type sinkError struct {
	sink string // the sink table's name
	err  error
}

func (e *sinkError) Error() string {
	if e.sink == "" {
		return e.err.Error()
	}
	return "sink " + e.sink + ": " + e.err.Error()
}

func (e *sinkError) Unwrap() error { return e.err }

// isSinkError reports whether err is (or wraps) the error of a sink's connector.
func isSinkError(err error) bool {
	var se *sinkError
	return errors.As(err, &se)
}

// unnameSink returns err, for a message that begins with what (a staged job's stage, "stage 3 (Sink: out_t)"),
// without the sink's name in front when what names the sink already: "stage 3 (Sink: out_t): disk full",
// not "stage 3 (Sink: out_t): sink out_t: disk full". It unwraps to err.
func unnameSink(err error, what string) error {
	var se *sinkError
	if !errors.As(err, &se) || se.sink == "" || !strings.Contains(what, "(Sink: "+se.sink+")") {
		return err
	}
	msg, ok := strings.CutPrefix(err.Error(), "sink "+se.sink+": ")
	if !ok {
		return err
	}
	return &unnamedSinkError{msg: msg, err: err}
}

// unnamedSinkError is a sink's error whose message leaves out the sink's name (unnameSink).
type unnamedSinkError struct {
	msg string
	err error
}

func (e *unnamedSinkError) Error() string { return e.msg }
func (e *unnamedSinkError) Unwrap() error { return e.err }

// note records err, the result of a call into the sink's connector, as the sink's failure (the first one
// wins) and returns it as a sinkError.
func (e *endOnce) note(err error) error {
	if err == nil {
		return nil
	}
	if !isSinkError(err) {
		err = &sinkError{sink: e.name, err: err}
	}
	first := new(error) // not &err: that moves err to the heap on every call, nil or not
	*first = err
	e.failed.CompareAndSwap(nil, first)
	if h := sinkFailureNoted.Load(); h != nil {
		(*h)(e, err)
	}
	return err
}

// sinkFailureNoted is a test hook, nil outside tests: when set, note calls it after it recorded an error of
// sink e (a test that fails a sink's writer learns there when the other writers see the failure). Only the
// error path loads it.
var sinkFailureNoted atomic.Pointer[func(e *endOnce, err error)]

// failure returns the sink's first error, nil while it has none.
func (e *endOnce) failure() error {
	if p := e.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// sinkOf returns the endOnce of the sink whose connector Output is out, nil for none.
func (g *graph) sinkOf(out any) *endOnce {
	for _, s := range g.sinks {
		if sameValue(s.out, out) {
			return s
		}
	}
	return nil
}

// notedWriter is a subtask's writer of sink e: its writes go through e's failure check and record.
type notedWriter struct {
	w    connectors.SubtaskWriter
	cols columnWriter // w when it takes columns
	e    *endOnce
}

// noteWriter routes w, a writer of sink e, through e (w itself when e is nil).
func noteWriter(e *endOnce, w connectors.SubtaskWriter) connectors.SubtaskWriter {
	if e == nil {
		return w
	}
	cols, _ := w.(columnWriter)
	return &notedWriter{w: w, cols: cols, e: e}
}

func (w *notedWriter) Push(b *changelog.Batch) error {
	if err := w.e.failure(); err != nil {
		return err // another writer of the sink failed: the job fails, nothing more is written
	}
	return w.e.note(w.w.Push(b))
}

func (w *notedWriter) PushColumns(b *vec.Batch) error {
	if err := w.e.failure(); err != nil {
		return err
	}
	return w.e.note(w.cols.PushColumns(b))
}

func (w *notedWriter) AcceptsColumns() bool { return w.cols != nil && w.cols.AcceptsColumns() }

// notedEncoder is a subtask's encoder of sink e: Encode and Write go through e's failure check and record.
type notedEncoder struct {
	enc connectors.SubtaskEncoder
	e   *endOnce
}

// noteEncoder routes enc, an encoder of the sink whose connector Output is out, through the sink's endOnce
// (enc itself for a writer seen as an encoder, whose writer is noted).
func (g *graph) noteEncoder(out any, enc connectors.SubtaskEncoder) connectors.SubtaskEncoder {
	e := g.sinkOf(out)
	if e == nil {
		return enc
	}
	return &notedEncoder{enc: enc, e: e}
}

func (n *notedEncoder) Encode(b *changelog.Batch) error {
	if err := n.e.failure(); err != nil {
		return err
	}
	return n.e.note(n.enc.Encode(b))
}

func (n *notedEncoder) Write() error { return n.e.note(n.enc.Write()) }
