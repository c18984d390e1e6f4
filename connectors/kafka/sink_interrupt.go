package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicesql/sluice/options"
)

// Interrupt: a cancelled or failed job does not wait on brokers that do not answer.
//
// The engine calls Interrupt when the job is cancelled (or stopped) or fails, not when it ends by itself.
// From then on every wait of the sink on the brokers — a checkpoint's pre-commit (flush) or commit in flight
// on the checkpoint goroutine, End's flush and commits at the cancellation, Abort's abort of the open
// transactions, a Push blocked in Produce because the producer's buffer ('properties.buffer.memory') is full
// (any 'sink.delivery-guarantee', also when it blocked before the Interrupt: the records' context ends then,
// which fails the record and those not sent yet) — ends at the latest interruptGrace later (or after
// 'properties.delivery.timeout.ms' when that is lower). A staged batch job's sink tasks are interrupted in
// the same way, each attempt's producer and the stage's End and Abort (sink_tasks.go, taskOutput.Interrupt).
// At least once, a record failed so is lost for this run: End returns the error (the sources publish no
// final positions) and a restore from the last checkpoint writes it again (the guarantee allows duplicates);
// 'none' warns and loses it.
// Brokers that answer are not cut short: a cancelled job's End still commits what it wrote when they answer
// within the grace. Before, each of these waits lasted up to 'properties.delivery.timeout.ms' (2 min by
// default) with brokers that did not answer, several in a row, and the cancel or failover waited for them.
//
// Exactly-once, what an interrupted wait leaves is never half-visible:
//   - a commit of a completed checkpoint's transactions (Commit, or End committing what a Commit left) that
//     is interrupted either reached the transaction coordinator, which then completes it (the commit is
//     durable there once the coordinator accepted it; its markers follow), or did not, and the transaction
//     stays open: it is pre-committed in that checkpoint, whose state lists it, and a restore from the
//     checkpoint commits it by its producer id and epoch (Restore's recommit, Flink's two-phase commit). A
//     restore after 'properties.transaction.timeout.ms' finds it aborted by the brokers: warned, rows lost,
//     as in Flink. A fresh start (no restore) aborts it as a lingering transaction and reads again from the
//     positions of the last checkpoint whose commit completed.
//   - a transaction that no checkpoint pre-committed (the rows after the last one) is only committed by a
//     cancelled job's End when the grace has not passed and the commits before it succeeded (the brokers
//     answer); otherwise End does not start its commit, returns an error (the sources publish no final
//     positions) and leaves it open: the brokers abort it after 'properties.transaction.timeout.ms', and a
//     restore, or a fresh start of the same prefix, aborts it at once (it bears the checkpoint's next
//     transaction number). Its rows are read again from the checkpoint's positions.
//
// Limit: a commit of End's own (not pre-committed) transaction that the grace interrupts after it was sent
// may still complete on the brokers; its rows are then also written again by a restore from the last
// checkpoint (at least once for those rows). It needs the brokers to stop answering between End's flush and
// its commit, within the grace.

// interruptGrace is how long a sink of a cancelled or failed job still waits for the brokers.
const interruptGrace = 5 * time.Second

// InterruptGrace is interruptGrace for the engine: a failed scale-out member's abort, and a cancelled or
// failed member's session close, wait as long (engine/scaleout_cancel.go).
const InterruptGrace = interruptGrace

// Interrupt (engine: the job is cancelled, stopped or failed) bounds the sink's waits on the brokers by
// interruptGrace from now. Safe from any goroutine, at any time, more than once.
func (o *output) Interrupt() {
	if o.intr == nil {
		return
	}
	o.intrOnce.Do(func() { time.AfterFunc(o.grace(), o.intrCancel) })
}

// grace is interruptGrace, or 'properties.delivery.timeout.ms' when lower.
func (o *output) grace() time.Duration { return min(interruptGrace, o.s.cfg.client.deliveryTimeout) }

// releaseInterrupt releases the interrupt's context (End, Abort).
func (o *output) releaseInterrupt() {
	if o.intrCancel != nil {
		o.intrCancel()
	}
}

// withInterrupt returns ctx, also done once the grace after Interrupt has passed.
func (o *output) withInterrupt(ctx context.Context) (context.Context, context.CancelFunc) {
	if o.intr == nil {
		return ctx, func() {}
	}
	c, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(o.intr, cancel)
	return c, func() {
		stop()
		cancel()
	}
}

// interrupted returns the error of a wait (what) that the grace after Interrupt ended, nil when it has not
// passed.
func (o *output) interrupted(what string) error {
	if o.intr == nil || o.intr.Err() == nil {
		return nil
	}
	return fmt.Errorf("kafka table '%s': %s interrupted: the job was cancelled or failed and the brokers at '%s' did not answer within %s",
		o.s.cfg.table.Name, what, o.s.cfg.servers(), options.FormatDuration(o.grace()))
}
