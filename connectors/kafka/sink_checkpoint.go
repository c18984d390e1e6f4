package kafka

import (
	"context"

	"github.com/sluicesql/sluice/connectors"
)

// Abort (connectors.Aborter) closes a sink whose job failed, without writing what it had not pre-committed:
// buffered records are dropped (a restart from the checkpoint writes them again) and, with exactly-once, the
// open transaction is aborted while pre-committed ones stay for the restore to commit.

var (
	_ connectors.Aborter = (*output)(nil)
	_ connectors.Aborter = (*upsertOutput)(nil)
)

func (o *output) Abort() error {
	if o.ended {
		return nil
	}
	o.ended = true
	o.dropHeld() // sink_concurrent.go
	if o.tx != nil {
		for _, p := range o.tx.takePending(1<<63 - 1) {
			closeTxnClient(p.cl)
		}
		o.abortOpen(context.WithoutCancel(o.ctx))
	}
	o.closeWriters()
	o.cancel()
	o.base.Close()
	o.stopAfter()
	o.releaseInterrupt()
	return nil
}

// Abort stops the interval flusher and closes the producer without writing the buffer.
func (u *upsertOutput) Abort() error {
	if u.buffered() && !u.ended {
		close(u.stop)
		<-u.done
	}
	return u.output.Abort()
}
