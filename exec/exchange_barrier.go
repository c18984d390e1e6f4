package exec

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
)

// Aligned checkpoint barriers (Flink's barriers through the channels of keyed exchanges). With the senders
// of the sources held back (the engine's checkpoint gate), QueueBarrier queues one barrier item behind everything
// already queued for every keyed subtask of an exchange fed by source subtasks, and the senders may continue
// at once: a subtask's queue is FIFO over all of its channels, so that one item splits every source channel
// into the items before the cut and those after. An exchange fed by another exchange's keyed subtasks (a side
// marked with AlignSide) gets the barrier from each of those subtasks, one per channel, forwarded after
// everything they sent before it; a subtask aligns: once a channel delivered its barrier, its later items are
// held back (buffered, still pending) until every channel delivered its barrier or ended.
//
// A subtask that takes the barrier (every channel delivered it) has processed, output included, every item
// before the cut. When its exchange feeds another (SetBarrierForward), it writes its state (copies: later rows
// cannot change it), forwards the barrier and continues. Otherwise (its output goes to the engine's graph)
// it waits, its state unchanged, until the checkpoint releases it (ReleaseBarrier): nothing it emits after
// the cut reaches what the checkpoint snapshots under the graph lock. A subtask that ended before its
// barrier counts as having taken it (its state is final).

// xBarriers is an exchange's barrier configuration and current barrier.
type xBarriers struct {
	bar     *xBarrierRun                // the current barrier (under Exchange.mu)
	aligned []bool                      // per side: fed by keyed subtasks that forward barriers (AlignSide)
	forward func(k int, id int64) error // SetBarrierForward
}

// xBarrierRun is one checkpoint's barrier in an exchange.
type xBarrierRun struct {
	id      int64
	taken   []bool // per subtask
	left    int
	reached chan struct{} // closed once every subtask took the barrier
	release chan struct{} // closed by ReleaseBarrier
	// with forward: per subtask its state written at the barrier (snapped), as snapshotSubtasks writes it
	snaps   [][]stateEntry
	snapped []bool
	// drain: every subtask sends the maximum watermark into its operator at the barrier, before its state
	// is written (STOP ... WITH SAVEPOINT WITH DRAIN)
	drain bool
	// with forward: per subtask, per side the watermark its union had sent on at the barrier (unionCut)
	wms [][]int64
	// with forward and late-row counters (late_rows.go): per subtask its count at the barrier; others is
	// closed once every subtask but the first took the barrier (the first writes the sum)
	late   []int64
	others chan struct{}
	// unaligned (exchange_unaligned.go): the barrier went to the head of every queue; per subtask the
	// channel state (the items it overtook), encoded by the subtask when it takes the barrier
	unaligned bool
	// unaligned into an exchange with a side fed by keyed subtasks: per channel (exchange_unaligned_keyed.go)
	perChannel bool
	chans      [][]byte
	chanN      []int64 // per subtask, the items in chans
	// unaligned: per subtask after the first, its operator-wide entries at the barrier
	// (exchange_unaligned_meta.go)
	metas  [][]stateEntry
	unions [][][]int64 // per subtask, per side its union's watermarks at the barrier
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
	if b.others != nil && (b.left == 0 || b.left == 1 && !b.taken[0]) {
		select {
		case <-b.others:
		default:
			close(b.others)
		}
	}
}

// xAlign is a keyed subtask's alignment of the current barrier (touched by its goroutine only).
type xAlign struct {
	cur       *xBarrierRun // the barrier being aligned (nil: none)
	got       [][]bool     // per aligned side, per channel: delivered the barrier
	gotSrc    bool         // the barrier queued by Barrier (every channel of the sides fed by sources)
	gotN      int
	live      int // channels of aligned sides that have not ended
	held      []xItem
	replays   bool // held items wait to be processed
	ukLeft    int  // unaligned per channel: channels whose barrier is still to come (exchange_unaligned_keyed.go)
	xOvertake      // barriers that overtake the queue (exchange_unaligned_keyed_overtake.go)
	// unaligned per channel: the first subtask's snapshot waits for the others' late-row counts while it
	// holds what comes after its cut (exchange_unaligned_keyed.go)
	deferred bool
	xHold    // its bound (exchange_unaligned_keyed_hold.go)
}

