package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
)

// A batch job writes a kafka or upsert-kafka sink with several tasks (connectors.TaskSink, Flink's batch sink
// at 'sink.parallelism', else the job's parallelism). Every task attempt writes through a producer of its
// own (an output as Open makes, so encoding, partitioners and upsert buffering are the single sink's):
//
//   - exactly-once: task i writes one transaction with transactional id '<prefix>-<i>-1' (Flink's
//     '<prefix>-<subtask>-<checkpoint>', checkpoint 1 in a batch job), opened by its first row. End first
//     flushes every task's transaction (a failed flush aborts them all and fails the job), then commits them
//     one by one; Abort (the job failed) aborts them. A failed attempt's writer is discarded: its transaction
//     is aborted, and the rerun attempt initializes the same transactional id, which fences the failed
//     attempt's producer should it still be alive, so a rerun task never duplicates a row for
//     read_committed readers. Between the flushes and the commits End records a commit intent in
//     'io.tmp.dirs', which the next run of the statement rolls forward (a process killed during the commits
//     is completed by it, which then writes nothing); without an intent the next run aborts what a killed
//     run left open under the recorded number of tasks' ids (sink_tasks_commit.go).
//   - at-least-once / none: each task's producer writes as it goes and End flushes them all; the rows of a
//     failed attempt stay in the topic and its rerun writes them again (duplicates, as Flink's at-least-once).
//   - 'sink.partitioner' = 'fixed': task i writes to partition i % <partitions of the topic>, as Flink's
//     FlinkFixedPartitioner.
//   - a cancelled job: exactly-once aborts every task's transaction (as the pipelined sink aborts its open
//     one); the other guarantees flush what the tasks were given.
//   - upsert-kafka: the engine hashes the rows by the primary key in front of the tasks (TaskKeys), so every
//     change of a key is written by one task, in order.

var (
	_ connectors.TaskSink      = (*sink)(nil)
	_ connectors.KeyedTaskSink = (*upsertSink)(nil)
	_ connectors.TaskOutput    = (*taskOutput)(nil)
	_ connectors.CancelAborter = (*taskOutput)(nil)
)

// BatchSinkTasks reports that kafka sinks run as several tasks in batch jobs ('sink.parallelism').
func (*Factory) BatchSinkTasks() bool { return true }

// BatchSinkTasks reports that upsert-kafka sinks run as several tasks in batch jobs ('sink.parallelism').
func (*UpsertFactory) BatchSinkTasks() bool { return true }

// OpenTasks opens the kafka sink for the tasks of a batch sink stage.
func (s *sink) OpenTasks(ctx context.Context) (connectors.TaskOutput, error) {
	return &taskOutput{s: s, name: s.cfg.table.Name, ctx: ctx, exactlyOnce: s.guarantee == guaranteeExactlyOnce, open: func(ctx context.Context) (*output, changelog.Output, error) {
		o, err := s.open(ctx)
		return o, o, err
	}}, nil
}

// OpenTasks opens the upsert-kafka sink for the tasks of a batch sink stage.
func (s *upsertSink) OpenTasks(ctx context.Context) (connectors.TaskOutput, error) {
	return &taskOutput{s: s.sink, name: s.cfg.table.Name, ctx: ctx, open: func(ctx context.Context) (*output, changelog.Output, error) {
		u, err := s.openUpsert(ctx)
		if err != nil {
			return nil, nil, err
		}
		return u.output, u, nil
	}}, nil
}

// TaskKeys are the primary key columns: every change of a key must go to one task.
func (s *upsertSink) TaskKeys() []int { return s.cfg.pkPositions() }

// taskOutput is the Output of a kafka sink stage with several tasks. The rows come through the writers.
type taskOutput struct {
	s           *sink
	name        string
	ctx         context.Context
	exactlyOnce bool
	open        func(ctx context.Context) (*output, changelog.Output, error)

	// exactly-once, set by PrepareBatchCommit (sink_tasks_commit.go): the commit record's file ("" without),
	// this run's statement hash and tasks; skip: the stage writes nothing (the completion of a killed run).
	record string
	stmt   string
	tasks  int
	skip   bool

	mu          sync.Mutex
	writers     []*taskWriter // not discarded (under mu)
	ended       bool
	taken       []*taskWriter // the writers that End or Abort took (under mu), for Interrupt
	interrupted bool          // Interrupt was called: so are the writers opened since (under mu)
}

// taskWriter is the producer of one task attempt.
type taskWriter struct {
	o    *output
	out  changelog.Output // o, or the upsertOutput around it
	task int
}

func (w *taskWriter) Push(b *changelog.Batch) error { return w.out.Push(b) }

// Interrupt (engine: the task attempt was cancelled or failed) bounds the waits of the attempt's producer on
// the brokers (sink_interrupt.go).
func (w *taskWriter) Interrupt() { w.o.Interrupt() }

// Interrupt (engine: the job was cancelled or failed) bounds the waits on the brokers of every task's
// producer, those opened later included: the stage's End (the flushes and commits of a cancelled job) and
// Abort (exactly-once: the aborts) end at the latest the grace after it (sink_interrupt.go).
func (t *taskOutput) Interrupt() {
	t.mu.Lock()
	t.interrupted = true
	ws := slices.Concat(t.writers, t.taken)
	t.mu.Unlock()
	for _, w := range ws {
		w.o.Interrupt()
	}
}

