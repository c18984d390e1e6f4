package exec

import (
	"slices"

	"github.com/sluicesql/sluice/types"
)

// HOP and CUMULATE slices restored at another number of senders (exchange_unaligned_rescale_late.go): once
// a subtask processed its channel state, every key group's old subtask would have reached a watermark (its
// after floor) and fired the windows up to it before the rows the restored sources send, so those rows count
// only in the windows after it. The restored subtask resumes from a lower watermark; fireAhead emits then,
// from the state as it is, the windows each key group's old subtask would have fired (the output rows drop
// does not report), and the output floor (outFloorer) drops them when the subtask's watermark fires them
// again, by which time a row sent later may be in their slices.

// fireAhead emits, leaving the slices as they are, the windows ending in (fired, wm], but only their output
// rows drop does not report.
func (w *sliceWindowAgg) fireAhead(wm int64, drop func([]types.Value) bool) error {
	if w.spec.Kind == Tumble || wm <= w.fired {
		return nil
	}
	out := w.out
	next := out
	if fo, ok := out.(*floorOut); ok {
		next = fo.next
	}
	w.out = &floorOut{next: next, drop: drop}
	defer func() { w.out = out }()
	var ends []int64
	for _, e := range w.sliceEnds(nil) {
		w.spec.windowEnds(e, func(we int64) {
			if we-1 > w.fired && we-1 <= wm {
				ends = append(ends, we)
			}
		})
	}
	slices.Sort(ends)
	for _, e := range slices.Compact(ends) {
		start := w.spec.windowStart(e)
		if w.c == nil {
			if err := w.fireMerged(start, e); err != nil {
				return err
			}
			continue
		}
		if done, err := w.fireHopCompact(start, e); err != nil {
			return err
		} else if !done {
			if err := w.fireMergedCompact(start, e); err != nil {
				return err
			}
		}
	}
	return nil
}
