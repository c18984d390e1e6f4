package exec

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Exchange is Flink's pipelined hash exchange into a keyed operator that runs as n subtasks. Every subtask
// is its own operator instance owning the key groups g with Subtask(g, maxParallelism, n) equal to its index
// (as in Parallel) and runs on its own goroutine (Run) behind one input queue. Senders (one per upstream
// subtask and input side) route every row by its key group into the owning subtask's queue, in batches per
// destination that are recycled through a free list: no allocation per row; a columnar batch into an
// operator that takes columns travels as columns (gathered per destination, exchange_route.go). A two-input
// operator (a join) has two sides; every queue item carries its side and sending channel.
//
// Watermarks and the end of input are sent to every subtask; a subtask's input watermark is the minimum
// over its channels (one exec.NewUnion per side, so exec.IdleWatermark marks a channel idle), and its
// operator ends once every channel of every side ended.
//
// What a subtask emits goes to its own output, given by the caller; after each queue item the subtask calls
// release(k) (the engine's graph lock is held across one item's output). Pending counts the items sent and
// not yet processed (output included): WaitIdle returns once it is zero, which with the senders held back is
// a cut with no data in flight (the engine's checkpoint gate).
//
// State (State) is one operator's at any n, exactly as Parallel writes it, so checkpoints restore at any
// parallelism.
type Exchange struct {
	maxPar    int
	sides     []ExchangeSide
	subs      []*xSub
	release   func(k int)
	after     func(k int) error // SetAfterItem
	onError   func(err error)   // SetOnError
	pending   atomic.Int64
	mu        sync.Mutex
	cond      sync.Cond
	dead      bool // Run returned (under mu)
	stop      chan struct{}
	free      chan *xBatch
	xBarriers            // checkpoint barriers (exchange_barrier.go)
	od        xOverdraft // exchange_overdraft.go
	// the number of subtasks of restored channel state taken at another parallelism (exchange_unaligned_rescale.go)
	rescaledFrom int
}

// ExchangeSide is one input of the keyed operator.
type ExchangeSide struct {
	Keys     []int
	KeyTypes []types.Type
	Senders  int
	// NullKey routes rows with a NULL key column by the regular join's bucket for them (its state key).
	NullKey bool
	// Rebalance deals the rows round robin over the subtasks instead of routing them by key (Flink's
	// rebalance: a sink with a parallelism of its own over an insert-only input); Keys are then unused.
	// Every sender starts at the subtask after its own index, so that the first rows of several senders
	// do not all go to subtask 0.
	Rebalance bool
}

// xBatchRows is the number of rows a sender collects for one subtask before it sends them.
const xBatchRows = 512

// xQueue is the capacity of a subtask's input queue, in items.
const xQueue = 16

type xKind uint8

const (
	xRows xKind = iota
	xWatermark
	xEnd
	xDrain
	xTick    // exchange_tick.go
	xCols    // gathered columns (exchange_route.go)
	xBarrier // a checkpoint barrier (exchange_barrier.go); wm is its id
)

type xItem struct {
	kind xKind
	side uint8
	from int32
	wm   int64
	b    *xBatch
}

// xBatch is rows sent to one subtask; their values live in arena. A sender into operators that take columns
// gathers the rows of columnar batches into cols instead (xCols); an item holds either rows or columns.
type xBatch struct {
	batch changelog.Batch
	arena []types.Value
	cols  vec.Gather
}

// reset empties b for reuse, once its item was processed.
func (b *xBatch) reset() {
	b.batch.Reset()
	b.arena = b.arena[:0]
	if b.cols.N > 0 {
		b.cols.Reset()
	}
}

type xSub struct {
	idx      int
	q        chan xItem
	ins      [][]changelog.Output // per side, one union input per sender
	opIns    []changelog.Output   // per side, the operator's input
	op       changelog.Output     // the operator's state holder
	ended    []int                // per side, channels ended
	endsLeft int
	finished bool // the operator ended (under Exchange.mu)
	xAlign        // checkpoint barrier alignment (exchange_barrier.go)
	// unaligned barriers (exchange_unaligned.go): the items the queued barrier overtook (under Exchange.mu),
	// and the channel state of a restored checkpoint, replayed before the queue
	overtaken []xItem
	restored  []xItem
	// restored at another parallelism from channel state holding watermarks: the key groups' fired
	// watermarks (exchange_unaligned_rescale_floor.go; floors under Exchange.mu, read by its subtask)
	floors    *xFloors
	floorBase int64
	xSpill    // what a send put behind the full queue during an overdraft (exchange_overdraft.go)
}

