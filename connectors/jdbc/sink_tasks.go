package jdbc

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
)

// A batch job writes a jdbc sink with several tasks (connectors.TaskSink: 'sink.parallelism', else the job's
// parallelism), as Flink's jdbc sink at that parallelism. Every task attempt writes through an output as
// Open makes: a connection of its own, its own buffer flushed at 'sink.buffer-flush.max-rows' and
// '.interval', each flush one transaction retried 'sink.max-retries' times.
//
//   - With a PRIMARY KEY the engine hashes the rows by the key in front of the tasks (KeyedTaskSink), so every
//     change of a key is written by one task, in order, and the writes are upserts and deletes: a failed
//     attempt's flushed rows stay and its rerun writes the same changes of the same keys again, ending at the
//     same values (idempotent).
//   - Without a key (append) a failed attempt's flushed rows stay and its rerun inserts them again: the
//     sink is at-least-once across a task rerun, as Flink's jdbc sink after a failover.
//
// A task's writer flushes its buffer when the task's input ended (connectors.SubtaskFlusher), so a write
// that fails after 'sink.max-retries' fails that task alone, which is rerun. A failed attempt's writer is
// discarded: its buffer is dropped and its connection closed. End closes the connections (flushing what a
// cancelled job's tasks were given, as the pipelined sink); a job that fails drops the buffers (the rows
// flushed so far stay, as with one task).

var (
	_ connectors.TaskSink        = (*sink)(nil)
	_ connectors.KeyedTaskSink   = keyedSink{}
	_ connectors.TaskOutput      = (*taskOutput)(nil)
	_ connectors.TaskSinkFactory = (*Factory)(nil)
	_ connectors.SubtaskFlusher  = (*taskWriter)(nil)
)

// BatchSinkTasks reports that jdbc sinks run as several tasks in batch jobs ('sink.parallelism').
func (*Factory) BatchSinkTasks() bool { return true }

// keyedSink is the sink of a table with a PRIMARY KEY (upserts): a connectors.KeyedTaskSink. A table
// without one is a plain TaskSink, its rows dealt to the tasks as the engine likes (an empty key would make
// the engine write it with one task).
type keyedSink struct{ *sink }

// TaskKeys are the primary key columns: every change of a key goes through one task.
func (s keyedSink) TaskKeys() []int { return s.cfg.pk }

// OpenTasks checks the database table once for the sink stage (so a wrong table fails the job before any
// task runs, not every task attempt); the tasks connect on their own.
func (s *sink) OpenTasks(ctx context.Context) (connectors.TaskOutput, error) {
	c := s.cfg
	conn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	err = c.checkColumns(ctx, conn)
	if err == nil {
		err = c.checkUpsertKey(ctx, conn)
	}
	conn.Close(context.Background())
	if err != nil {
		return nil, err
	}
	return &taskOutput{s: s, ctx: ctx}, nil
}

// taskOutput is the Output of a jdbc sink stage with several tasks. The rows come through the writers.
type taskOutput struct {
	s   *sink
	ctx context.Context

	mu      sync.Mutex
	writers []*taskWriter // not discarded (under mu)
	ended   bool
}

// taskWriter is the output of one task attempt.
type taskWriter struct {
	o    *output
	task int
}

func (w *taskWriter) Push(b *changelog.Batch) error { return w.o.Push(b) }

// Flush writes what the task buffered when its input ended: a failed write fails the task, which is rerun.
func (w *taskWriter) Flush() error {
	w.o.mu.Lock()
	defer w.o.mu.Unlock()
	if w.o.err != nil {
		return w.o.err
	}
	return w.o.flushLocked(w.o.ctx)
}

// NewSubtaskWriter connects the writer of an attempt of task i.
func (t *taskOutput) NewSubtaskWriter(i int) (connectors.SubtaskWriter, error) {
	o, err := t.s.open(t.ctx, false)
	if err != nil {
		return nil, fmt.Errorf("task %d: %w", i+1, err)
	}
	w := &taskWriter{o: o, task: i}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		_ = o.Abort()
		return nil, fmt.Errorf("jdbc sink '%s': the sink stage already ended", t.s.cfg.table.Name)
	}
	t.writers = append(t.writers, w)
	return w, nil
}

// DiscardSubtaskWriter drops what the failed attempt's writer buffered and closes its connection; the
// rows it flushed stay (its rerun writes them again: upserts end at the same values, appends duplicate).
func (t *taskOutput) DiscardSubtaskWriter(sw connectors.SubtaskWriter) error {
	w, ok := sw.(*taskWriter)
	if !ok {
		return fmt.Errorf("jdbc sink '%s': discarding a writer of another sink", t.s.cfg.table.Name)
	}
	t.mu.Lock()
	for i, x := range t.writers {
		if x == w {
			t.writers = append(t.writers[:i], t.writers[i+1:]...)
			break
		}
	}
	t.mu.Unlock()
	return w.o.Abort()
}

// Push is not used: the tasks push through their writers.
func (t *taskOutput) Push(b *changelog.Batch) error {
	if len(b.Rows) == 0 {
		return nil
	}
	return fmt.Errorf("jdbc sink '%s': a sink stage with several tasks takes rows through its task writers", t.s.cfg.table.Name)
}

func (t *taskOutput) Watermark(int64) error { return nil }

func (t *taskOutput) take() []*taskWriter {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ended = true
	ws := t.writers
	t.writers = nil
	return ws
}

// End flushes every task's buffer and closes its connection.
func (t *taskOutput) End() error {
	var errs []error
	for _, w := range t.take() {
		if err := w.o.End(); err != nil {
			errs = append(errs, fmt.Errorf("task %d: %w", w.task+1, err))
		}
	}
	return errors.Join(errs...)
}

// Abort drops the tasks' buffers and closes their connections.
func (t *taskOutput) Abort() error {
	for _, w := range t.take() {
		_ = w.o.Abort()
	}
	return nil
}
