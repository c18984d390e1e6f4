package engine

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
)

// Batch sink stages as several tasks (Flink's batch sink vertex at 'sink.parallelism', else the job's
// parallelism). A sink whose connector is a connectors.TaskSink (filesystem, blackhole) is opened once for
// its stage; each task attempt writes through a SubtaskWriter of its own (filesystem: part files
// 'part-<uuid>-<task>-<n>'). A failed attempt's writer is discarded (its files removed) and the task runs
// again alone from its share of the materialized input; the Output's End makes every task's rows final at
// once when all tasks succeeded (Flink's finalizeGlobal), Abort drops them when the job fails. Kafka and
// upsert-kafka are TaskSinks too (a producer per attempt, connectors/kafka/sink_tasks.go), and print (a
// task number in front of each line), and jdbc (a connection per attempt, connectors/jdbc/sink_tasks.go;
// its writers flush when their task's input ends: connectors.SubtaskFlusher).
//
// The input: when the input stage runs as many tasks as the sink, sink task i reads task i's file alone
// (forward, one file per producer task). Otherwise the input stage's tasks deal their rows round-robin into
// one file per sink task (rebalance), or by the hash of the partition columns with
// 'sink.shuffle-by-partition.enable' (each partition written by one task), which needs the input to be read
// by the sink stage alone; else the sink keeps one task. A connectors.KeyedTaskSink (upsert-kafka, jdbc with
// a PRIMARY KEY) always
// gets its rows hashed by its keys (every change of a key through one task, in order), never forward.

// batchCommitPreparer is a TaskOutput that keeps a commit record across runs of the statement in the job's
// first 'io.tmp.dirs' (kafka exactly-once: a run killed during its commit is completed by the next run,
// connectors/kafka/sink_tasks_commit.go). It is called before the stage's tasks run.
type batchCommitPreparer interface {
	PrepareBatchCommit(ctx context.Context, dir, stmt string, tasks int) error
}

// stageSink is the Output that the tasks of a sink stage share.
type stageSink struct {
	out      connectors.TaskOutput
	mu       sync.Mutex    // watermarks from several tasks; writers
	writers  []*taskWriter // of the attempts so far (under mu)
	ended    bool          // End or Abort was called (the stage's goroutine, or abandon after it)
	flushErr error         // of End when the job was cancelled (finish)
	flushed  bool          // End succeeded when the job was cancelled
}

// finish makes the tasks' rows final when the stage succeeded (or was cancelled: the rows the tasks were
// given are flushed, as a pipelined job does, but by a connectors.CancelAborter), else drops them. err is
// the stage's.
func (s *stageSink) finish(ctx context.Context, st *batchStage, err error) error {
	if s.ended {
		return err
	}
	s.ended = true
	if err == nil || ctx.Err() != nil && !abortsOnCancel(s.out) {
		if e := s.out.End(); e != nil {
			e = fmt.Errorf("stage %d (%s): committing the sink's output: %w", st.id, st.name, e)
			if err == nil && ctx.Err() == nil {
				return e
			}
			s.flushErr = e // cancelled: the sources publish no final position (attemptStaged)
			if err == nil {
				// cancelled during the commit (which the cancel interrupted, sink_interrupt.go): the job
				// ends CANCELLED, as a pipelined job whose End failed at the cancellation
				return ctx.Err()
			}
		} else if err != nil {
			s.flushed = true
		}
		return err
	}
	s.drop()
	return err
}

// abortsOnCancel reports whether a cancelled job drops the rows of sink o (connectors.CancelAborter).
func abortsOnCancel(o connectors.TaskOutput) bool {
	a, ok := o.(connectors.CancelAborter)
	return ok && a.AbortOnCancel()
}

// drop discards the writers not discarded yet (their closed files too, which Abort keeps for a restore)
// and aborts the Output.
func (s *stageSink) drop() {
	s.mu.Lock()
	ws := s.writers
	s.writers = nil
	s.mu.Unlock()
	for _, w := range ws {
		_ = w.Abort()
	}
	_ = s.out.Abort()
}

// abort drops the rows of a sink stage that did not finish (the job failed or ended before it ran).
func (s *stageSink) abort() {
	if s != nil && !s.ended {
		s.ended = true
		s.drop()
	}
}

// shuffleByPartition returns the columns of the sink's input that are the table's partition keys when
// 'sink.shuffle-by-partition.enable' is true (Flink hashes the rows by them in front of the sink tasks, so
// that each partition is written by one task); else nil.
func shuffleByPartition(sk *planner.Sink) []int {
	if !strings.EqualFold(strings.TrimSpace(sk.Table.Options["sink.shuffle-by-partition.enable"]), "true") {
		return nil
	}
	var keys []int
	for _, k := range sk.Table.PartitionKeys {
		for i, c := range sk.Table.PhysicalColumns() {
			if strings.EqualFold(c.Name, k) {
				keys = append(keys, i)
			}
		}
	}
	if len(keys) != len(sk.Table.PartitionKeys) {
		return nil
	}
	return keys
}

// sinkShuffleKeys returns the columns of the sink's input by whose hash the rows are dealt to the sink's
// tasks: a connectors.KeyedTaskSink's keys (upsert-kafka: every change of a primary key to one task, in
// order), else shuffleByPartition's; nil: forward or round-robin.
func sinkShuffleKeys(sk *planner.Sink) []int {
	if k, ok := sk.Sink.(connectors.KeyedTaskSink); ok {
		return k.TaskKeys()
	}
	return shuffleByPartition(sk)
}