// NewSubtaskWriter opens the producer of an attempt of task i.
func (t *taskOutput) NewSubtaskWriter(i int) (connectors.SubtaskWriter, error) {
	if t.skip {
		return droppedWriter{}, nil
	}
	o, out, err := t.open(t.ctx)
	if err != nil {
		return nil, err
	}
	o.task = i
	o.w0.idx = i
	if o.tx != nil {
		// '<prefix>-<i>-1', without the pipelined sink's probe of '<prefix>-<i>-<n>'
		o.w0.next, o.tx.restored = 1, map[int]int64{}
	}
	w := &taskWriter{o: o, out: out, task: i}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		_ = w.o.Abort()
		return nil, fmt.Errorf("kafka table '%s': the sink stage already ended", t.name)
	}
	t.writers = append(t.writers, w)
	if t.interrupted {
		o.Interrupt()
	}
	return w, nil
}

// DiscardSubtaskWriter aborts the producer of a failed attempt: exactly-once, its transaction is aborted.
func (t *taskOutput) DiscardSubtaskWriter(sw connectors.SubtaskWriter) error {
	if _, ok := sw.(droppedWriter); ok {
		return nil
	}
	w, ok := sw.(*taskWriter)
	if !ok {
		return fmt.Errorf("kafka table '%s': discarding a writer of another sink", t.name)
	}
	t.mu.Lock()
	for i, x := range t.writers {
		if x == w {
			t.writers = append(t.writers[:i], t.writers[i+1:]...)
			break
		}
	}
	t.mu.Unlock()
	return w.out.(connectors.Aborter).Abort()
}

// Push is not used: the tasks push through their writers.
func (t *taskOutput) Push(b *changelog.Batch) error {
	if len(b.Rows) == 0 {
		return nil
	}
	return fmt.Errorf("kafka table '%s': a sink stage with several tasks takes rows through its task writers", t.name)
}

func (t *taskOutput) Watermark(int64) error { return nil }

func (t *taskOutput) take() []*taskWriter {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ended = true
	ws := t.writers
	t.writers = nil
	t.taken = append(t.taken, ws...)
	return ws
}

// End makes every task's rows final: each writer's buffer and upsert pairs are written and flushed first,
// and only when all flushed, each writer ends (exactly-once: the commit intent is recorded, then each
// transaction is committed, then the record removed: sink_tasks_commit.go).
func (t *taskOutput) End() error {
	ws := t.take()
	if t.skip {
		return t.dropRecord()
	}
	var errs []error
	for _, w := range ws {
		if !w.o.ended {
			if err := w.o.writeHeld(); err != nil {
				errs = append(errs, fmt.Errorf("task %d: %w", w.task+1, err))
				continue
			}
		}
		if len(w.o.producers()) > 0 {
			if err := w.o.flush(w.o.ctx); err != nil {
				errs = append(errs, fmt.Errorf("task %d: %w", w.task+1, err))
			}
		}
	}
	if len(errs) > 0 {
		for _, w := range ws {
			_ = w.out.(connectors.Aborter).Abort()
		}
		return errors.Join(errs...)
	}
	if err := t.recordIntent(ws); err != nil {
		for _, w := range ws {
			_ = w.out.(connectors.Aborter).Abort()
		}
		return err
	}
	for _, w := range ws {
		if err := w.out.End(); err != nil {
			errs = append(errs, fmt.Errorf("task %d: %w", w.task+1, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...) // the record keeps the intent: the rerun commits what is left
	}
	return t.dropRecord()
}

// AbortOnCancel: a cancelled job aborts the tasks' transactions (exactly-once), as the pipelined sink
// aborts its open one; else what the tasks were given is flushed.
func (t *taskOutput) AbortOnCancel() bool { return t.exactlyOnce }

// Abort drops what the writers did not end (exactly-once: their transactions are aborted).
func (t *taskOutput) Abort() error {
	for _, w := range t.take() {
		_ = w.out.(connectors.Aborter).Abort()
	}
	return nil
}

// fixedPartition is the partition that task o.task writes to with the 'fixed' partitioner: task %
// partitions of the topic (looked up once per topic).
func (o *output) fixedPartition(topic string) (int32, error) {
	if o.task == 0 {
		return 0, nil
	}
	if n, ok := o.parts[topic]; ok {
		return int32(o.task % n), nil
	}
	// A Metadata request that creates the topic as the producer would (task 0 may not have written yet),
	// retried while the brokers are still creating it.
	ctx, cancel := o.rctx(o.ctx)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = true
	n := 0
	_, err := txnRequest(ctx, o.base, req.RequestWith, func(r *kmsg.MetadataResponse) int16 {
		for _, t := range r.Topics {
			if t.Topic != nil && *t.Topic == topic {
				n = len(t.Partitions)
				if t.ErrorCode == 0 && n == 0 {
					return kerr.LeaderNotAvailable.Code // being created
				}
				return t.ErrorCode
			}
		}
		return kerr.UnknownTopicOrPartition.Code
	})
	if err != nil {
		return 0, fmt.Errorf("kafka table '%s': 'sink.partitioner' = 'fixed': look up the partitions of topic '%s' (task %d writes partition %d %% their number): %w",
			o.s.cfg.table.Name, topic, o.task+1, o.task, err)
	}
	if o.parts == nil {
		o.parts = map[string]int{}
	}
	o.parts[topic] = n
	return int32(o.task % n), nil
}
