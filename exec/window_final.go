package exec

import (
	"fmt"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Batch → streaming for window aggregates. A batch run fires every window at its end, but a streaming run
// over the same rows would have fired only the windows its watermark passed. A batch run that writes a
// savepoint therefore tracks the watermark the streaming plan would have computed (NewWatermarkTracker, where
// the streaming plan has its watermark assigner), fires only the windows that watermark closes, and writes
// the others as the streaming window aggregate's state.

// NewWatermarkTracker passes rows through and computes the watermark a streaming watermark assigner with the
// same expression would have reached (the maximum of rowtime over the rows), without emitting watermarks.
func NewWatermarkTracker(rowtime expr.Expr, out changelog.Output) (changelog.Output, func() int64) {
	t := &watermarkTracker{rowtime: rowtime, out: out, max: minWatermark}
	return t, func() int64 { return t.max }
}

type watermarkTracker struct {
	rowtime expr.Expr
	out     changelog.Output
	max     int64
}

func (t *watermarkTracker) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		v, err := t.rowtime.Eval(r.Vals)
		if err != nil {
			return fmt.Errorf("evaluate watermark %s: %w", t.rowtime.String(), err)
		}
		if v.T != types.TagNull {
			t.max = max(t.max, v.I)
		}
	}
	return t.out.Push(b)
}
func (t *watermarkTracker) Watermark(ts int64) error { return t.out.Watermark(ts) }
func (t *watermarkTracker) End() error               { return t.out.End() }

// SetWindowFinalState makes a window aggregate of a batch run end by firing only the windows that
// watermark() closes and writing the others, with that watermark, to w as a streaming window aggregate's
// state. It reports false when op is not a window aggregate.
func SetWindowFinalState(op changelog.Output, w state.Writer, watermark func() int64) bool {
	switch wa := op.(type) {
	case *windowAgg:
		wa.final, wa.finalWM = w, watermark
	case *sliceWindowAgg:
		wa.final, wa.finalWM = w, watermark
	case *sessionWindowAgg:
		wa.final, wa.finalWM = w, watermark
	default:
		return false
	}
	return true
}

// endFinal is End of a window aggregate with a final state.
func (w *windowAgg) endFinal() error {
	wm := w.finalWM()
	if err := w.fire(wm); err != nil {
		return err
	}
	if err := w.SnapshotState(w.final); err != nil {
		return fmt.Errorf("window aggregate: final state: %w", err)
	}
	return w.out.End()
}
