package engine

import (
	"context"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// A reused scan's branches under a barrier checkpoint (exchange_barrier.go). The scan has one position for
// all of its branches, so all of them are cut at one point of the scan: the gate. The branches that end in
// an exchange get the barrier queued there behind the rows they sent; a sink the subtasks write (gatedWriter)
// or encode for (gatedPipe with enc) is pre-committed there. The branches that end in a union under the
// graph lock feed operators that the checkpoint snapshots under its final lock, after the keyed subtasks
// took their barriers, while the subtasks read on from the gate: so from the gate until the checkpoint's
// part under the lock is done, what such a branch passes on (rows, watermarks) is held (copied, in order,
// per branch end) and passed on once that part is done (the checkpoint's release), under the graph lock as
// it would have been. A branch's end waits for that too. The operators under the lock then hold exactly the
// rows before the cut, as the position recorded at the gate says. A STOP ... WITH SAVEPOINT drops what was
// held (those rows are after the cut). An error while passing held items on is the branch's: its next
// call returns it, and the graph is marked failed (push_failure.go), so no later checkpoint completes.
// The memory held is what the branches read between the gate and the checkpoint's final lock, bounded by
// reusedHoldBudget per reused scan: a branch's call that would hold more waits (backpressure: its subtask
// stops reading) until the hold ends, then passes its batch on; so what waits is passed on after what was
// held, in order. The first item of a hold is kept even when it is larger than the budget (the batch is in
// memory already; waiting would stall its subtask for the whole hold for nothing), and then nothing more
// is: a hold holds at most the budget or that one item. Backpressure rather than a spill to the job's tmp dir: the hold lasts only until the
// checkpoint's part under the lock is done (bounded by the checkpoint's timeout), the subtask's other
// branches stop with it anyway (its fanout passes each batch to all of them), and a spill would write and
// read back rows on every slow checkpoint for a wait that is short; the exchanges' queues bound the other
// branches the same way.
//
// Lock order while a call waits: the subtask holds the checkpoint gate for reading (subtaskGate, taken before
// the graph lock as everywhere) and lets the graph lock go while it waits (awaitHold). The checkpoint does
// not need either from it: it took and let go of the gate before the hold began (it closes the gate only at
// its start, and cycles are serialized, so the next one closes it only after this one released the hold);
// its keyed subtasks take their barriers behind the rows queued at the gate (the subtasks flushed their
// exchange senders before they let the gate go; what a waiting subtask's senders buffer lies behind the
// barriers), and they and the final part take the graph lock, which no waiter holds. The release (also when
// the checkpoint fails or times out) ends the hold under the graph lock, and the waiters continue. A STOP
// WITH SAVEPOINT whose gate stays closed has no subtask inside the gate, so none waits.
//
// A STOP ... WITH DRAIN that fails after its gate (the maximum watermark may have gone into the operators
// under the lock, at its final part, and into the keyed subtasks' at their barriers) drops what was held
// instead of passing it on (it would come after the maximum watermark: late rows), fails every branch's next
// call with that error and marks the graph failed (push_failure.go): the job fails and its restart reads
// those rows again from the last completed checkpoint.

// noReusedHold lets a reused scan's branches under the lock pass rows on during a barrier checkpoint (a test
// hook: the checkpoint is wrong with it, those operators having taken rows after the cut).
var noReusedHold = false

// reusedHoldBudget is the most memory, in bytes as estimated by heldRowBytes, that one reused scan's
// branches under the graph lock hold during a barrier checkpoint before its subtasks wait (32 MiB).
const reusedHoldBudget = 32 << 20

// reusedHoldLimit is the budget in force (a test hook lowers it).
var reusedHoldLimit int64 = reusedHoldBudget

// reusedRowsHeld counts the rows held by reused scans' branches during barrier checkpoints (tests check
// that the hold was used).
var reusedRowsHeld atomic.Int64

// reusedEndsHeld counts the branch ends that wait for a hold to end, as they begin to (tests check the path).
var reusedEndsHeld atomic.Int64

// reusedHoldsBegun counts the holds begun (at barrier checkpoints' gates).
var reusedHoldsBegun atomic.Int64

// reusedHoldWaits counts the branch calls that waited because their hold was at its budget.
var reusedHoldWaits atomic.Int64

// reusedHoldPeak is the most bytes one hold held (tests check the budget).
var reusedHoldPeak atomic.Int64

// reusedHoldBigFirst is the largest first item held alone over the budget (tests check the budget: a hold
// holds at most the budget, or one item larger than it).
var reusedHoldBigFirst atomic.Int64

// beforeReusedBatch, when set as a reused scan is built, runs in each of its subtasks before it passes a
// batch to its branches, outside the gate (a test hook: it can wait until a checkpoint began its hold).
var beforeReusedBatch func()

// failStopAfterLock, when set, fails STOP ... WITH SAVEPOINT after its part under the graph lock (a test
// hook, checkpoint.go).
var failStopAfterLock func() error

// cutHold is a reused scan's hold (all under the graph lock).
type cutHold struct {
	on    bool
	done  chan struct{} // closed when the hold ends
	pipes []*gatedPipe  // the ends holding items
	bytes int64         // the estimated memory of the items held
	err   error         // a STOP WITH DRAIN failed after the gate: every branch's call fails with it
}

// heldItem is one held call: a batch (a copy) or, with rows nil, a watermark.
type heldItem struct {
	rows *changelog.Batch
	wm   int64
}

// heldWatermarkBytes is the estimated memory of a held watermark.
const heldWatermarkBytes = int64(unsafe.Sizeof(heldItem{}))

// heldRowBytes estimates the memory of b's rows held as a copy: the values, their strings and each row's
// header.
func heldRowBytes(b *changelog.Batch) int64 {
	n := heldWatermarkBytes + int64(len(b.Rows))*int64(unsafe.Sizeof(changelog.Row{}))
	for _, r := range b.Rows {
		n += int64(len(r.Vals)) * int64(unsafe.Sizeof(types.Value{}))
		for _, v := range r.Vals {
			n += int64(len(v.S))
		}
	}
	return n
}

func (h *cutHold) begin() {
	if noReusedHold {
		return
	}
	h.on, h.done, h.bytes = true, make(chan struct{}), 0
	reusedHoldsBegun.Add(1)
}

// end ends the hold: with replay every end passes its held items on (in order), else they are dropped.
func (h *cutHold) end(replay bool, f *pushFailure) {
	if !h.on {
		return
	}
	for _, p := range h.pipes {
		for _, it := range p.held {
			if !replay || p.err != nil {
				break
			}
			var err error
			if it.rows != nil {
				err = p.out.Push(it.rows)
			} else {
				err = p.out.Watermark(it.wm)
			}
			if err != nil {
				p.err = f.mark(err)
			}
		}
		p.held = nil
	}
	h.on, h.pipes, h.bytes = false, nil, 0
	close(h.done)
}

// holding reports whether p holds what it is given (under the graph lock).
func (p *gatedPipe) holding() bool { return p.hold != nil && p.hold.on }

// room reports whether n more bytes fit the budget, and counts them if so.
func (h *cutHold) room(n int64) bool {
	if h.bytes > 0 && h.bytes+n > reusedHoldLimit {
		return false
	}
	if h.bytes == 0 && n > reusedHoldLimit {
		for big := reusedHoldBigFirst.Load(); n > big && !reusedHoldBigFirst.CompareAndSwap(big, n); big = reusedHoldBigFirst.Load() {
		}
	}
	h.bytes += n
	for {
		peak := reusedHoldPeak.Load()
		if h.bytes <= peak || reusedHoldPeak.CompareAndSwap(peak, h.bytes) {
			return true
		}
	}
}

func (p *gatedPipe) keep(it heldItem) {
	if len(p.held) == 0 {
		p.hold.pipes = append(p.hold.pipes, p)
	}
	p.held = append(p.held, it)
}

// holdRows holds a copy of b while p holds (kept), or waits until the hold ends when b does not fit its
// budget (the caller then passes b on). Under the graph lock, which a wait lets go meanwhile.
func (p *gatedPipe) holdRows(b *changelog.Batch) (kept bool, err error) {
	if !p.holding() {
		return false, nil
	}
	if n := heldRowBytes(b); !p.hold.room(n) {
		reusedHoldWaits.Add(1)
		_, err := p.awaitHold()
		return false, err
	}
	p.keepRows(b)
	return true, nil
}

// holdColumns is holdRows for columnar batch b.
func (p *gatedPipe) holdColumns(b *vec.Batch) (kept bool, err error) {
	if !p.holding() {
		return false, nil
	}
	conv := pipeConvs.Get().(*vec.RowConv)
	defer pipeConvs.Put(conv)
	return p.holdRows(conv.Rows(b))
}

// holdWatermark is holdRows for a watermark.
func (p *gatedPipe) holdWatermark(ts int64) (kept bool, err error) {
	if !p.holding() {
		return false, nil
	}
	if !p.hold.room(heldWatermarkBytes) {
		reusedHoldWaits.Add(1)
		_, err := p.awaitHold()
		return false, err
	}
	p.keep(heldItem{wm: ts})
	return true, nil
}

// keepRows holds a copy of b (its rows are valid only during the call; values are immutable).
func (p *gatedPipe) keepRows(b *changelog.Batch) {
	n := 0
	for _, r := range b.Rows {
		n += len(r.Vals)
	}
	vals := make([]types.Value, 0, n)
	c := &changelog.Batch{Rows: make([]changelog.Row, len(b.Rows))}
	for i, r := range b.Rows {
		vals = append(vals, r.Vals...)
		c.Rows[i] = changelog.Row{Kind: r.Kind, Vals: vals[len(vals)-len(r.Vals) : len(vals) : len(vals)]}
	}
	reusedRowsHeld.Add(int64(len(b.Rows)))
	p.keep(heldItem{rows: c})
}

// awaitHold waits (called with the graph lock held, which it lets go meanwhile) until the hold ends: what
// the caller passes on then comes after what was held. After a STOP's cut dropped the held items it reports
// the stop; after a failed STOP WITH DRAIN, its error.
func (p *gatedPipe) awaitHold() (waited bool, err error) {
	for p.holding() {
		ch := p.hold.done
		p.mu.Unlock()
		<-ch
		p.mu.Lock()
		waited = true
	}
	switch {
	case waited && *p.stopped:
		return waited, context.Canceled
	case p.hold != nil && p.hold.err != nil:
		return waited, p.hold.err
	}
	return waited, p.err
}

// holdFailed returns the error of a failed STOP WITH DRAIN that ended p's hold (under the graph lock).
func (p *gatedPipe) holdFailed() error {
	if p.hold != nil {
		return p.hold.err
	}
	return nil
}

// holdReused starts the hold of every reused scan's branches (at the gate, under the graph lock).
func (g *graph) holdReused() {
	for _, rs := range g.reused {
		rs.hold.begin()
	}
}

// endReusedHolds ends the holds (under the graph lock): replay passes the held items on.
func (g *graph) endReusedHolds(replay bool) {
	for _, rs := range g.reused {
		rs.hold.end(replay, &g.failure)
	}
}

// releaseReusedHolds ends the holds when a barrier checkpoint releases its cut (under the graph lock): it
// passes the held items on, unless drain (a STOP WITH DRAIN that failed: a successful one is not released)
// sent the maximum watermark after the gate; then a hold that was on drops its items and fails the job.
func (g *graph) releaseReusedHolds(drain bool) {
	if !drain {
		g.endReusedHolds(true)
		return
	}
	var err error
	for _, rs := range g.reused {
		if !rs.hold.on {
			continue
		}
		if err == nil {
			err = fmt.Errorf("STOP WITH DRAIN failed after its cut, and the maximum watermark may have passed through the operators: the rows source %s read after the cut would be late, so the job fails (it restarts from its last completed checkpoint if a restart strategy allows; run the STOP again then)", rs.sc.Table.Name)
		}
		rs.hold.err = err
		rs.hold.end(false, &g.failure)
	}
	if err != nil {
		g.failure.mark(err)
	}
}

// hookedOutput runs f before each batch it passes on (beforeReusedBatch).
type hookedOutput struct {
	changelog.Output
	f func()
}

func (o *hookedOutput) Push(b *changelog.Batch) error {
	o.f()
	return o.Output.Push(b)
}

func (o *hookedOutput) PushColumns(b *vec.Batch) error {
	o.f()
	return pushColumns(o.Output, b)
}

func (o *hookedOutput) AcceptsColumns() bool { return vec.Accepts(o.Output) }
