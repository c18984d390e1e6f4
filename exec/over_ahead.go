package exec

import (
	"bytes"
	"cmp"

	"github.com/sluicesql/sluice/types"
)

// overEval computes the frames of one partition's rows, fed one at a time in order: overFrameEval for frames
// ending at the current row, overAheadEval for frames reaching past it.
type overEval interface {
	start() error
	row(vals []types.Value, key []byte) error
	finish() error
	close()
}

func newOverEval(o *sortedOver, copyVals bool) overEval {
	if o.cfg.Frame.Ahead {
		return newOverAheadEval(o, copyVals)
	}
	return newOverFrameEval(o, copyVals)
}

// overAheadEval computes frames that end after the current row (n FOLLOWING, UNBOUNDED FOLLOWING), and
// may start after it (n FOLLOWING), or that end before it (n PRECEDING: OverFrame.EndPreceding), ROWS or
// RANGE, as Flink's batch OverAggregate. Each frame's start and
// end move forward (never back) from one row to the next, so the aggregates slide: a row is added when the
// frame's end reaches it and retracted when the start passes it (O(1) per row for SUM/COUNT/AVG; MIN/MAX
// retract from their multiset). A row is emitted once a row past its frame's end has arrived, or at the
// partition's end. Three FIFO overQueues hold what is still needed, each spilling past its share of the
// memory budget as the other frame queues do: pend, the rows not emitted yet; fut, the rows not added to
// the aggregates yet (the look-ahead); win, the rows added and not retracted yet (unless the frame starts
// UNBOUNDED PRECEDING, which retracts nothing). A frame may be empty (e.g. 1 FOLLOWING AND 2 FOLLOWING at
// the partition's end): its aggregates are those of no rows (NULL, 0 for COUNT).
type overAheadEval struct {
	o              *sortedOver
	fr             OverFrame
	pend, fut, win *overQueue
	// ROWS: the partition index of the last row pushed, of pend's and fut's first rows.
	last, ePos, fPos int64
	rk, ck           []byte // RANGE: sort-key scratch (a row's, the current row's)
	ckPos            int64  // the current row whose key ck is (-1: none)
}

func newOverAheadEval(o *sortedOver, copyVals bool) *overAheadEval {
	b := o.cfg.MemBudget
	if b > 0 {
		b = max(b/3, 1)
	}
	return &overAheadEval{o: o, fr: o.cfg.Frame,
		pend: newOverQueue(copyVals, b, o.cfg.SpillDir, &o.FrameSpills),
		fut:  newOverQueue(copyVals, b, o.cfg.SpillDir, &o.FrameSpills),
		win:  newOverQueue(copyVals, b, o.cfg.SpillDir, &o.FrameSpills)}
}

func (e *overAheadEval) start() error {
	for _, a := range e.o.accs {
		a.reset()
	}
	e.last, e.ePos, e.fPos = -1, 0, 0
	e.ckPos = -1
	for _, q := range []*overQueue{e.pend, e.fut, e.win} {
		if err := q.reset(); err != nil {
			return err
		}
	}
	return nil
}

func (e *overAheadEval) row(vals []types.Value, _ []byte) error {
	e.last++
	if err := e.pend.push(vals); err != nil {
		return err
	}
	if err := e.fut.push(vals); err != nil {
		return err
	}
	// The pending rows whose frames end before this row are complete (this row's own too, when its frame
	// ends in n PRECEDING).
	for e.pend.len() > 0 {
		cur, err := e.pend.peek()
		if err != nil {
			return err
		}
		if !e.pastEnd(vals, e.last, cur, e.ePos) {
			return nil
		}
		if err := e.emitHead(cur); err != nil {
			return err
		}
	}
	return nil
}

func (e *overAheadEval) finish() error {
	for e.pend.len() > 0 {
		cur, err := e.pend.peek()
		if err != nil {
			return err
		}
		if err := e.emitHead(cur); err != nil {
			return err
		}
	}
	return nil
}

// emitHead moves the aggregates to the frame of pend's first row, cur, and emits it. The rows before the
// new start leave first; then the rows up to the new end join, those before the start skipped (they are
// before every later frame too). So win's rows are always the consecutive rows before fut's first.
func (e *overAheadEval) emitHead(cur []types.Value) error {
	o := e.o
	keep := !e.fr.Unbounded
	for e.win.len() > 0 {
		h, err := e.win.peek()
		if err != nil {
			return err
		}
		if !e.beforeStart(h, e.fPos-e.win.len(), cur, e.ePos) {
			break
		}
		o.retract(h)
		if _, err := e.win.pop(); err != nil {
			return err
		}
	}
	for e.fut.len() > 0 {
		h, err := e.fut.peek()
		if err != nil {
			return err
		}
		if e.pastEnd(h, e.fPos, cur, e.ePos) {
			break
		}
		// A frame with an end checks every row against its start, as Flink's RangeSlidingOverFrame (only a
		// NaN key can fail it past win's first row); one up to the partition's end takes every row after
		// its first, as Flink's RangeUnboundedFollowingOverFrame.
		in := e.win.len() > 0 && (e.fr.UnboundedFollowing || e.fr.Rows || !e.nanKey(e.fr.Bound, h, cur))
		if in || !e.beforeStart(h, e.fPos, cur, e.ePos) {
			o.add(h)
			if keep {
				if err := e.win.push(h); err != nil {
					return err
				}
			}
		}
		if _, err := e.fut.pop(); err != nil {
			return err
		}
		e.fPos++
	}
	if err := o.emit(cur); err != nil {
		return err
	}
	if _, err := e.pend.pop(); err != nil {
		return err
	}
	e.ePos++
	return nil
}

