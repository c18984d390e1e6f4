package kafka

import (
	"context"
	"time"

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
		o.w0.kb = newKeyBuffer(s.maxRows)
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

	// Buffering ('sink.buffer-flush.*'): every writer keeps the last change of each of its keys (writer 0,
	// the sink's own Push, too: sink_concurrent.go); the interval flusher runs until stop, then closes done.
	stop chan struct{}
	done chan struct{}
}

var (
	_ changelog.Output            = (*upsertOutput)(nil)
	_ connectors.CheckpointedSink = (*upsertOutput)(nil)
)

// buffered reports whether the sink buffers ('sink.buffer-flush.*').
func (u *upsertOutput) buffered() bool { return u.w0.kb != nil }

// flushAll hands every writer's buffer to the producer.
func (u *upsertOutput) flushAll() {
	for _, w := range u.writerList() {
		w.kb.flush(w)
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
	if u.ended {
		return u.output.End()
	}
	if u.buffered() {
		close(u.stop)
		<-u.done
	}
	if err := u.writeHeld(); err != nil { // every writer's held tombstone and buffer (sink_concurrent.go)
		_ = u.output.Abort()
		return err
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
	if err := u.writeHeld(); err != nil { // every writer's held tombstone and buffer (sink_concurrent.go)
		return nil, err
	}
	return u.output.PreCommit(ctx, checkpointID)
}

// Buffered returns the number of keys waiting for a flush, in every buffer (for tests).
func (u *upsertOutput) Buffered() int {
	n := 0
	for _, w := range u.writerList() {
		if w.kb != nil {
			n += w.kb.len()
		}
	}
	return n
}
