package exec

import (
	"context"
	"sync/atomic"
)

// Barriers that overtake the queue of an exchange fed by keyed subtasks (Flink's unaligned barriers overtake
// the buffers queued in an input channel and the upstream's unsent output). A keyed subtask that forwards its
// unaligned barrier into such an exchange (ExchangeSender.Barrier) does not queue it behind what it sent: it
// posts it to every subtask out of band (xOvertake.pri, a wake-up), with the number of items it sent on its
// channel to that subtask before it and the rows it had collected for that subtask and not sent (its unsent
// batch, handed over with the barrier). So it never waits for room in a full queue to forward its barrier.
//
// A subtask counts the items it takes out of its queue per channel (recv). Every item comes out in arrive
// (the loop): a barrier posted before an item of its channel was sent is seen there before that item
// (priSet is set before the item is sent), so no item after a channel's cut is taken for one before it. At a
// posted barrier the subtask takes every item queued out of its queue at once (ahead: they are processed
// after, in order): the barrier overtakes them. The first barrier of the checkpoint cuts the subtask's state
// there (ukFirst): everything taken out and not processed yet is channel state. Then an item of a channel is
// channel state when its barrier is still to come or it is one of the first cutAt items of its channel; the
// unsent batch goes in (recorded) behind the cutAt-th item of its channel. A channel is complete once its
// barrier came and its cutAt items were taken out (or its end came first); the subtask takes the barrier once
// every channel is complete: with the queue taken out at each barrier, that is when the last barrier came,
// not when the queue drained. A keyed subtask that forwards its barrier into an exchange with aligned barriers
// (or a test hook, NoKeyedOvertake) queues it behind what it sent, as before; arrive counts it the same way.

// NoKeyedOvertake makes the barriers into exchanges fed by keyed subtasks queue behind what their channel sent
// instead of overtaking it (a test hook: the checkpoint then waits for the queues to drain).
var NoKeyedOvertake = false

// xOvertake is a keyed subtask's part of the barriers that overtake its queue.
type xOvertake struct {
	recv  [][]int64 // per aligned side, per channel: the items taken out of the queue
	cutAt [][]int64 // per aligned side, per channel: the items sent before its current barrier (with got)
	ahead []xItem   // taken out of the queue, not processed yet (in order)
	head  int
	waits []xPri // barriers whose channel has items before them still in the queue
	// posted barriers (under Exchange.mu); priSet is set with them, wake gets a token
	pri    []xPri
	priSet atomic.Bool
	wake   chan struct{}
}

// xPri is a barrier posted by a sender: id, its channel, the items it sent to the subtask before it and its
// unsent batch (nil: none).
type xPri struct {
	side uint8
	from int32
	id   int64
	n    int64
	b    *xBatch
}

// alignOvertake prepares subtask s for barriers that overtake its queue on side (AlignSide).
func (s *xSub) alignOvertake(nSides, side, senders int) {
	if s.recv == nil {
		s.recv, s.cutAt = make([][]int64, nSides), make([][]int64, nSides)
		s.wake = make(chan struct{}, 1)
	}
	s.recv[side], s.cutAt[side] = make([]int64, senders), make([]int64, senders)
	if s.blocked == nil {
		s.blocked = make([][]atomic.Int32, nSides)
	}
	s.blocked[side] = make([]atomic.Int32, senders) // exchange_unaligned_keyed_hold.go
}

