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
			for _, s := range g.sinks {
				if i, ok := s.out.(sinkInterrupter); ok {
					i.Interrupt()
				}
			}
		}
	})
	return func() {
		if state.CompareAndSwap(0, 2) {
			stop()
		}
	}
}
