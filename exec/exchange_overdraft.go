package exec

import (
	"context"
	"sync/atomic"
)

// Overdraft (Flink's overdraft buffers and the output buffers its unaligned checkpoints persist): a source
// subtask holds the engine's checkpoint gate while it routes a batch, so a source subtask waiting in its send
// to a keyed subtask's full queue kept an unaligned checkpoint from starting until that subtask took an item
// (never, while it was stuck in a user function). Before an unaligned checkpoint closes the gate it starts
// the overdraft on the exchanges whose barrier overtakes their queues (every side fed by source subtasks):
// a send that finds its queue full puts its item in the subtask's spill instead, behind its queue, and the
// source subtask finishes its batch and lets go of the gate. The barrier then overtakes the spill as it
// overtakes the queue: both are the channel state of the checkpoint (QueueBarrier), processed after the
// barrier in queue order. What a spill holds is bounded by the batches the source subtasks were routing
// when the checkpoint started.
//
// Order: while a subtask's spill holds items every send to it goes to the spill (in the slow path), so
// every channel's items stay in the order sent. A spill left when the checkpoint gave up before queueing
// its barrier is sent into the queue by EndOverdraft, in order, before the next overdraft can start.

// xOverdraft is an exchange's overdraft (under Exchange.mu).
type xOverdraft struct {
	on   bool
	wake chan struct{} // closed when the overdraft starts: the senders waiting for room spill
}

// xSpill is a subtask's spill (under Exchange.mu; spilling is read without it by the senders' fast path).
type xSpill struct {
	spill    []xItem
	spilling atomic.Bool // spill holds items (or EndOverdraft is still sending them)
}

// overdrafts reports whether the exchange takes the overdraft: its barriers overtake its queues.
func (x *Exchange) overdrafts() bool {
	return x.aligned == nil && x.CanUnalign()
}

// StartOverdraft starts the overdraft for an unaligned checkpoint about to close the gate (no-op for an
// exchange whose barriers do not overtake its queues). QueueBarrier or EndOverdraft ends it.
func (x *Exchange) StartOverdraft() {
	if !x.overdrafts() {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.od.on {
		return
	}
	x.od.on = true
	close(x.od.wake)
}

// endOverdraft stops new spills (under x.mu).
func (x *Exchange) endOverdraft() {
	if x.od.on {
		x.od.on = false
		x.od.wake = make(chan struct{})
	}
}

// EndOverdraft ends the overdraft and sends what is left in the spills into the queues, in order (a
// checkpoint that gave up before QueueBarrier; after it nothing is left). Call it while the source subtasks
// hold back (the gate is closed) or before the next StartOverdraft; it blocks while a queue is full.
func (x *Exchange) EndOverdraft() {
	x.mu.Lock()
	x.endOverdraft()
	x.mu.Unlock()
	for _, s := range x.subs {
		x.unspill(s)
	}
}

// unspill sends subtask s's spill into its queue. An item leaves the spill once it is in the queue, so that
// a sender sending meanwhile appends behind it.
func (x *Exchange) unspill(s *xSub) {
	for {
		x.mu.Lock()
		if len(s.spill) == 0 {
			s.spill = nil
			s.spilling.Store(false)
			x.mu.Unlock()
			return
		}
		it := s.spill[0]
		x.mu.Unlock()
		select {
		case s.q <- it:
		case <-x.stop:
			x.mu.Lock()
			x.pending.Add(-int64(len(s.spill)))
			s.spill = nil
			s.spilling.Store(false)
			x.mu.Unlock()
			return
		}
		x.mu.Lock()
		s.spill = s.spill[1:]
		x.mu.Unlock()
	}
}

// takeSpill returns subtask s's spill and empties it (under x.mu, the overdraft ended and the senders held
// back): the items behind its queue.
func (s *xSub) takeSpill() []xItem {
	sp := s.spill
	s.spill = nil
	s.spilling.Store(false)
	return sp
}

// sendWait queues it for subtask s once its queue has room, or spills it during an overdraft (or while s's
// spill holds items); it fails once Run returned.
func (x *Exchange) sendWait(s *xSub, it xItem) error {
	for {
		x.mu.Lock()
		if x.od.on || len(s.spill) > 0 {
			s.spill = append(s.spill, it)
			s.spilling.Store(true)
			unalignedSpilled.Add(1)
			x.mu.Unlock()
			return nil
		}
		wake := x.od.wake
		x.mu.Unlock()
		select {
		case s.q <- it:
			return nil
		case <-x.stop:
			x.pending.Add(-1)
			return context.Canceled
		case <-wake:
		}
	}
}
