package exec

import (
	"sync/atomic"
	"unsafe"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// The bounded hold of a late-counting exchange's first subtask (exchange_unaligned_keyed.go: its snapshot
// waits for the other subtasks' late-row counts at their cuts, and meanwhile it holds what comes after its
// own cut, since its state must stay as at the cut). Past UnalignedHoldBytes of held items it stops taking
// items out of its queue: the items stay in the queue, which is bounded, and the senders wait for room
// (back-pressure, as Flink's bounded network buffers). It cannot simply stop, since a sender that has not
// forwarded its barrier yet may be waiting for room in this queue: then it never forwards its barrier to the
// other subtasks, they never take theirs and the first subtask waits for ever. So a sender that finds the
// queue full says so on its channel (send: blocked, and a wake-up), and the subtask takes an item whenever a
// channel whose barrier it has not seen yet (or, for the sides fed by sources, before their barrier) has a
// sender waiting. Once every channel's barrier is in, the others need nothing more from this queue: they take
// their barriers from their own queues and the posted barriers. What it holds past the budget is then at most
// what the senders late with their barrier send before it (their in-flight rows, which the checkpoint records
// anyway), however long the wait and however fast the input. Spilling the held items would bound memory as
// well, but needs a file per subtask and an encoding round trip for every held row; the back-pressure keeps
// them in memory and costs nothing while no checkpoint is deferred.

// UnalignedHoldBytes is the estimated size of the items the first subtask of a late-counting exchange holds
// while its snapshot waits for the other subtasks, past which it stops taking items out of its queue (see
// above; a variable for tests).
var UnalignedHoldBytes int64 = 16 << 20

// xHold is a subtask's part of the bounded hold.
type xHold struct {
	heldBytes int64 // the estimated size of held (while deferred)
	heldPeak  int64 // the largest heldBytes so far (tests)
	stops     int64 // times it left its queue alone past the budget (tests)
	// senders waiting for room in the queue: per aligned side per channel, and those of the other sides
	blocked    [][]atomic.Int32
	srcBlocked atomic.Int32
}

// waiting returns the counter of senders waiting for room in subtask s's queue for item it (nil: the
// exchange has no side fed by keyed subtasks, so no subtask holds).
func (s *xSub) waiting(it xItem) *atomic.Int32 {
	if s.blocked == nil {
		return nil
	}
	if int(it.side) < len(s.blocked) && s.blocked[it.side] != nil && it.from >= 0 {
		return &s.blocked[it.side][it.from]
	}
	return &s.srcBlocked
}

// holdBlocked marks a sender waiting for room in subtask s's queue (w from waiting) and wakes s.
func (s *xSub) holdBlocked(w *atomic.Int32) {
	w.Add(1)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// queueOf returns subtask s's queue, or nil while it holds items past the budget and no sender before its
// channel's barrier waits for room there.
func (x *Exchange) queueOf(s *xSub) chan xItem {
	if !s.deferred || s.heldBytes < UnalignedHoldBytes || x.preBarrierBlocked(s) {
		return s.q
	}
	s.stops++
	return nil
}

// preBarrierBlocked reports whether a sender whose barrier subtask s has not seen waits for room in its queue.
func (x *Exchange) preBarrierBlocked(s *xSub) bool {
	if !s.gotSrc && s.srcBlocked.Load() > 0 {
		return true
	}
	for side, chs := range s.blocked {
		for from := range chs {
			if !s.got[side][from] && chs[from].Load() > 0 {
				return true
			}
		}
	}
	return false
}

// hold puts item it behind what subtask s holds, counting its size while its snapshot is deferred.
func (s *xSub) hold(it xItem) {
	s.held = append(s.held, it)
	if !s.deferred {
		return
	}
	s.heldBytes += itemBytes(it)
	if s.heldBytes > s.heldPeak {
		s.heldPeak = s.heldBytes
	}
}

var valueSize = int64(unsafe.Sizeof(types.Value{}))
var rowSize = int64(unsafe.Sizeof(changelog.Row{}))

// itemBytes estimates the memory item it holds: its rows' values and strings, or its columns at 16 bytes a
// value.
func itemBytes(it xItem) int64 {
	n := int64(64)
	if it.b == nil {
		return n
	}
	if c := &it.b.cols; c.N > 0 {
		return n + int64(c.N)*int64(len(c.Cols))*16
	}
	n += int64(len(it.b.batch.Rows)) * rowSize
	for i := range it.b.arena {
		n += valueSize + int64(len(it.b.arena[i].S))
	}
	return n
}
