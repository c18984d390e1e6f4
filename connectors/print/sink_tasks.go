package print

import (
	"context"
	"fmt"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
)

// A batch job prints with several tasks (connectors.TaskSink: 'sink.parallelism', else the job's
// parallelism), as Flink's PrintSink does: every task prints its lines prefixed with its number from 1,
// '2> +I[...]', or with the identifier, 'id:2> +I[...]' (one task prints unnumbered; a streaming job's subtasks print the same way, print.go).
// Lines are printed as they come; a printed line cannot be taken back, so the rows of a failed task attempt
// stay printed and its rerun prints them again (as Flink's print sink after a failover).

var (
	_ connectors.TaskSink   = (*sink)(nil)
	_ connectors.TaskOutput = (*taskOutput)(nil)
)

// BatchSinkTasks reports that print sinks run as several tasks in batch jobs ('sink.parallelism').
func (*Factory) BatchSinkTasks() bool { return true }

// OpenTasks opens the sink for the tasks of a batch sink stage (only made with two tasks or more).
func (s *sink) OpenTasks(context.Context) (connectors.TaskOutput, error) {
	return &taskOutput{sink: s}, nil
}

type taskOutput struct{ sink *sink }

// NewSubtaskWriter returns the writer of an attempt of task i, printing with prefix '<i+1>> '.
func (t *taskOutput) NewSubtaskWriter(i int) (connectors.SubtaskWriter, error) {
	return &output{sink: t.sink, prefix: t.sink.taskPrefix(i)}, nil
}

// DiscardSubtaskWriter prints what the failed attempt's writer still holds: nothing, since every Push
// ends with a write; the lines printed stay.
func (t *taskOutput) DiscardSubtaskWriter(w connectors.SubtaskWriter) error {
	o, ok := w.(*output)
	if !ok {
		return fmt.Errorf("print sink: discarding a writer of another sink")
	}
	o.buf = o.buf[:0]
	return nil
}

// Push is not used: the tasks print through their writers.
func (t *taskOutput) Push(b *changelog.Batch) error {
	if len(b.Rows) == 0 {
		return nil
	}
	return fmt.Errorf("print sink: a sink stage with several tasks takes rows through its task writers")
}

func (t *taskOutput) Watermark(int64) error { return nil }
func (t *taskOutput) End() error            { return nil }
func (t *taskOutput) Abort() error          { return nil }