// NewExchange builds n keyed subtasks. mk builds subtask k's operator in front of outs[k] and returns its
// input per side and the output whose state (StateOf) is the subtask's state. release(k) is called after
// every item subtask k processed.
func NewExchange(maxParallelism, n int, sides []ExchangeSide, mk func(k int, out changelog.Output) ([]changelog.Output, changelog.Output, error), outs []changelog.Output, release func(k int)) (*Exchange, error) {
	if maxParallelism <= 0 {
		maxParallelism = state.DefaultMaxParallelism
	}
	x := &Exchange{maxPar: maxParallelism, sides: sides, release: release, stop: make(chan struct{}), free: make(chan *xBatch, 2*n*xQueue)}
	x.cond.L = &x.mu
	x.od.wake = make(chan struct{})
	for k := range n {
		ins, op, err := mk(k, outs[k])
		if err != nil {
			return nil, err
		}
		if len(ins) != len(sides) {
			return nil, fmt.Errorf("exchange: the operator has %d inputs, the exchange %d sides", len(ins), len(sides))
		}
		s := &xSub{idx: k, q: make(chan xItem, xQueue), opIns: ins, op: op, ended: make([]int, len(sides))}
		for i, sd := range sides {
			s.ins = append(s.ins, NewUnion(sd.Senders, ins[i]))
			s.endsLeft += sd.Senders
		}
		x.subs = append(x.subs, s)
	}
	return x, nil
}

// SideInputs returns the channels of subtask k's side (union inputs; read them only while the exchange is
// idle: exec.SubtaskWatermarkState of a watermark assigner chained above the senders).
func (x *Exchange) SideInputs(k, side int) []changelog.Output { return x.subs[k].ins[side] }

// Subtasks returns the number of keyed subtasks.
func (x *Exchange) Subtasks() int { return len(x.subs) }

// Run runs the subtasks until every one ended (nil), one failed (its error; the others stop), or ctx ends.
// Senders blocked on a queue return context.Canceled once Run returned.
//
// Its error is the first one a subtask returned while the exchange's context was not cancelled yet: a
// failure, even when it wraps context.Canceled (a sink's client that gave up on a context of its own).
// The errors returned after it (by ctx's end or a sibling's failure) are the cancellation: when there is no
// failure, the first of them that does not wrap context.Canceled, else the first. Choosing by errors.Is
// alone let a sibling's bare context.Canceled hide a failure that wrapped it.
func (x *Exchange) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(x.subs))
	var mu sync.Mutex
	var failure error // the first error while ctx was live
	var wg sync.WaitGroup
	for i, s := range x.subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = x.loop(ctx, s); errs[i] != nil {
				mu.Lock()
				if failure == nil && ctx.Err() == nil {
					failure = errs[i]
				}
				cancel() // under mu: a later error sees ctx cancelled
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	x.mu.Lock()
	x.dead = true
	close(x.stop)
	x.cond.Broadcast()
	x.mu.Unlock()
	if failure != nil {
		return failure
	}
	var first error
	for _, err := range errs {
		if first == nil || errors.Is(first, context.Canceled) && err != nil && !errors.Is(err, context.Canceled) {
			first = err
		}
	}
	return first
}

