// Package blackhole is the 'blackhole' connector: a sink that accepts every change and discards it, for
// performance tests and for queries whose output does not matter.
package blackhole

import (
	"context"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/vec"
)

// Factory is the blackhole connector factory.
type Factory struct{}

// NewFactory returns the blackhole factory.
func NewFactory() *Factory { return &Factory{} }

var _ connectors.SinkFactory = (*Factory)(nil)

func (*Factory) Identifier() string      { return "blackhole" }
func (*Factory) Options() []options.Decl { return nil }

// CreateSink validates the options (there are none besides 'connector') and returns the sink.
func (f *Factory) CreateSink(ctx connectors.Context) (connectors.Sink, error) {
	if _, err := connectors.ValidateOptions(f, ctx.Options); err != nil {
		return nil, err
	}
	return sink{}, nil
}

type sink struct{}

func (sink) Accepts() changelog.KindSet { return changelog.AllKinds.Kinds }

func (sink) Open(context.Context) (changelog.Output, error) { return discard{}, nil }

type discard struct{}

func (discard) Push(*changelog.Batch) error { return nil }
func (discard) Watermark(int64) error       { return nil }
func (discard) End() error                  { return nil }

// PushColumns discards a columnar batch without converting it to rows.
func (discard) PushColumns(*vec.Batch) error { return nil }
func (discard) AcceptsColumns() bool         { return true }

// NewSubtaskWriter returns a writer that discards too: subtasks write the sink without the graph lock (the
// engine counts the rows out).
func (discard) NewSubtaskWriter(int) (connectors.SubtaskWriter, error) { return discard{}, nil }

// OpenTasks, Abort and DiscardSubtaskWriter let a batch job write the sink with several tasks
// (connectors.TaskSink): there is nothing to drop.
func (sink) OpenTasks(context.Context) (connectors.TaskOutput, error) { return discard{}, nil }
func (discard) Abort() error                                          { return nil }
func (discard) DiscardSubtaskWriter(connectors.SubtaskWriter) error   { return nil }

var (
	_ vec.Output                  = discard{}
	_ connectors.ConcurrentOutput = discard{}
	_ connectors.TaskSink         = sink{}
)
