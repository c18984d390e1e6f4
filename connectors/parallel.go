package connectors

import (
	"context"

	"github.com/sluicesql/sluice/changelog"
)

// ParallelSource is implemented by sources that can run as several subtasks, each reading its own share of
// the splits (Flink's source readers; Kafka: topic partitions).
//
// Contract:
//   - Subtasks returns how many subtasks the source runs, given the job's default parallelism: its own
//     'scan.parallelism' when the table sets it, else def. It returns 1 when it must run as one instance
//     (e.g. when one SplitListener set by SetSplitListener tracks watermarks per split for all of it). The
//     engine calls it once, after SetSplitListener and ApplyProjection, before RunSubtask.
//   - RunSubtask(ctx, out, i, n) is Run for subtask i of n: it reads only the splits that subtask i owns and
//     pushes their rows to out. The engine calls it concurrently for every i in [0, n), each with its own out
//     (a PositionedOutput: positions advance with PushThen exactly as for Run). A bounded subtask returns nil
//     once its splits are done (at once when it owns none); an unbounded one without splits waits for ctx.
//   - The source's position (Checkpointed) covers all splits, whatever the number of subtasks, so a
//     checkpoint taken at one parallelism restores at any other.
type ParallelSource interface {
	Subtasks(def int) int
	RunSubtask(ctx context.Context, out changelog.Output, i, n int) error
}

// SubtaskSplitSource is implemented by a ParallelSource that is a SplitSource and reports the splits of each
// subtask to a listener of that subtask's own, so that watermarks are tracked per split inside every
// subtask. The engine calls SetSubtaskSplitListeners(ls) with one listener per subtask (len(ls) = n) before
// RunSubtask, instead of SetSplitListener; subtask i then calls only ls[i], from its own goroutine, with split
// ids of its own.
type SubtaskSplitSource interface {
	ParallelSource
	SplitSource
	SetSubtaskSplitListeners(ls []SplitListener)
}

// EncodingOutput is implemented by sink Outputs whose encoding can run in the source subtasks that feed them
// directly (through stateless operators only), outside the engine's graph lock: each subtask encodes its
// batches with an encoder of its own, and only hands the encoded rows to the sink under the lock.
type EncodingOutput interface {
	NewSubtaskEncoder() (SubtaskEncoder, error)
}

// SubtaskEncoder encodes the rows of one source subtask (one goroutine at a time).
//
// Contract: Encode encodes b's rows without touching state shared with other encoders or with the sink's
// Push; it may be called without the graph lock. Write, called with the graph lock held right after Encode,
// hands the encoded rows to the sink with the effect that Push(b) would have had (same order, same errors
// for rows the sink refuses, same checkpoint semantics).
type SubtaskEncoder interface {
	Encode(b *changelog.Batch) error
	Write() error
}

// ConcurrentOutput is implemented by sink Outputs that several subtasks can write at once, each through a
// SubtaskWriter of its own, without the engine's graph lock (blackhole; filesystem: a part file writer per
// subtask). The engine counts the rows out itself.
//
// Contract: NewSubtaskWriter(i) is called while the graph is built, once per subtask i (several writers may
// share an i when the engine runs several groups of subtasks; their files must still not collide). A
// writer's Push is called from one goroutine at a time, concurrently with other writers' Push and with the
// Output's own Push, Watermark and Commit. The Output's PreCommit, End and Abort are never called while a
// writer is inside Push (the engine holds its checkpoint gate and has quiesced its subtasks, or every
// subtask has returned) and cover the rows of every writer: PreCommit pre-commits them all, End makes them
// all final. A writer with the methods PushColumns(*vec.Batch) error and AcceptsColumns() bool (as vec.Output)
// takes columnar batches when AcceptsColumns reports true.
type ConcurrentOutput interface {
	NewSubtaskWriter(i int) (SubtaskWriter, error)
}

// SubtaskCounter is implemented by ConcurrentOutputs whose writers depend on how many subtasks write the
// sink (print: above one, every line starts with the subtask's number, '2> +I[...]').
//
// Contract: the engine calls SetSubtasks(n) while the graph is built, before the NewSubtaskWriter calls of
// the n subtasks that write the sink; without the call, only the Output's own Push writes (one instance).
type SubtaskCounter interface {
	SetSubtasks(n int)
}

// SubtaskWriter writes the rows of one subtask into a ConcurrentOutput.
type SubtaskWriter interface {
	Push(b *changelog.Batch) error
}

// SubtaskRestarter is implemented by a ParallelSource one of whose subtasks can read its splits again alone,
// from where the run started, while the other subtasks run on or have finished: a batch job's failed source
// task runs again by itself (Flink restarts the failed task's region only: its split, not the others').
//
// Contract: the engine calls RestartSubtask(i, n) after RunSubtask(ctx, out, i, n) returned (an error, or
// nil when the task's result was lost since) and before it calls RunSubtask(ctx, out, i, n) again, with the
// same n; other subtasks may be running meanwhile. It forgets the progress of the splits
// subtask i owns (the position keeps the other subtasks' progress), so that the next RunSubtask reads them
// again from their start: the restored position's, else the startup mode's. A bounded source whose splits
// did not change meanwhile yields the same rows again.
type SubtaskRestarter interface {
	ParallelSource
	RestartSubtask(i, n int) error
}

// TaskSink is implemented by Sinks that a batch job writes with several tasks (Flink's batch sink at
// 'sink.parallelism', else the job's parallelism), each task through a SubtaskWriter of its own.
//
// Contract: OpenTasks opens the sink once for the whole sink stage; it behaves as Open does otherwise. The
// engine calls NewSubtaskWriter(i) for each attempt of task i, from that task's goroutine, concurrently with
// other tasks' pushes and with DiscardSubtaskWriter calls. When an attempt fails, DiscardSubtaskWriter(w)
// drops every row w was given (its files are removed), after w's last Push. End (every task succeeded) makes
// the rows of the writers not discarded final, all at once. When the job fails the engine discards every
// writer, then calls Abort. Neither End nor Abort runs while a writer pushes.
type TaskSink interface {
	Sink
	OpenTasks(ctx context.Context) (TaskOutput, error)
}

// SubtaskFlusher is implemented by the SubtaskWriters of a TaskSink that buffer rows (jdbc): the engine
// calls Flush when the task's input ended, before the task counts as succeeded, so a failed write fails
// the task (rerun alone) rather than the stage's End.
type SubtaskFlusher interface {
	Flush() error
}

// TaskOutput is the Output of a TaskSink.
type TaskOutput interface {
	changelog.Output
	ConcurrentOutput
	Aborter
	DiscardSubtaskWriter(w SubtaskWriter) error
}

// CancelAborter is implemented by TaskOutputs whose tasks' rows a cancelled job drops (Abort) where others
// make the rows given so far final (End): AbortOnCancel reports it (kafka exactly-once, whose pipelined sink
// aborts its open transaction when the job is cancelled).
type CancelAborter interface {
	AbortOnCancel() bool
}

// TaskSinkFactory is implemented by sink factories whose sinks are TaskSinks (the engine words its notices
// about 'sink.parallelism' by it).
type TaskSinkFactory interface {
	BatchSinkTasks() bool
}

// KeyedTaskSink is a TaskSink each of whose tasks must get every change of a key, in order (upsert-kafka:
// the primary key). TaskKeys are the columns of the sink's input that make the key; the engine hashes the
// rows by them in front of the tasks (Flink's keyed shuffle in front of a sink with a primary key), and
// writes the sink with one task when it cannot.
type KeyedTaskSink interface {
	TaskSink
	TaskKeys() []int
}
