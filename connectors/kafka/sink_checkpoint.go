package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicesql/sluice/connectors"
)

// Checkpoints of the kafka and upsert-kafka sinks (connectors.CheckpointedSink). With 'at-least-once',
// PreCommit waits until the brokers acknowledged every record handed to the producer, so that the engine
// commits source offsets (and completes checkpoints) only for rows that are in Kafka; with 'none' it returns
// at once.

var (
	_ connectors.CheckpointedSink = (*output)(nil)
	_ connectors.Aborter          = (*output)(nil)
	_ connectors.CheckpointedSink = (*upsertOutput)(nil)
)

// Restore has nothing to finish for non-transactional writes.
func (o *output) Restore(context.Context, []byte, int64) error { return nil }

// PreCommit flushes the producer and returns the first delivery failure.
func (o *output) PreCommit(ctx context.Context, _ int64) ([]byte, error) {
	if o.s.guarantee == guaranteeNone {
		return nil, nil
	}
	if err := o.failure(); err != nil {
		return nil, err
	}
	d := o.s.cfg.client.deliveryTimeout
	fctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := o.cl.Flush(fctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("kafka table '%s': %d records were not acknowledged by the brokers at '%s' within %s ('properties.delivery.timeout.ms')",
				o.s.cfg.table.Name, o.cl.BufferedProduceRecords(), o.s.cfg.servers(), d)
		}
		return nil, fmt.Errorf("kafka table '%s': flush: %w", o.s.cfg.table.Name, err)
	}
	return nil, o.failure()
}

// Commit has nothing to do: the records are visible once acknowledged.
func (o *output) Commit(context.Context, int64) error { return nil }

// Abort closes the producer without waiting for buffered records (the job failed; a restart re-reads them).
func (o *output) Abort() error {
	if o.ended {
		return nil
	}
	o.ended = true
	o.cancel()
	o.cl.Close()
	o.stopAfter()
	return nil
}

// PreCommit writes the upsert buffer ('sink.buffer-flush.*'), then flushes the producer.
func (u *upsertOutput) PreCommit(ctx context.Context, id int64) ([]byte, error) {
	if u.index != nil {
		u.mu.Lock()
		u.flushLocked()
		u.mu.Unlock()
	}
	return u.output.PreCommit(ctx, id)
}

// Abort stops the interval flusher and closes the producer without writing the buffer.
func (u *upsertOutput) Abort() error {
	if u.index != nil && !u.ended {
		close(u.stop)
		<-u.done
	}
	return u.output.Abort()
}