// AlignSide marks side as fed by keyed subtasks of another exchange that forward barriers (one per channel).
// Call it before Run.
func (x *Exchange) AlignSide(side int) {
	if x.aligned == nil {
		x.aligned = make([]bool, len(x.sides))
	}
	x.aligned[side] = true
	for _, s := range x.subs {
		if s.got == nil {
			s.got = make([][]bool, len(x.sides))
		}
		s.got[side] = make([]bool, x.sides[side].Senders)
		s.live += x.sides[side].Senders
		s.alignOvertake(len(x.sides), side, x.sides[side].Senders)
	}
}

// SetBarrierForward sets f to forward barrier id from subtask k into the next exchange (after what k sent
// before it); the subtask's state is then written at its barrier and it does not wait. Call it before Run.
func (x *Exchange) SetBarrierForward(f func(k int, id int64) error) {
	x.forward = f
	for _, s := range x.subs {
		for side, ins := range s.ins {
			if len(ins) > 0 {
				if u, ok := ins[0].(*unionInput); ok {
					u.u.cut = &unionCut{x: x, k: s.idx, side: side}
				}
			}
		}
	}
}

// unionCut is where the union of a subtask that forwards its barrier finds the watermark it had sent on at
// the barrier (the subtask runs on after it): exec.SubtaskWatermarkState writes that one.
type unionCut struct {
	x       *Exchange
	k, side int
}

// at returns the watermark the union had sent on at the current barrier, if its subtask took it.
func (c *unionCut) at() (int64, bool) {
	c.x.mu.Lock()
	defer c.x.mu.Unlock()
	b := c.x.bar
	if b == nil || b.wms == nil || !b.snapped[c.k] {
		return 0, false
	}
	return b.wms[c.k][c.side], true
}

// CountsLateRows reports whether the subtasks' operators count late rows (late_rows.go): their count is
// written as the sum over the subtasks, which a barrier that does not stop them cannot cut.
func (x *Exchange) CountsLateRows() bool {
	ops := make([]changelog.Output, len(x.subs))
	for i, s := range x.subs {
		ops[i] = s.op
	}
	return len(x.subs) > 1 && lateCounters(ops) != nil
}

// fromSources reports whether a side of the exchange is fed by source subtasks (QueueBarrier queues items).
func (x *Exchange) fromSources() bool {
	for i := range x.sides {
		if x.aligned == nil || !x.aligned[i] {
			return true
		}
	}
	return false
}

// StartBarrier starts barrier id in the exchange. Start it on every exchange before QueueBarrier on any (a
// barrier forwarded into an exchange that has not started it would be taken for a stale one). Every
// StartBarrier must be followed by ReleaseBarrier, also when the checkpoint fails.
// With drain every subtask sends the maximum watermark into its operator when it takes the barrier, before
// its state is written or it waits (STOP ... WITH SAVEPOINT WITH DRAIN: windows and timers fire before the
// cut, as the quiesce's Drain makes them).
//
// With unaligned the barrier overtakes what is queued when the exchange can record it as channel state
// (exchange_unaligned.go: every side fed by source subtasks, the operators' state written by State); other
// exchanges keep the aligned barrier. Never with drain (savepoints are aligned).
func (x *Exchange) StartBarrier(id int64, drain, unaligned bool) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	b := &xBarrierRun{id: id, taken: make([]bool, len(x.subs)), left: len(x.subs), reached: make(chan struct{}), release: make(chan struct{}), drain: drain}
	if unaligned && !drain && x.CanUnalign() {
		b.unaligned, b.chans, b.chanN = true, make([][]byte, len(x.subs)), make([]int64, len(x.subs))
		b.metas, b.unions = make([][]stateEntry, len(x.subs)), make([][][]int64, len(x.subs))
		b.perChannel = x.aligned != nil // exchange_unaligned_keyed.go
	}
	if x.forward != nil {
		b.snaps, b.snapped = make([][]stateEntry, len(x.subs)), make([]bool, len(x.subs))
		b.wms = make([][]int64, len(x.subs))
		if x.CountsLateRows() {
			b.late, b.others = make([]int64, len(x.subs)), make(chan struct{})
		}
	}
	x.bar = b
	for k, s := range x.subs {
		if s.finished {
			b.take(k) // ended before the cut: its state is final
		}
	}
	if x.dead {
		return errors.New("the keyed subtasks stopped (the job is failing or cancelled)")
	}
	return nil
}

