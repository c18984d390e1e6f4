package exec

import "context"

// Unaligned barriers into an exchange with a side fed by keyed subtasks (Flink's unaligned checkpoints per
// input channel). Such a side gets the barrier from each upstream keyed subtask, one per channel, forwarded
// after everything that subtask sent before it (AlignSide); a side fed by source subtasks gets the one item
// QueueBarrier queues at the gate, behind what those channels sent before the cut (it splits them all). The
// upstream subtasks are not held back by the gate, so the barrier cannot be moved ahead of what is queued
// (queueUnaligned's drain would let a later item of a channel pass its earlier ones); instead no subtask
// aligns:
//
//   - The first barrier of the checkpoint on any channel (or the one of the source sides) cuts the subtask's
//     state there (its union watermarks; when the exchange feeds another, its state is written, snapAt, and
//     the barrier forwarded at once).
//   - From then until each channel delivered its barrier (or ended), every item of a channel whose barrier is
//     still to come lies before the cut on that channel and after the state: it is recorded as channel state
//     (in the barrier's chans, in queue order, as exchange_unaligned.go writes it) and processed. Items of
//     channels that delivered their barrier are after the cut and not recorded.
//   - The subtask has taken the barrier once every channel delivered it or ended: the channel state is
//     complete. When the exchange feeds another, the subtask never waits: what it emits for the recorded
//     items goes behind its forwarded barrier (after the cut of the next exchange's channel). When its output
//     goes to the engine's graph, its state must stay as at the cut until the checkpoint's part under the
//     graph lock is done (and nothing it emits after the cut may reach the sinks before their pre-commit): it
//     holds every item after its first barrier back (recording those of channels still before their cut)
//     until it took the barrier and the checkpoint released it, then processes them in order.
//
// Keyed upstream subtasks emit changelog rows (-U/+U, -D): the channel state keeps the queue order, which is
// every channel's order, and a restore replays it before any new input (replayRestored), so every channel's
// rows reach the operator in the order they were sent. A channel's watermarks in flight are recorded too (the
// union watermarks at the cut and every subtask's operator-wide entries are written as for the source sides,
// exchange_unaligned_meta.go).

// ukBarrier is subtask s receiving barrier item it of the current unaligned barrier b (perChannel).
func (x *Exchange) ukBarrier(ctx context.Context, s *xSub, b *xBarrierRun, it xItem) error {
	if s.cur == nil {
		// the first barrier: the cut of the subtask's state
		s.cur = b
		s.ukLeft = s.live
		if x.fromSources() {
			s.ukLeft++
		}
		wms := unionWatermarks(s) // exchange_unaligned_meta.go
		x.mu.Lock()
		b.unions[s.idx] = wms
		x.mu.Unlock()
		if x.forward != nil {
			if err := x.snapAt(ctx, b, s); err != nil {
				return err
			}
			if err := x.forward(s.idx, b.id); err != nil {
				return err
			}
		}
		unalignedCuts.Add(1)
	}
	if it.from < 0 {
		if !s.gotSrc {
			s.gotSrc = true
			s.ukLeft--
		}
	} else if !s.got[it.side][it.from] {
		s.got[it.side][it.from] = true
		s.ukLeft--
	}
	if s.ukLeft > 0 {
		return nil
	}
	return x.ukTake(ctx, s)
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

// ukHolds records data item it of subtask s as channel state when its channel has not delivered the barrier
// yet, and reports whether s holds it back (its output goes to the graph: everything after its first
// barrier waits for the release). The end of a channel of a keyed side counts as its barrier.
func (x *Exchange) ukHolds(s *xSub, it xItem) bool {
	hold := x.forward == nil
	switch it.kind {
	case xRows, xCols, xWatermark, xEnd:
	case xTick:
		return hold // a mini-batch flush would change the state after the cut
	default:
		return false // barriers (counted by barrier); no drain with unaligned barriers
	}
	keyed := x.aligned[it.side]
	if keyed && s.got[it.side][it.from] || !keyed && s.gotSrc {
		return hold // after the cut on its channel
	}
	b := s.cur
	x.mu.Lock()
	var ok bool
	if b.chans[s.idx], ok = appendChannelItem(b.chans[s.idx], it); ok {
		b.chanN[s.idx]++
	}
	x.mu.Unlock()
	unalignedOvertaken.Add(1)
	unalignedPerChannel.Add(1)
	if it.kind == xEnd && keyed {
		s.got[it.side][it.from] = true
		if s.ukLeft--; s.ukLeft == 0 && !hold {
			x.unmark(s)
			x.mu.Lock()
			b.take(s.idx)
			x.mu.Unlock()
		}
	}
	return hold
}

// ukHeld follows subtask s holding an item back: when that item completed the channel state of its
// unaligned barrier, s takes the barrier (waiting for the release) and processes what it held.
func (x *Exchange) ukHeld(ctx context.Context, s *xSub) (bool, error) {
	if s.cur == nil || !s.cur.perChannel || s.ukLeft > 0 {
		return false, nil
	}
	if err := x.ukTake(ctx, s); err != nil {
		return false, err
	}
	return x.replay(ctx, s)
}
