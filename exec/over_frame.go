package exec

import (
	"bytes"

	"github.com/sluicesql/sluice/types"
)

// overFrameEval computes the frames of one partition's rows, fed one at a time in order (by the order key,
// peers in arrival order), each row emitted once with its frame's aggregates. It keeps only what a frame
// still needs: win, for bounded frames, the rows added to the aggregates and not retracted yet; peers, for
// RANGE frames, the rows of the current peer group, emitted when the group ends. Both are overQueues,
// which spill past the memory budget when they copy their rows (the operator's spilling mode).
type overFrameEval struct {
	o       *sortedOver
	fr      OverFrame
	win     *overQueue
	peers   *overQueue
	peerKey []byte      // the order key of the current peer group
	cur     types.Value // RANGE with a bound: the current peer group's order value
	lim     types.Value // and its rangeLimit
}

func newOverFrameEval(o *sortedOver, copyVals bool) *overFrameEval {
	return &overFrameEval{o: o, fr: o.cfg.Frame,
		win:   newOverQueue(copyVals, o.cfg.MemBudget, o.cfg.SpillDir, &o.FrameSpills),
		peers: newOverQueue(copyVals, o.cfg.MemBudget, o.cfg.SpillDir, &o.FrameSpills)}
}

// start begins a partition.
func (e *overFrameEval) start() error {
	for _, a := range e.o.accs {
		a.reset()
	}
	e.peerKey = e.peerKey[:0]
	if err := e.win.reset(); err != nil {
		return err
	}
	return e.peers.reset()
}

// row takes the partition's next row, whose order key encoding is key.
func (e *overFrameEval) row(vals []types.Value, key []byte) error {
	o := e.o
	if e.fr.Rows {
		o.add(vals)
		if !e.fr.Unbounded {
			if err := e.win.push(vals); err != nil {
				return err
			}
			for e.win.len()-1 > e.fr.Preceding {
				r, err := e.win.pop()
				if err != nil {
					return err
				}
				o.retract(r)
			}
		}
		return o.emit(vals)
	}
	if e.peers.len() > 0 && !bytes.Equal(key, e.peerKey) {
		if err := e.flushPeers(); err != nil {
			return err
		}
	}
	if e.peers.len() == 0 {
		e.peerKey = append(e.peerKey[:0], key...)
		if !e.fr.Unbounded {
			e.cur = vals[o.cfg.Order[0].Col]
			e.lim = o.rangeLimit(e.cur)
		}
	}
	if !e.fr.Unbounded && nanOffset(e.fr.Bound, vals[o.cfg.Order[0].Col]) {
		// A NaN key is in no offset-bounded frame, its own included (nanOffset): not added, and flushPeers
		// keeps it out of win.
		return e.peers.push(vals)
	}
	o.add(vals)
	return e.peers.push(vals)
}

// finish ends the partition.
func (e *overFrameEval) finish() error {
	if e.fr.Rows {
		return nil
	}
	return e.flushPeers()
}

// flushPeers emits the current peer group: with a bounded RANGE, the rows before it that left its frame are
// retracted first, and the group joins the rows that later groups' frames may hold.
func (e *overFrameEval) flushPeers() error {
	o := e.o
	if !e.fr.Unbounded {
		k := o.cfg.Order[0]
		for e.win.len() > 0 {
			h, err := e.win.peek()
			if err != nil {
				return err
			}
			if o.inRange(h[k.Col], e.cur, e.lim) {
				break
			}
			o.retract(h)
			if _, err := e.win.pop(); err != nil {
				return err
			}
		}
	}
	for e.peers.len() > 0 {
		r, err := e.peers.pop()
		if err != nil {
			return err
		}
		if err := o.emit(r); err != nil {
			return err
		}
		if !e.fr.Unbounded && !nanOffset(e.fr.Bound, r[o.cfg.Order[0].Col]) {
			if err := e.win.push(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *overFrameEval) close() {
	e.win.close()
	e.peers.close()
}