// QueueBarrier queues the started barrier behind every item queued so far for every running subtask, when
// a side of the exchange is fed by source subtasks (the other sides get it from the keyed subtasks before).
// Call it while no source subtask sends (the checkpoint gate is closed); it blocks only while a queue is
// full.
func (x *Exchange) QueueBarrier() error {
	x.mu.Lock()
	b := x.bar
	x.mu.Unlock()
	if b == nil {
		return errors.New("exchange: internal error: no barrier started")
	}
	if !x.fromSources() {
		return nil
	}
	x.mu.Lock()
	x.endOverdraft() // exchange_overdraft.go: the barrier itself is not spilled
	x.mu.Unlock()
	if b.unaligned && !b.perChannel {
		return x.queueUnaligned(b) // exchange_unaligned.go: it overtakes the spills too
	}
	for _, s := range x.subs {
		x.unspill(s) // behind the queue, before the barrier
	}
	for k, s := range x.subs {
		it := xItem{kind: xBarrier, from: -1, wm: b.id}
		x.mu.Lock()
		if s.finished {
			b.take(k)
			x.mu.Unlock()
			continue
		}
		if err := x.queueItem(k, s, it); err != nil {
			return err
		}
	}
	return nil
}

// queueItem queues barrier item it for running subtask k, s (called with x.mu held; it returns with x.mu
// released): at once when its queue has room, else waiting for room without the lock (finish takes it).
func (x *Exchange) queueItem(k int, s *xSub, it xItem) error {
	x.pending.Add(1)
	select {
	case s.q <- it:
		x.mu.Unlock()
		return nil
	default:
		x.pending.Add(-1)
	}
	x.mu.Unlock()
	if err := x.send(k, it); err != nil {
		return err
	}
	x.mu.Lock()
	if s.finished {
		// it ended (taking the barrier in finish) before this item landed: nothing reads its queue
		x.discard(s)
	}
	x.mu.Unlock()
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

// ReleaseBarrier ends the current barrier: the subtasks that wait at it continue, and those still aligning
// it (the checkpoint gave up) process what they held back.
func (x *Exchange) ReleaseBarrier() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.bar != nil {
		close(x.bar.release)
		x.bar = nil
	}
}

// InBarrier reports whether a checkpoint barrier is current (started and not yet released).
func (x *Exchange) InBarrier() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.bar != nil
}

// Pending returns the number of items sent and not yet processed.
func (x *Exchange) Pending() int64 { return x.pending.Load() }

// need is the number of barrier deliveries subtask s takes the barrier at.
func (x *Exchange) need(s *xSub) int {
	n := s.live
	if x.fromSources() {
		n++
	}
	return n
}

// holds reports whether subtask s holds item it back: its channel already delivered the barrier s aligns.
func (x *Exchange) holds(s *xSub, it xItem) bool {
	if s.cur == nil {
		return false
	}
	if s.cur.perChannel {
		return x.ukHolds(s, it) // exchange_unaligned_keyed.go
	}
	switch it.kind {
	case xRows, xCols, xWatermark, xEnd, xBarrier:
	default:
		return false // ticks: no channel
	}
	if x.aligned != nil && x.aligned[it.side] {
		return it.from >= 0 && s.got[it.side][it.from]
	}
	return s.gotSrc
}

// barrier is subtask s receiving the barrier item it.
func (x *Exchange) barrier(ctx context.Context, s *xSub, it xItem) error {
	x.mu.Lock()
	b := x.bar
	var over []xItem
	if it.from < 0 {
		over, s.overtaken = s.overtaken, nil // exchange_unaligned.go: what this barrier overtook
	}
	x.mu.Unlock()
	if len(over) > 0 {
		// processed after the barrier, before the rest of the queue (the exchange has no aligned side, so
		// nothing else is held)
		s.held = append(over, s.held...)
		s.replays = true
	}
	if b == nil || b.id != it.wm {
		return nil // of a checkpoint that gave up (released)
	}
	if b.perChannel {
		return nil // seen when it came out of the queue (exchange_unaligned_keyed_overtake.go: enter)
	}
	if b.unaligned {
		x.recordChannels(b, s, over) // exchange_unaligned.go
	}
	s.cur = b
	if it.from < 0 {
		s.gotSrc = true
	} else {
		s.got[it.side][it.from] = true
	}
	s.gotN++
	if s.gotN < x.need(s) {
		return nil
	}
	return x.take(ctx, s)
}

