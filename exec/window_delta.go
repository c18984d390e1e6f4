package exec

import (
	"iter"

	"github.com/sluicesql/sluice/state"
)

// Keyed snapshots of the window aggregate (NewWindowAgg: TUMBLE, HOP, CUMULATE per window), for a caller
// that writes its state incrementally (the scale-out member's changelog, engine/scaleout_window.go): the
// entry of each given group as SnapshotState writes it, or a Delete when the aggregate holds no such group
// (its window fired, or it never opened). A group is named by its key (the GROUP BY key encoding,
// types.AppendKey of each key column, window columns included) and its window's end, so that it is found
// without visiting the other windows. The caller tracks the groups: those of the rows it pushed, and those
// of the windows that fired (an emitted row's key columns).

// WindowKeyedSnapshotter is implemented by the window aggregate.
type WindowKeyedSnapshotter interface {
	// SnapshotMeta writes the operator-wide entry of SnapshotState (the watermark up to which windows fired,
	// the late-row count).
	SnapshotMeta(w state.Writer) error
	// SnapshotWindowKeys writes the entry of each group (key, window_end in milliseconds) as SnapshotState
	// writes it, or a Delete when the aggregate holds no such group.
	SnapshotWindowKeys(w DeltaWriter, keys iter.Seq2[string, int64]) error
}

var _ WindowKeyedSnapshotter = (*windowAgg)(nil)

func (w *windowAgg) SnapshotMeta(wr state.Writer) error {
	return putWindowMeta(wr, w.signature(), w.fired, w.Late)
}

func (w *windowAgg) SnapshotWindowKeys(wr DeltaWriter, keys iter.Seq2[string, int64]) error {
	p := w.proto // its buffer for group states is free: the prototype aggregates nothing
	for k, end := range keys {
		w.keyBuf = append(w.keyBuf[:0], k...) // not used between pushes
		var st *group
		if ws := w.windows[end]; ws != nil {
			st = ws.groups[k]
		}
		if st == nil {
			if err := wr.Delete(0, w.keyBuf); err != nil {
				return err
			}
			continue
		}
		p.results(st, st.prev)
		p.stateBuf = p.appendGroupState(p.stateBuf[:0], st)
		if err := wr.Put(0, w.keyBuf, p.stateBuf); err != nil {
			return err
		}
	}
	return nil
}
