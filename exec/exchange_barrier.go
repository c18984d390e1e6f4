package exec

import (
	"context"
	"errors"
)

// Aligned checkpoint barriers (Flink's barriers through the channels of a keyed exchange). With its senders
// held back (the engine's checkpoint gate), Barrier queues one barrier item behind everything already queued
// for every keyed subtask, and the senders may continue at once: a subtask's queue is FIFO over all of its
// channels, so the barrier splits each channel's items into those before the cut and those after. A subtask
// that takes its barrier has processed (output included) every item before the cut; it then waits, its state
// unchanged, until the checkpoint releases it (ReleaseBarrier), while the items behind its barrier queue up
// and block their senders only once its queue is full. A subtask that ended before its barrier is frozen too:
// it counts as having taken it.

// xBarrierRun is the exchange's current barrier (Exchange.bar, under Exchange.mu).
type xBarrierRun struct {
	id      int64
	taken   []bool // per subtask
	left    int
	reached chan struct{} // closed once every subtask took the barrier
	release chan struct{} // closed by ReleaseBarrier
}

// take marks subtask k as having taken the barrier (under Exchange.mu).
func (b *xBarrierRun) take(k int) {
	if b.taken[k] {
		return
	}
	b.taken[k] = true
	if b.left--; b.left == 0 {
		close(b.reached)
	}
}

// Barrier queues barrier id behind every item queued so far for every running subtask. Call it while no
// sender sends (the checkpoint gate is closed); it blocks only while a subtask's queue is full. Every
// Barrier must be followed by ReleaseBarrier, also when it fails.
func (x *Exchange) Barrier(id int64) error {
	x.mu.Lock()
	b := &xBarrierRun{id: id, taken: make([]bool, len(x.subs)), left: len(x.subs), reached: make(chan struct{}), release: make(chan struct{})}
	x.bar = b
	dead := x.dead
	x.mu.Unlock()
	if dead {
		return errors.New("the keyed subtasks stopped (the job is failing or cancelled)")
	}
	for k, s := range x.subs {
		it := xItem{kind: xBarrier, wm: id}
		x.mu.Lock()
		if s.finished {
			b.take(k) // ended before the cut: its state is final
			x.mu.Unlock()
			continue
		}
		x.pending.Add(1)
		select {
		case s.q <- it:
			x.mu.Unlock()
			continue
		default:
			x.pending.Add(-1)
		}
		x.mu.Unlock()
		// The queue is full: wait for room without the lock (finish takes it).
		if err := x.send(k, it); err != nil {
			return err
		}
		x.mu.Lock()
		if s.finished {
			// it ended (taking the barrier in finish) before this item landed: nothing reads its queue
			x.discard(s)
		}
		x.mu.Unlock()
	}
	return nil
}

// WaitBarrier waits until every subtask took the current barrier, ctx ended or the subtasks stopped.
func (x *Exchange) WaitBarrier(ctx context.Context) error {
	x.mu.Lock()
	b := x.bar
	x.mu.Unlock()
	if b == nil {
		return errors.New("exchange: internal error: no barrier to wait for")
	}
	select {
	case <-b.reached:
		return nil
	case <-x.stop:
		return errors.New("the keyed subtasks stopped (the job is failing or cancelled)")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ReleaseBarrier lets the subtasks that took the current barrier continue.
func (x *Exchange) ReleaseBarrier() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.bar != nil {
		close(x.bar.release)
		x.bar = nil
	}
}

// barrier is subtask s taking barrier id: it waits until the checkpoint releases it (or ctx ends).
func (x *Exchange) barrier(ctx context.Context, s *xSub, id int64) error {
	x.mu.Lock()
	b := x.bar
	if b == nil || b.id != id {
		x.mu.Unlock()
		return nil // a barrier of a checkpoint that gave up (already released)
	}
	b.take(s.idx)
	x.mu.Unlock()
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// discard empties subtask s's queue once it finished (under x.mu): what is left are ticks and barriers.
func (x *Exchange) discard(s *xSub) {
	for {
		select {
		case <-s.q:
			if x.pending.Add(-1) == 0 {
				x.cond.Broadcast()
			}
		default:
			return
		}
	}
}

// InBarrier reports whether a checkpoint barrier is current (sent and not yet released).
func (x *Exchange) InBarrier() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.bar != nil
}

// Pending returns the number of items sent and not yet processed.
func (x *Exchange) Pending() int64 { return x.pending.Load() }
