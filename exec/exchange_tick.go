package exec

// Processing-time ticks for keyed subtasks behind an Exchange: a mini-batch operator applies its buffer when
// its oldest row is older than the latency, also when no input arrives (FlushDue). Behind an exchange its
// subtasks run on goroutines of their own, so the tick is a queue item that each subtask handles itself.

// TryFlushDue queues a tick for every subtask whose operator has FlushDue and whose queue has room (a full
// queue means input is arriving, which applies due batches itself). It never blocks. Call it only while
// senders may send (not while a checkpoint waits for the exchange to be idle).
func (x *Exchange) TryFlushDue() {
	for _, s := range x.subs {
		if flusher(s) == nil {
			continue
		}
		x.mu.Lock() // against finish: a tick is queued before s finished (and discarded then) or not at all
		if !s.finished && !x.dead {
			x.pending.Add(1)
			select {
			case s.q <- xItem{kind: xTick}:
			default:
				if x.pending.Add(-1) == 0 {
					x.cond.Broadcast()
				}
			}
		}
		x.mu.Unlock()
	}
}

// finish marks subtask s finished (its operator ended; called by its loop while the item that ended it is
// still pending) and discards the ticks (and a checkpoint barrier) queued behind that item: every sender has ended, so nothing else
// can be queued.
func (x *Exchange) finish(s *xSub) {
	x.mu.Lock()
	defer x.mu.Unlock()
	s.finished = true
	if x.bar != nil {
		x.bar.take(s.idx) // its state is final: a barrier behind its end finds it as it is now
	}
	// what an unaligned barrier overtook behind its end: ticks and barriers only (every sender ended)
	for range s.overtaken {
		if x.pending.Add(-1) == 0 {
			x.cond.Broadcast()
		}
	}
	s.overtaken = nil
	x.ukForget(s) // exchange_unaligned_keyed_overtake.go
	x.discard(s)
}

// tick applies subtask s's due mini-batch (or advances its processing-time clock).
func tick(s *xSub) error {
	if f := flusher(s); f != nil {
		return f.FlushDue()
	}
	return nil
}

// flusher is what a tick of subtask s calls: its operator's FlushDue (a mini-batch), else the first of its
// operator's inputs that has one (NewProctimeStamp in front of a processing-time window aggregate).
func flusher(s *xSub) interface{ FlushDue() error } {
	if f, ok := s.op.(interface{ FlushDue() error }); ok {
		return f
	}
	for _, in := range s.opIns {
		if f, ok := in.(interface{ FlushDue() error }); ok {
			return f
		}
	}
	return nil
}