// sinkTasks returns the number of tasks of sink stage st at default parallelism p (1: one task, the sink
// opened by each attempt) and whether each task reads its own producer task's file (forward). in is the
// stage read by the sink and reads the number of stages reading it.
func sinkTasks(sk *planner.Sink, in *batchStage, reads, p int) (n int, forward bool) {
	if _, ok := sk.Sink.(connectors.TaskSink); !ok || in == nil {
		return 1, false
	}
	n = p
	if v, ok := sk.Table.Options["sink.parallelism"]; ok {
		// validated by the connector at CREATE TABLE (at least 1)
		if x, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && x >= 1 {
			n = x
		}
	}
	_, keyed := sk.Sink.(connectors.KeyedTaskSink)
	switch {
	case n <= 1:
		return 1, false
	case keyed && len(sinkShuffleKeys(sk)) == 0:
		return 1, false // a key without columns: one task gets every row
	case len(in.tasks) == n && sinkShuffleKeys(sk) == nil:
		return n, true
	case reads == 1:
		return n, false
	}
	return 1, false
}

// openSinks opens the shared Output of every sink stage with several tasks.
func (sj *stagedJob) openSinks() error {
	for _, st := range sj.stages {
		sk, ok := st.root.(*planner.Sink)
		if !ok || len(st.tasks) <= 1 {
			continue
		}
		o, err := sk.Sink.(connectors.TaskSink).OpenTasks(context.Background())
		if err != nil {
			return fmt.Errorf("open sink %s: %w", sk.Table.Name, err)
		}
		if p, ok := o.(batchCommitPreparer); ok {
			if err := p.PrepareBatchCommit(context.Background(), sj.g.tempDir, sj.job.stmt, len(st.tasks)); err != nil {
				_ = o.Abort()
				return fmt.Errorf("open sink %s: %w", sk.Table.Name, err)
			}
		}
		st.sink = &stageSink{out: o}
	}
	return nil
}

// sinkTask builds the sink of one attempt of a task of a sink stage with several tasks: a writer of the
// stage's shared Output, fed from the task's share of the input.
func (b *stageBuild) sinkTask(g *graph, sk *planner.Sink) error {
	j := b.sj.job
	w, err := b.st.sink.out.NewSubtaskWriter(b.task.index)
	if err != nil {
		return fmt.Errorf("open sink %s%s: %w", sk.Table.Name, b.task.what(), err)
	}
	tw := &taskWriter{s: b.st.sink, w: w}
	b.st.sink.mu.Lock()
	b.st.sink.writers = append(b.st.sink.writers, tw)
	b.st.sink.mu.Unlock()
	e := &endOnce{out: tw, name: sk.Table.Name} // sink_failure.go
	g.sinks = append(g.sinks, e)
	in := exec.NewCounter(&b.run.sinkRows, exec.NewCounter(&j.rowsOut, e)) // taken back from rows out if the attempt fails
	return g.build(sk.Input, in, j)
}

// taskWriter is the sink of one task attempt: End leaves the rows to the stage's End, Abort discards them.
type taskWriter struct {
	s         *stageSink
	w         connectors.SubtaskWriter
	discarded atomic.Bool
}

func (t *taskWriter) Push(b *changelog.Batch) error { return t.w.Push(b) }
func (t *taskWriter) Watermark(ts int64) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.s.out.Watermark(ts)
}
func (t *taskWriter) End() error {
	if f, ok := t.w.(connectors.SubtaskFlusher); ok {
		// A failed write fails this task, not the stage's End. The attempt's writer is discarded here: the
		// graph's abort skips a sink that ended.
		if err := f.Flush(); err != nil {
			_ = t.Abort()
			return err
		}
	}
	return nil
}
func (t *taskWriter) Abort() error {
	if t.discarded.Swap(true) {
		return nil
	}
	return t.s.out.DiscardSubtaskWriter(t.w)
}

// inputTasks returns the tasks of input stage in whose files task tk reads: its own producer task when the
// stage reads its input forward, else all of them.
func inputTasks(in *batchStage, tk *stageTask) []*stageTask {
	if tk.st.forward {
		return in.tasks[tk.index : tk.index+1]
	}
	return in.tasks
}

// forwardTask is the producer task whose file task tk reads alone (nil: every task's).
func forwardTask(in *batchStage, tk *stageTask) *stageTask {
	if tk.st.forward {
		return in.tasks[tk.index]
	}
	return nil
}

// setRunIdentities gives each sink of a batch statement that tells the rerun of a killed job from a new
// run (connectors.RunIdentitySink: filesystem) the identity of its statement: a digest of the statement's
// text, its parameters and the sink's place among the statement's sinks, the same in any process.
func setRunIdentities(nodes []planner.Node, text string, params []types.Value) {
	var b []byte
	b = binary.BigEndian.AppendUint64(b, uint64(len(text)))
	b = append(b, text...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(params)))
	for _, v := range params {
		b = append(b, byte(v.T))
		b = types.AppendKey(b, v, types.Type{})
	}
	stmt := sha256.Sum256(b)
	for i, n := range nodes {
		sk, ok := n.(*planner.Sink)
		if !ok {
			continue
		}
		if r, ok := sk.Sink.(connectors.RunIdentitySink); ok {
			d := sha256.Sum256(binary.BigEndian.AppendUint64(stmt[:], uint64(i)))
			r.SetRunIdentity(hex.EncodeToString(d[:16]))
		}
	}
}
