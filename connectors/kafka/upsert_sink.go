package kafka

import (
	"bytes"
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
)

// Open connects to the brokers and returns the upsert output: unbuffered, every +I/+U row is one record and
// every -D row one tombstone, in input order; buffered ('sink.buffer-flush.*'), the last change of each key
// is kept and written on flush.
func (s *upsertSink) Open(ctx context.Context) (changelog.Output, error) {
	u, err := s.openUpsert(ctx)
	if err != nil {
		return nil, err
	}
	return concurrentUpsertOf(u), nil // unbuffered: subtasks write it (sink_concurrent.go)
}

// openUpsert opens the output (for the sink itself, or a batch sink stage's task, sink_tasks.go).
func (s *upsertSink) openUpsert(ctx context.Context) (*upsertOutput, error) {
	o, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	u := &upsertOutput{output: o, maxRows: s.maxRows}
	if s.maxRows > 0 {
		u.kb = newKeyBuffer(s.maxRows)
		u.stop = make(chan struct{})
		u.done = make(chan struct{})
		go u.flushEvery(s.interval)
	}
	return u, nil
}

// upsertOutput is the open upsert-kafka sink. Records are keyed by the serialized primary key and
// partitioned with murmur2 of the key (the kafka sink's 'default' partitioner, as Kafka's Java client and
// librdkafka's murmur2_random), so every change of a key lands in one partition, in order.
type upsertOutput struct {
	*output
	maxRows int

	// Buffering: the last change of each key that the sink's own Push was given (the subtask writers have
	// buffers of their own, sink_concurrent.go); nil when unbuffered.
	kb      *keyBuffer
	stop    chan struct{}
	pending *kgo.Record // the tombstone of a -U row, until the next row shows whether its +U follows
	done    chan struct{}
}

var (
	_ changelog.Output            = (*upsertOutput)(nil)
	_ connectors.CheckpointedSink = (*upsertOutput)(nil)
)

// Push writes (or buffers) every +I/+U row as a record and every -D row as a tombstone. A -U row is dropped
// when the next row is the +U of the same key (the changelog contract pairs them); otherwise its key was
// retracted without a replacement (a filter after an aggregate dropped the +U, or the +U has another key)
// and it is written as a tombstone, so the topic never keeps a row the query retracted. It returns the first
// delivery failure seen so far.
func (u *upsertOutput) Push(b *changelog.Batch) error {
	if err := u.failure(); err != nil {
		return err
	}
	if u.kb != nil {
		u.kb.mu.Lock()
		defer u.kb.mu.Unlock()
	}
	for i := range b.Rows {
		row := &b.Rows[i]
		kind := row.Kind
		if kind == changelog.UpdateBefore {
			kind = changelog.Delete
		}
		rec := u.getRecord()
		if err := u.encode(kind, row.Vals, rec); err != nil {
			u.recycle(rec)
			return err
		}
		u.place(row.Kind, rec)
	}
	return nil
}

// place writes (or buffers) the record of a row of kind k: a -U row's tombstone waits until the next row
// shows whether the +U of its key follows (then it is dropped).
func (u *upsertOutput) place(k changelog.Kind, rec *kgo.Record) {
	if u.pending != nil {
		p := u.pending
		u.pending = nil
		if k == changelog.UpdateAfter && bytes.Equal(p.Key, rec.Key) {
			u.recycle(p)
		} else {
			u.emit(p)
		}
	}
	if k == changelog.UpdateBefore {
		u.pending = rec
		return
	}
	u.emit(rec)
}

// emit produces rec, or buffers it as the last change of its key.
func (u *upsertOutput) emit(rec *kgo.Record) {
	if u.kb == nil {
		u.cl.Produce(u.ctx, rec, u.promise)
		return
	}
	u.kb.addLocked(u.output, rec)
}

// flushAll hands every buffer to the producer: the sink's own and its subtask writers'.
func (u *upsertOutput) flushAll() {
	u.kb.flush(u.output)
	for _, w := range u.writerList() {
		w.kb.flush(u.output)
	}
}

func (u *upsertOutput) flushEvery(d time.Duration) {
	defer close(u.done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-u.stop:
			return
		case <-t.C:
			u.flushAll()
		}
	}
}

// End writes what is buffered (and a trailing unpaired -U as a tombstone), then flushes and closes the
// producer.
func (u *upsertOutput) End() error {
	if u.pending != nil && !u.ended {
		if u.kb != nil {
			u.kb.mu.Lock()
		}
		u.emit(u.pending)
		u.pending = nil
		if u.kb != nil {
			u.kb.mu.Unlock()
		}
	}
	if u.kb != nil && !u.ended {
		close(u.stop)
		<-u.done
		u.kb.flush(u.output)
	}
	if !u.ended {
		if err := u.writeHeld(); err != nil { // the subtasks' writers' held tombstones and buffers (sink_concurrent.go)
			_ = u.output.Abort()
			return err
		}
	}
	return u.output.End()
}

// PreCommit writes what is buffered, and a trailing unpaired -U as a tombstone (the rows of the next
// checkpoint must not decide what this one wrote: on restore they are read again, and a +U of the same key
// overwrites the tombstone), then waits for the brokers' acknowledgements as the kafka sink does.
func (u *upsertOutput) PreCommit(ctx context.Context, checkpointID int64) ([]byte, error) {
	if u.ended {
		return nil, nil
	}
	u.writeBuffered()
	if err := u.writeHeld(); err != nil { // the subtasks' writers' held tombstones and buffers (sink_concurrent.go)
		return nil, err
	}
	return u.output.PreCommit(ctx, checkpointID)
}

// writeBuffered hands the buffered records, and a trailing unpaired -U as a tombstone, to the producer.
func (u *upsertOutput) writeBuffered() {
	if u.kb != nil {
		u.kb.mu.Lock()
	}
	if u.pending != nil {
		u.emit(u.pending)
		u.pending = nil
	}
	if u.kb != nil {
		u.kb.flushLocked(u.output)
		u.kb.mu.Unlock()
	}
}

// Buffered returns the number of keys waiting for a flush, in every buffer (for tests).
func (u *upsertOutput) Buffered() int {
	if u.kb == nil {
		return 0
	}
	n := u.kb.len()
	for _, w := range u.writerList() {
		n += w.kb.len()
	}
	return n
}
