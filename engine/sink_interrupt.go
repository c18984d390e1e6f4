package engine

import (
	"context"
	"sync/atomic"
)

// sinkInterrupter is implemented by sink Outputs whose calls wait on an external system (Kafka: the brokers,
// connectors/kafka/sink_interrupt.go). Interrupt tells the sink that its job was cancelled, stopped or
// failed: its waits in flight or to come (a checkpoint's pre-commit or commit, End, Abort) end soon even
// when the system does not answer. It may be called from any goroutine, while other calls run.
type sinkInterrupter interface {
	Interrupt()
}

// interruptOnCancel interrupts the sinks of g once ctx (the attempt's) is done, unless the run ended by
// itself first: the caller calls the returned endedByItself after its sources ended and before it cancels
// ctx itself (a job whose bounded input ended commits what it wrote without a grace). A cancel, a STOP, or a
// failure (which cancels ctx) interrupts them: the cancel or failover does not wait on brokers that do not
// answer for 'properties.delivery.timeout.ms' (a checkpoint's commit in flight on the checkpoint goroutine,
// which the attempt waits for, was the longest of these waits).
func (g *graph) interruptOnCancel(ctx context.Context) (endedByItself func()) {
	var state atomic.Int32 // 0: running, 1: interrupted, 2: ended by itself
	stop := context.AfterFunc(ctx, func() {
		if state.CompareAndSwap(0, 1) {
			g.interruptSinks()
		}
	})
	return func() {
		if state.CompareAndSwap(0, 2) {
			stop()
		}
	}
}

// interruptSinks interrupts the sinks of g (sinkInterrupter) now.
func (g *graph) interruptSinks() {
	for _, s := range g.sinks {
		interruptSink(s.out)
	}
}

// interruptSink interrupts out when it is a sinkInterrupter.
func interruptSink(out any) {
	if i, ok := out.(sinkInterrupter); ok {
		i.Interrupt()
	}
}

// A staged batch job interrupts the sinks of a task attempt once the job is cancelled or fails (the context
// of the attempt, which another stage's failure cancels too) or the attempt itself fails (before its sinks
// are aborted), and a sink stage's shared Output (several tasks, batch_sink.go) once the job is cancelled or
// fails or a task of the stage failed for good: a cancelled job's flushes and commits (End), a failed
// one's aborts, and a Push blocked on a full producer buffer do not wait on brokers that do not answer.

// Interrupt forwards to the task attempt's writer (connectors/kafka: its producer's waits).
func (t *taskWriter) Interrupt() { interruptSink(t.w) }

// interrupt interrupts the Output that the stage's tasks share (every writer, later ones too).
func (s *stageSink) interrupt() { interruptSink(s.out) }