// pastEnd reports whether row r (partition index ri), sorted at or after the current row cur (index ci),
// is past the end of cur's frame.
func (e *overAheadEval) pastEnd(r []types.Value, ri int64, cur []types.Value, ci int64) bool {
	fr := &e.fr
	if fr.UnboundedFollowing {
		return false
	}
	if fr.Rows {
		if fr.EndPreceding {
			return ri-ci > -fr.Following
		}
		return ri-ci > fr.Following
	}
	if fr.Following == 0 && fr.FollowBound.IsNull() { // CURRENT ROW (or 0 PRECEDING/FOLLOWING): the last peer
		return e.keyCmp(r, cur) > 0
	}
	if e.nanKey(fr.FollowBound, r, cur) {
		return false // the end moves over NaN keys (nanOffset)
	}
	return e.offsetCmp(r, cur, fr.Following, fr.FollowBound, fr.EndPreceding) > 0
}

// nanKey reports that r or cur has a NaN key under an offset bound b over a DOUBLE key (nanOffset).
func (e *overAheadEval) nanKey(b types.Value, r, cur []types.Value) bool {
	c := e.o.cfg.Order[0].Col
	return nanOffset(b, r[c]) || nanOffset(b, cur[c])
}

// beforeStart reports whether row r (partition index ri) is before the start of the frame of cur (index ci).
func (e *overAheadEval) beforeStart(r []types.Value, ri int64, cur []types.Value, ci int64) bool {
	fr := &e.fr
	if fr.Unbounded {
		return false
	}
	if fr.Rows {
		if fr.StartFollowing {
			return ri-ci < fr.Preceding
		}
		return ci-ri > fr.Preceding
	}
	if fr.Preceding == 0 && fr.Bound.IsNull() { // CURRENT ROW (or 0 PRECEDING/FOLLOWING): the first peer
		return e.keyCmp(r, cur) < 0
	}
	if e.nanKey(fr.Bound, r, cur) {
		return true // a NaN key is before every offset start (nanOffset)
	}
	return e.offsetCmp(r, cur, fr.Preceding, fr.Bound, !fr.StartFollowing) < 0
}

// keyCmp compares rows r and cur by the order key (0: peers).
func (e *overAheadEval) keyCmp(r, cur []types.Value) int {
	if e.ckPos != e.ePos { // cur is always pend's first row
		e.ck = appendSortKey(e.ck[:0], cur, e.o.cfg.Order)
		e.ckPos = e.ePos
	}
	e.rk = appendSortKey(e.rk[:0], r, e.o.cfg.Order)
	return bytes.Compare(e.rk, e.ck)
}

// offsetCmp compares row r with the bound n (or b, for DECIMAL and DOUBLE keys) after the current row cur
// (before it with back), in the sort order of the one order column: -1 before the bound, 0 at it, 1
// after. A NULL key is at the bound of a NULL current key (NULL peers are in each other's frames) and
// otherwise where NULLs sort: no offset reaches past the NULLs from a non-NULL key, or the reverse.
func (e *overAheadEval) offsetCmp(r, cur []types.Value, n int64, b types.Value, back bool) int {
	k := e.o.cfg.Order[0]
	v, c := r[k.Col], cur[k.Col]
	if v.IsNull() || c.IsNull() {
		switch {
		case v.IsNull() && c.IsNull():
			return 0
		case v.IsNull() == k.NullsFirst:
			return -1
		}
		return 1
	}
	// In the key's natural order, the bound is c + n (c - n when the frame moves back in ascending
	// order, or forward in descending order).
	neg := back != k.Desc
	var res int
	switch {
	case b.T == types.TagDecimal:
		if c.T != types.TagDecimal {
			c = types.DecimalFromInt(c.I)
		}
		if v.T != types.TagDecimal {
			v = types.DecimalFromInt(v.I)
		}
		lim := types.DecimalAdd(c, b)
		if neg {
			lim = types.DecimalSub(c, b)
		}
		res = types.DecimalCmp(v, lim)
	case !b.IsNull():
		lim := overFloat(c) + b.Float()
		if neg {
			lim = overFloat(c) - b.Float()
		}
		res = cmp.Compare(overFloat(v), lim)
	default:
		s := n
		if neg {
			s = -n
		}
		res = cmpShift(v.I, c.I, s)
		if res == 0 && v.T == types.TagTimestamp {
			res = cmp.Compare(v.N, c.N) // at full precision: nanoseconds within the millisecond
		}
	}
	if k.Desc {
		return -res
	}
	return res
}

// cmpShift compares a with c + s, c + s not wrapping around: past the int64 range it is above (below)
// every a.
func cmpShift(a, c, s int64) int {
	t := c + s
	switch {
	case s > 0 && t < c:
		return -1
	case s < 0 && t > c:
		return 1
	}
	return cmp.Compare(a, t)
}

func (e *overAheadEval) close() {
	e.pend.close()
	e.fut.close()
	e.win.close()
}
