package engine

import (
	"context"
	"sync/atomic"

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
// The memory held is what the branches read between the gate and the checkpoint's final lock.

// noReusedHold lets a reused scan's branches under the lock pass rows on during a barrier checkpoint (a test
// hook: the checkpoint is wrong with it, those operators having taken rows after the cut).
var noReusedHold = false

// reusedRowsHeld counts the rows held by reused scans' branches during barrier checkpoints (tests check
// that the hold was used).
var reusedRowsHeld atomic.Int64

// reusedEndsHeld counts the branch ends that waited for a hold to end (tests check the path).
var reusedEndsHeld atomic.Int64

// cutHold is a reused scan's hold (all under the graph lock).
type cutHold struct {
	on    bool
	done  chan struct{} // closed when the hold ends
	pipes []*gatedPipe  // the ends holding items
}

// heldItem is one held call: a batch (a copy) or, with rows nil, a watermark.
type heldItem struct {
	rows *changelog.Batch
	wm   int64
}

func (h *cutHold) begin() {
	if noReusedHold {
		return
	}
	h.on, h.done = true, make(chan struct{})
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
	h.on, h.pipes = false, nil
	close(h.done)
}

// holding reports whether p holds what it is given (under the graph lock).
func (p *gatedPipe) holding() bool { return p.hold != nil && p.hold.on }

func (p *gatedPipe) keep(it heldItem) {
	if len(p.held) == 0 {
		p.hold.pipes = append(p.hold.pipes, p)
	}
	p.held = append(p.held, it)
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

// keepColumns holds the rows of columnar batch b.
func (p *gatedPipe) keepColumns(b *vec.Batch) {
	conv := pipeConvs.Get().(*vec.RowConv)
	defer pipeConvs.Put(conv)
	p.keepRows(conv.Rows(b))
}

func (p *gatedPipe) keepWatermark(ts int64) { p.keep(heldItem{wm: ts}) }

// awaitHold waits (called with the graph lock held, which it lets go meanwhile) until the hold ends: the
// branch's end passes after what was held. After a STOP's cut dropped the held items it reports the stop.
func (p *gatedPipe) awaitHold() error {
	waited := false
	for p.holding() {
		ch := p.hold.done
		p.mu.Unlock()
		<-ch
		p.mu.Lock()
		if !waited {
			reusedEndsHeld.Add(1)
		}
		waited = true
	}
	if waited && *p.stopped {
		return context.Canceled
	}
	return p.err
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