func (x *Exchange) loop(ctx context.Context, s *xSub) error {
	if done, err := x.replayRestored(ctx, s); err != nil || done { // exchange_unaligned.go
		return err
	}
	for {
		if x.aligned != nil {
			// exchange_unaligned_keyed_overtake.go: a barrier posted ahead of the queue, then what was taken
			// out of it
			if s.priSet.Load() {
				if done, err := x.arrive(ctx, s, xItem{}, false); err != nil || done {
					return err
				}
			}
			if it, ok := s.nextAhead(); ok {
				if done, err := x.process(ctx, s, it); err != nil || done {
					return err
				}
				continue
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.aligning(): // exchange_barrier.go: the checkpoint gave up while s aligned
			done, err := x.unalign(ctx, s)
			if err != nil || done {
				return err
			}
		case <-s.wake: // nil without an aligned side
		case <-s.deferredWait(): // exchange_unaligned_keyed.go
			done, err := x.ukSnapDeferred(ctx, s)
			if err != nil || done {
				return err
			}
		case it := <-x.queueOf(s): // exchange_unaligned_keyed_hold.go: nil while s holds past its budget
			var done bool
			var err error
			if x.aligned != nil {
				done, err = x.arrive(ctx, s, it, true)
			} else {
				done, err = x.process(ctx, s, it)
			}
			if err != nil || done {
				return err
			}
		}
	}
}

// process processes one item of subtask s (or holds it back while s aligns a checkpoint barrier) and
// reports whether s is done.
func (x *Exchange) process(ctx context.Context, s *xSub, it xItem) (bool, error) {
	if s.released() { // exchange_barrier.go: the checkpoint gave up while s aligned
		if done, err := x.unalign(ctx, s); err != nil || done {
			return done, err
		}
	}
	if x.holds(s, it) {
		s.hold(it) // exchange_unaligned_keyed_hold.go
		return false, nil
	}
	var err error
	if it.kind == xBarrier {
		err = x.barrier(ctx, s, it)
	} else {
		err = x.handle(s, it)
	}
	if err == nil && x.after != nil {
		err = x.after(s.idx)
	}
	x.release(s.idx)
	if err == nil && it.kind == xEnd {
		// exchange_barrier.go: one barrier fewer to align; taking it may wait, so after the graph lock is let go
		err = x.channelEnded(ctx, s, it)
	}
	if it.b != nil {
		it.b.reset()
		select {
		case x.free <- it.b:
		default:
		}
	}
	done := err == nil && s.endsLeft == 0
	if done {
		x.finish(s) // exchange_tick.go
	}
	if err != nil && x.onError != nil && it.kind != xBarrier {
		x.onError(err) // before the item stops counting as pending
	}
	if x.pending.Add(-1) == 0 {
		x.mu.Lock()
		x.cond.Broadcast()
		x.mu.Unlock()
	}
	if err != nil {
		return false, fmt.Errorf("subtask %d of %d: %w", s.idx+1, len(x.subs), err)
	}
	if done {
		return true, nil
	}
	return x.replay(ctx, s)
}

// handle processes one item, turning a panic in operator code into an error.
func (x *Exchange) handle(s *xSub, it xItem) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	if keyedDelay > 0 {
		delayKeyed(it.kind) // exchange_test_hook.go
	}
	if s.floors != nil {
		if done, err := x.handleFloored(s, it); done || err != nil { // exchange_unaligned_rescale_floor.go
			return err
		}
	}
	switch it.kind {
	case xRows:
		return s.ins[it.side][it.from].Push(&it.b.batch)
	case xCols:
		return s.ins[it.side][it.from].(vec.Output).PushColumns(&it.b.cols.Batch)
	case xWatermark:
		return s.ins[it.side][it.from].Watermark(it.wm)
	case xEnd:
		s.endsLeft--
		s.ended[it.side]++
		return s.ins[it.side][it.from].End()
	case xTick:
		return tick(s)
	default: // xDrain
		for i, in := range s.opIns {
			if s.ended[i] < x.sides[i].Senders {
				if err := in.Watermark(changelog.MaxWatermark); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// send queues it for subtask k; it fails once Run returned.
func (x *Exchange) send(k int, it xItem) error {
	x.pending.Add(1)
	s := x.subs[k]
	if !s.spilling.Load() {
		select {
		case s.q <- it:
			return nil
		default:
		}
	}
	// the queue is full (or its spill holds items): a subtask holding items past its budget takes one for a
	// sender before its barrier (exchange_unaligned_keyed_hold.go)
	w := s.waiting(it)
	if w != nil {
		s.holdBlocked(w)
	}
	err := x.sendWait(s, it) // exchange_overdraft.go
	if w != nil {
		w.Add(-1)
	}
	return err
}

// SetAfterItem sets f to be called by subtask k after every item it processed, before release and before the
// item stops counting as pending (a keyed subtask flushing its output into the next exchange: an idle
// exchange then has nothing of its own in flight). An error fails the subtask. Call it before Run.
func (x *Exchange) SetAfterItem(f func(k int) error) { x.after = f }

// SetOnError sets f to be called with the error of an item (not a barrier) a subtask failed to process (its
// operator's own mini-batch flushes on a tick included), before the item stops counting as pending: a caller that saw the
// exchange idle also sees the failure. Call it before Run.
func (x *Exchange) SetOnError(f func(err error)) { x.onError = f }

// Idle reports whether every item sent has been processed (its output included).
func (x *Exchange) Idle() bool { return x.pending.Load() == 0 }

// WaitIdle waits until every item sent has been processed, its output included. Call it while no sender
// sends (the engine's checkpoint gate is closed).
func (x *Exchange) WaitIdle() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	for x.pending.Load() > 0 && !x.dead {
		x.cond.Wait()
	}
	if x.pending.Load() > 0 {
		return errors.New("the keyed subtasks stopped (the job is failing or cancelled)")
	}
	return nil
}

// Drain sends the maximum watermark into every running subtask's operator (STOP JOB ... WITH SAVEPOINT
// --drain) and waits until they processed it. Call it while no sender sends.
func (x *Exchange) Drain() error {
	if err := x.WaitIdle(); err != nil {
		return err
	}
	for k, s := range x.subs {
		x.mu.Lock()
		skip := s.finished || x.dead
		x.mu.Unlock()
		if skip {
			continue
		}
		if err := x.send(k, xItem{kind: xDrain}); err != nil {
			return err
		}
	}
	return x.WaitIdle()
}

func (x *Exchange) batch() *xBatch {
	select {
	case b := <-x.free:
		return b
	default:
		return &xBatch{} // grows to its rows once, then is recycled
	}
}

// Sender returns the sender of channel from of side (one per upstream subtask; not safe for concurrent use).
func (x *Exchange) Sender(side, from int) *ExchangeSender {
	sd := &x.sides[side]
	return &ExchangeSender{x: x, side: side, from: from, pend: make([]*xBatch, len(x.subs)), sd: sd, kinds: routeKinds(sd.KeyTypes),
		cols: x.acceptsColumns(side, from), next: from % len(x.subs), sent: make([]int64, len(x.subs))}
}

// acceptsColumns reports whether every subtask's operator takes columns on channel from of side.
func (x *Exchange) acceptsColumns(side, from int) bool {
	for _, s := range x.subs {
		if s == nil || !vec.Accepts(s.ins[side][from]) {
			return false
		}
	}
	return len(x.subs) > 0
}

// ExchangeSender routes one upstream channel's rows into the keyed subtasks' queues (a changelog.Output).
// Rows are collected per subtask and sent when xBatchRows are collected, or at Flush, Watermark and End.
type ExchangeSender struct {
	x      *Exchange
	sd     *ExchangeSide
	side   int
	from   int
	pend   []*xBatch
	keyBuf []byte
	kinds  []routeKind   // nil: every key is encoded to be hashed
	owners []int32       // per row of the batch being routed, its subtask
	row    []types.Value // PushColumns' row being routed
	cols   bool          // the subtasks take columns: PushColumns gathers them per subtask (exchange_route.go)
	idx    [][]int32     // PushColumns with cols: per subtask, the physical rows of the batch it owns
	kgSub  []uint8       // per key group, its subtask (ownerOf), when there are at most 256 subtasks
	kgMask uint64        // maxPar-1 when maxPar is a power of two (ownerOf), else 0
	next   int           // Rebalance: the subtask the next row goes to
	sent   []int64       // per subtask, the items sent to it (exchange_unaligned_keyed_overtake.go)
}

func (s *ExchangeSender) Push(b *changelog.Batch) error {
	s.route(b) // exchange_route.go
	for i, r := range b.Rows {
		if err := s.add(int(s.owners[i]), r.Kind, r.Vals); err != nil {
			return err
		}
	}
	return nil
}

// add copies a row into subtask k's collected rows, sending them when xBatchRows are collected.
func (s *ExchangeSender) add(k int, kind changelog.Kind, vals []types.Value) error {
	p := s.pend[k]
	if p != nil && p.cols.N > 0 {
		// columns collected before: they go first (order per channel)
		if err := s.sendRows(k); err != nil {
			return err
		}
		p = nil
	}
	if p == nil {
		p = s.x.batch()
		s.pend[k] = p
	}
	at := len(p.arena)
	p.arena = append(p.arena, vals...)
	p.batch.Rows = append(p.batch.Rows, changelog.Row{Kind: kind, Vals: p.arena[at:len(p.arena):len(p.arena)]})
	if len(p.batch.Rows) >= xBatchRows {
		return s.sendRows(k)
	}
	return nil
}

// sendRows sends what was collected for subtask k (rows or columns).
func (s *ExchangeSender) sendRows(k int) error {
	p := s.pend[k]
	s.pend[k] = nil
	kind := xRows
	if p.cols.N > 0 {
		kind = xCols
	}
	s.sent[k]++
	return s.x.send(k, xItem{kind: kind, side: uint8(s.side), from: int32(s.from), b: p})
}

// Flush sends the rows collected so far.
func (s *ExchangeSender) Flush() error {
	for k, p := range s.pend {
		if p != nil && (len(p.batch.Rows) > 0 || p.cols.N > 0) {
			if err := s.sendRows(k); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *ExchangeSender) broadcast(kind xKind, wm int64) error {
	if err := s.Flush(); err != nil {
		return err
	}
	for k := range s.x.subs {
		s.sent[k]++
		if err := s.x.send(k, xItem{kind: kind, side: uint8(s.side), from: int32(s.from), wm: wm}); err != nil {
			return err
		}
	}
	return nil
}

func (s *ExchangeSender) Watermark(ts int64) error { return s.broadcast(xWatermark, ts) }
func (s *ExchangeSender) End() error               { return s.broadcast(xEnd, 0) }