// postBarrier posts barrier id of sender snd to every subtask ahead of their queues, when the exchange's
// current barrier is unaligned per channel; false: queue it (aligned, stale or the hook).
func (x *Exchange) postBarrier(snd *ExchangeSender, id int64) bool {
	if NoKeyedOvertake {
		return false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	b := x.bar
	if b == nil || b.id != id || !b.perChannel || x.dead || x.aligned == nil || !x.aligned[snd.side] {
		return false
	}
	for k, s := range x.subs {
		p := snd.pend[k]
		if p != nil && (len(p.batch.Rows) > 0 || p.cols.N > 0) {
			snd.pend[k] = nil
			x.pending.Add(1) // processed as an item
		} else {
			p = nil
		}
		s.pri = append(s.pri, xPri{side: uint8(snd.side), from: int32(snd.from), id: id, n: snd.sent[k], b: p})
		s.priSet.Store(true)
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// nextAhead returns the next item subtask s took out of its queue and has not processed.
func (s *xSub) nextAhead() (xItem, bool) {
	if s.head == len(s.ahead) {
		return xItem{}, false
	}
	it := s.ahead[s.head]
	s.ahead[s.head] = xItem{}
	if s.head++; s.head == len(s.ahead) {
		s.ahead, s.head = s.ahead[:0], 0
	}
	return it, true
}

// arrive takes item it (ok false: none, woken by a posted barrier) out of subtask s's queue: with the barriers
// posted since, the rest of the queue too. Taking the barrier may wait for the release (then what s held is
// processed); it reports whether s is done.
func (x *Exchange) arrive(ctx context.Context, s *xSub, it xItem, ok bool) (bool, error) {
	var pris []xPri
	var drained []xItem
	if s.priSet.Load() {
		x.mu.Lock()
		pris, s.pri = s.pri, nil
		s.priSet.Store(false)
		x.mu.Unlock()
		// every item sent before those barriers were posted is queued or out already
		for n := len(s.q); n > 0; n-- {
			drained = append(drained, <-s.q)
		}
	}
	for _, p := range pris {
		if err := x.ukPosted(ctx, s, p); err != nil {
			return false, err
		}
	}
	if ok {
		if err := x.enter(ctx, s, it); err != nil {
			return false, err
		}
	}
	for _, d := range drained {
		if err := x.enter(ctx, s, d); err != nil {
			return false, err
		}
		if s.cur != nil && s.cur.perChannel {
			unalignedQueued.Add(1)
		}
	}
	if s.cur == nil || !s.cur.perChannel || s.ukLeft > 0 || s.deferred {
		return false, nil
	}
	if err := x.ukTake(ctx, s); err != nil {
		return false, err
	}
	return x.replay(ctx, s)
}

// ukPosted is subtask s seeing barrier p posted by a sender.
func (x *Exchange) ukPosted(ctx context.Context, s *xSub, p xPri) error {
	b := x.barrierState()
	if b == nil || b.id != p.id || !b.perChannel {
		p.id = -1 // of a checkpoint that gave up: its unsent batch still goes in at its place
	} else {
		if err := x.ukFirst(ctx, s, b); err != nil {
			return err
		}
		s.got[p.side][p.from], s.cutAt[p.side][p.from] = true, p.n
	}
	if s.recv[p.side][p.from] >= p.n {
		x.ukComplete(s, p)
		return nil
	}
	s.waits = append(s.waits, p)
	return nil
}

// ukComplete is the channel of barrier p complete at subtask s: every item before it taken out. Its unsent
// batch goes in behind them.
func (x *Exchange) ukComplete(s *xSub, p xPri) {
	cur := s.cur != nil && s.cur.id == p.id
	if p.b != nil {
		it := xItem{kind: xRows, side: p.side, from: p.from, b: p.b}
		if p.b.cols.N > 0 {
			it.kind = xCols
		}
		if cur {
			x.ukRecord(s, it)
			unalignedQueued.Add(1)
		}
		s.ahead = append(s.ahead, it)
	}
	if cur {
		s.ukLeft--
	}
}

// enter is subtask s taking item it out of its queue: counted on its channel, recorded as channel state when
// it lies before the cut of its channel, and put behind what was taken out before. The barrier of the
// current checkpoint (queued: the source sides', or one not posted) is seen here.
func (x *Exchange) enter(ctx context.Context, s *xSub, it xItem) error {
	counted := it.from >= 0 && x.aligned[it.side] && it.kind != xTick && it.kind != xDrain
	var idx int64
	if counted {
		s.recv[it.side][it.from]++
		idx = s.recv[it.side][it.from]
	}
	if it.kind == xBarrier {
		if b := x.barrierState(); b != nil && b.id == it.wm && b.perChannel {
			if x.pending.Add(-1) == 0 {
				x.mu.Lock()
				x.cond.Broadcast()
				x.mu.Unlock()
			}
			if !counted {
				if err := x.ukFirst(ctx, s, b); err != nil {
					return err
				}
				if !s.gotSrc {
					s.gotSrc = true
					s.ukLeft--
				}
				return nil
			}
			// queued behind what its channel sent (NoKeyedOvertake): everything before it is out
			return x.ukPosted(ctx, s, xPri{side: it.side, from: it.from, id: it.wm, n: idx - 1})
		}
	} else if s.cur != nil && s.cur.perChannel && it.kind != xTick && it.kind != xDrain {
		var before bool
		if x.aligned[it.side] {
			before = !s.got[it.side][it.from] || idx <= s.cutAt[it.side][it.from]
		} else {
			before = !s.gotSrc
		}
		if before {
			x.ukRecord(s, it)
			if it.kind == xEnd && x.aligned[it.side] && !s.got[it.side][it.from] {
				s.got[it.side][it.from] = true // the end of a channel counts as its barrier
				s.ukLeft--
			}
		}
	}
	s.ahead = append(s.ahead, it)
	if counted && len(s.waits) > 0 {
		for i, p := range s.waits {
			if p.side == it.side && p.from == it.from && p.n == idx {
				s.waits = append(s.waits[:i], s.waits[i+1:]...)
				x.ukComplete(s, p)
				break
			}
		}
	}
	return nil
}

// ukRecord records item it as channel state of subtask s's current barrier.
func (x *Exchange) ukRecord(s *xSub, it xItem) {
	b := s.cur
	x.mu.Lock()
	var ok bool
	if b.chans[s.idx], ok = appendChannelItem(b.chans[s.idx], it); ok {
		b.chanN[s.idx]++
	}
	x.mu.Unlock()
	if ok {
		unalignedOvertaken.Add(1)
		unalignedPerChannel.Add(1)
	}
}

// ukForget is subtask s dropping what it took out of its queue and did not process, once it finished: ticks
// and barriers only (every channel ended).
func (x *Exchange) ukForget(s *xSub) {
	for range s.ahead[s.head:] {
		if x.pending.Add(-1) == 0 {
			x.cond.Broadcast()
		}
	}
	s.ahead, s.head = nil, 0
}