// channelEnded is subtask s processing the end of a channel: on an aligned side one barrier fewer to wait for.
func (x *Exchange) channelEnded(ctx context.Context, s *xSub, it xItem) error {
	if x.aligned == nil || !x.aligned[it.side] {
		return nil
	}
	s.live--
	if s.cur != nil && !s.cur.perChannel && s.gotN >= x.need(s) {
		return x.take(ctx, s)
	}
	return nil
}

// take is subtask s taking the barrier it aligned.
func (x *Exchange) take(ctx context.Context, s *xSub) error {
	b := s.cur
	x.unmark(s)
	if b.drain {
		if err := x.drainAt(s); err != nil {
			return err
		}
	}
	if b.unaligned {
		wms := unionWatermarks(s) // exchange_unaligned_meta.go
		x.mu.Lock()
		b.unions[s.idx] = wms
		x.mu.Unlock()
	}
	if x.forward != nil {
		if err := x.snapAt(ctx, b, s); err != nil {
			return err
		}
		if err := x.forward(s.idx, b.id); err != nil {
			return err
		}
		x.mu.Lock()
		b.take(s.idx)
		x.mu.Unlock()
		return nil
	}
	x.mu.Lock()
	b.take(s.idx)
	x.mu.Unlock()
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// snapAt writes subtask s's state at barrier b (copies; s runs on after it) with the watermarks its union
// had sent on, when its exchange feeds another.
func (x *Exchange) snapAt(ctx context.Context, b *xBarrierRun, s *xSub) error {
	st := StateOf(s.op)
	if st == nil {
		return nil
	}
	restore, err := x.lateAt(ctx, b, s, st)
	if err != nil {
		return err
	}
	var w entryWriter
	var tee *metaTee
	if b.unaligned && s.idx != 0 {
		// its own operator-wide entries are kept too (exchange_unaligned_meta.go)
		tee = &metaTee{w: &w}
		err = st.SnapshotState(tee)
	} else {
		err = st.SnapshotState(&parWriter{w: &w, first: s.idx == 0})
	}
	restore()
	if err != nil {
		return fmt.Errorf("checkpoint %d: %w", b.id, err)
	}
	if tee != nil {
		x.mu.Lock()
		b.metas[s.idx] = tee.metas
		x.mu.Unlock()
	}
	wms := make([]int64, len(s.ins))
	for side, ins := range s.ins {
		if u, ok := ins[0].(*unionInput); ok {
			wms[side] = u.u.emitted
		}
	}
	x.mu.Lock()
	b.snaps[s.idx], b.snapped[s.idx], b.wms[s.idx] = w.es, true, wms
	x.mu.Unlock()
	return nil
}

// drainAt sends the maximum watermark into subtask s's operator at a drain barrier (as an xDrain item does)
// and lets go of what its output took (the graph lock), since s may wait at the barrier next.
func (x *Exchange) drainAt(s *xSub) error {
	err := x.handle(s, xItem{kind: xDrain})
	if err == nil && x.after != nil {
		err = x.after(s.idx)
	}
	x.release(s.idx)
	return err
}

// lateAt prepares subtask s's snapshot at barrier b when the subtasks count late rows (late_rows.go): the
// first subtask writes the operator-wide entry, with the sum over the subtasks, so it waits until every
// other subtask took the barrier (recording its count there) and writes the sum of those counts; the others
// record theirs. The function returned sets the first subtask's count back after its snapshot.
func (x *Exchange) lateAt(ctx context.Context, b *xBarrierRun, s *xSub, st any) (func(), error) {
	c, ok := st.(lateCounter)
	if !ok || b.late == nil {
		return func() {}, nil
	}
	n := c.lateCount()
	if s.idx != 0 {
		x.mu.Lock()
		b.late[s.idx] = *n
		x.mu.Unlock()
		return func() {}, nil
	}
	select {
	case <-b.others:
	case <-b.release:
		return func() {}, nil // the checkpoint gave up
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	own, sum := *n, *n
	x.mu.Lock()
	sum += x.othersLate(b)
	x.mu.Unlock()
	*n = sum
	return func() { *n = own }, nil
}

// othersLate is the late-row count of every subtask but the first at barrier b: recorded there, or, for a
// subtask that ended before it, its final count (under x.mu).
func (x *Exchange) othersLate(b *xBarrierRun) int64 {
	var sum int64
	for k, s := range x.subs[1:] {
		if b.snapped[k+1] {
			sum += b.late[k+1]
		} else if c, ok := StateOf(s.op).(lateCounter); ok {
			sum += *c.lateCount()
		}
	}
	return sum
}

// unmark ends subtask s's alignment; what it held back is processed next (replay).
func (x *Exchange) unmark(s *xSub) {
	s.cur, s.gotSrc, s.gotN, s.ukLeft, s.deferred = nil, false, 0, 0, false
	for _, g := range s.got {
		clear(g)
	}
	s.replays = len(s.held) > 0
}

// aligning returns the channel that is closed when the barrier subtask s aligns is released before s took
// it (nil: s does not align).
func (s *xSub) aligning() <-chan struct{} {
	if s.cur == nil {
		return nil
	}
	return s.cur.release
}

// released reports whether the barrier subtask s aligns was released before s took it (the checkpoint gave
// up).
func (s *xSub) released() bool {
	if s.cur == nil {
		return false
	}
	select {
	case <-s.cur.release:
		return true
	default:
		return false
	}
}

// unalign is subtask s giving up the alignment of a released barrier.
func (x *Exchange) unalign(ctx context.Context, s *xSub) (bool, error) {
	x.unmark(s)
	return x.replay(ctx, s)
}

// replay processes the items subtask s held back, in order.
func (x *Exchange) replay(ctx context.Context, s *xSub) (bool, error) {
	if !s.replays {
		return false, nil
	}
	held := s.held
	s.held, s.replays, s.heldBytes = nil, false, 0
	for i, it := range held {
		done, err := x.process(ctx, s, it)
		if err != nil || done {
			x.mu.Lock()
			for _, rest := range held[i+1:] {
				if rest.b != nil {
					rest.b.reset()
				}
				x.pending.Add(-1)
			}
			x.mu.Unlock()
			return done, err
		}
	}
	return false, nil
}

// barrierState returns the current barrier (nil: none).
func (x *Exchange) barrierState() *xBarrierRun {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.bar
}

// entryWriter keeps the entries written (copies).
type entryWriter struct{ es []stateEntry }

func (w *entryWriter) Put(ns uint8, key, value []byte) error {
	w.es = append(w.es, stateEntry{ns: ns, key: append([]byte(nil), key...), value: append([]byte(nil), value...)})
	return nil
}

// writeAtBarrier writes the subtasks' state as snapshotSubtasks does, each subtask's as written at barrier b
// (a subtask that ended before it: as it is).
func (x *Exchange) writeAtBarrier(b *xBarrierRun, ops []changelog.Output, w state.Writer) error {
	for i, op := range ops {
		if !b.snapped[i] {
			st := StateOf(op)
			if st == nil {
				return fmt.Errorf("subtask %d has no snapshottable state", i)
			}
			restore := func() {}
			if c, ok := st.(lateCounter); ok && i == 0 && b.late != nil {
				// the first subtask ended before the barrier: its entry carries the others' counts at theirs
				n := c.lateCount()
				own := *n
				x.mu.Lock()
				*n += x.othersLate(b)
				x.mu.Unlock()
				restore = func() { *n = own }
			}
			var err error
			if b.unaligned && i != 0 {
				tee := &metaTee{w: w}
				err = st.SnapshotState(tee)
				b.metas[i] = tee.metas // every subtask took the barrier: no more writes
			} else {
				err = st.SnapshotState(&parWriter{w: w, first: i == 0})
			}
			restore()
			if err != nil {
				return err
			}
			continue
		}
		for _, e := range b.snaps[i] {
			if err := w.Put(e.ns, e.key, e.value); err != nil {
				return err
			}
		}
	}
	return nil
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

// Barrier forwards checkpoint barrier id on the sender's channel to every subtask, after the rows collected
// so far (a keyed subtask of the exchange before, SetBarrierForward). An unaligned barrier overtakes them
// (postBarrier).
func (s *ExchangeSender) Barrier(id int64) error {
	if s.x.postBarrier(s, id) {
		return nil // ahead of the queues (exchange_unaligned_keyed_overtake.go)
	}
	if err := s.Flush(); err != nil {
		return err
	}
	for k := range s.x.subs {
		s.sent[k]++
		if err := s.x.send(k, xItem{kind: xBarrier, side: uint8(s.side), from: int32(s.from), wm: id}); err != nil {
			return err
		}
	}
	return nil
}
