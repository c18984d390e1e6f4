package exec

import "context"

// Unaligned barriers into an exchange with a side fed by keyed subtasks (Flink's unaligned checkpoints per
// input channel). Such a side gets the barrier from each upstream keyed subtask, one per channel, forwarded
// with the items it sent before it (AlignSide); a side fed by source subtasks gets the one item
// QueueBarrier queues at the gate, behind what those channels sent before the cut (it splits them all). A
// keyed channel's barrier is posted ahead of the queue (exchange_unaligned_keyed_overtake.go): the subtask
// takes what is queued out at once, so the barrier overtakes it; the upstream subtasks are not held back by the
// gate, so the items are not moved behind the barrier in one queue (queueUnaligned's drain would let a later
// item of a channel pass its earlier ones) but counted per channel. No subtask aligns:
//
//   - The first barrier of the checkpoint on any channel (or the one of the source sides) cuts the subtask's
//     state there (its union watermarks; when the exchange feeds another, its state is written, snapAt, and
//     the barrier forwarded at once).
//   - From then until each channel delivered its barrier (or ended), every item of a channel whose barrier is
//     still to come, or that its channel sent before its barrier, lies before the cut on that channel and
//     after the state: it is recorded as channel state when it comes out of the queue (in the barrier's
//     chans, in queue order, as exchange_unaligned.go writes it) and processed. The others are after the cut
//     and not recorded.
//   - The subtask has taken the barrier once every channel delivered it and the items before it, or ended:
//     the channel state is complete. When the exchange feeds another, the subtask never waits: what it emits
//     for the recorded items goes behind its forwarded barrier (after the cut of the next exchange's
//     channel). When its output goes to the engine's graph, its state must stay as at the cut until the
//     checkpoint's part under the graph lock is done (and nothing it emits after the cut may reach the sinks
//     before their pre-commit): it holds every item after its first barrier back (recording those of channels
//     still before their cut) until it took the barrier and the checkpoint released it, then processes them
//     in order.
//
// Keyed upstream subtasks emit changelog rows (-U/+U, -D): the channel state keeps the queue order, which is
// every channel's order, and a restore replays it before any new input (replayRestored), so every channel's
// rows reach the operator in the order they were sent. A channel's watermarks in flight are recorded too (the
// union watermarks at the cut and every subtask's operator-wide entries are written as for the source sides,
// exchange_unaligned_meta.go).

// ukFirst cuts subtask s's state at the first barrier of unaligned barrier b it sees (nothing when it cut
// there before): what it took out of its queue and has not processed is channel state.
func (x *Exchange) ukFirst(ctx context.Context, s *xSub, b *xBarrierRun) error {
	if s.cur != nil {
		return nil
	}
	s.cur = b
	s.ukLeft = s.live
	if x.fromSources() {
		s.ukLeft++
	}
	for _, it := range s.ahead[s.head:] {
		x.ukRecord(s, it) // exchange_unaligned_keyed_overtake.go
		if it.kind == xEnd && x.aligned[it.side] && !s.got[it.side][it.from] {
			s.got[it.side][it.from] = true // the end of a channel counts as its barrier
			s.ukLeft--
		}
	}
	wms := unionWatermarks(s) // exchange_unaligned_meta.go
	x.mu.Lock()
	b.unions[s.idx] = wms
	x.mu.Unlock()
	unalignedCuts.Add(1)
	if x.forward == nil {
		return nil
	}
	if b.late != nil && s.idx == 0 {
		// the sum of the late-row counts at every subtask's cut: the first subtask writes it once the others
		// took the barrier, holding what comes after its cut meanwhile (it takes on out of its queue, so no
		// upstream subtask waits for room there before it forwarded its barrier to the others)
		s.deferred = true
		return nil
	}
	if err := x.snapAt(ctx, b, s); err != nil {
		return err
	}
	return x.forward(s.idx, b.id)
}

// deferredWait returns the channel that is closed once the others took the barrier whose snapshot subtask s
// defers (nil: none).
func (s *xSub) deferredWait() <-chan struct{} {
	if !s.deferred {
		return nil
	}
	return s.cur.others
}

// ukSnapDeferred writes the first subtask's state at its cut, with the late-row counts of the others at
// theirs, forwards its barrier and processes what it held.
func (x *Exchange) ukSnapDeferred(ctx context.Context, s *xSub) (bool, error) {
	s.deferred = false
	b := s.cur
	if err := x.snapAt(ctx, b, s); err != nil {
		return false, err
	}
	if err := x.forward(s.idx, b.id); err != nil {
		return false, err
	}
	if s.ukLeft == 0 {
		if err := x.ukTake(ctx, s); err != nil {
			return false, err
		}
	}
	s.replays = len(s.held) > 0
	return x.replay(ctx, s)
}

// ukTake is subtask s taking the barrier whose channel state it completed. Without forward it waits until the
// checkpoint releases it (take); what it held back is processed next.
func (x *Exchange) ukTake(ctx context.Context, s *xSub) error {
	if x.forward == nil {
		return x.take(ctx, s)
	}
	b := s.cur
	x.unmark(s)
	x.mu.Lock()
	b.take(s.idx)
	x.mu.Unlock()
	return nil
}

// ukHolds reports whether subtask s holds item it back while it has an unaligned barrier per channel (its
// output goes to the graph: everything after its first barrier waits for the release; or its snapshot is
// deferred). Channel state is
// recorded when an item comes out of the queue (enter).
func (x *Exchange) ukHolds(s *xSub, it xItem) bool {
	switch it.kind {
	case xRows, xCols, xWatermark, xEnd:
		return x.forward == nil || s.deferred
	case xTick:
		return x.forward == nil || s.deferred // a mini-batch flush would change the state after the cut
	default:
		return false // barriers of a checkpoint that gave up; no drain with unaligned barriers
	}
}
