package exec

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Slice-shared window aggregate state: every open slice's groups, as the group aggregate writes them
// (namespace 0, keyed by the group key, which includes the slice's window_start and window_end), and in the
// meta entry the watermark up to which windows fired and the late-row count. The signature names the
// window (kind, size, step, offset): slices of one window shape mean nothing to another, and the per-window
// aggregate's state (signature WindowAggregate(...)) does not restore into this operator, nor this one's
// into it: such a restore fails with the signature mismatch error.

func (w *sliceWindowAgg) signature() string {
	return w.proto.signature(fmt.Sprintf("SliceWindowAggregate(window=%s(size=%d, slide=%d, offset=%d), ",
		w.spec.Kind, w.spec.Size, w.spec.Slide, w.spec.Offset)) + ")"
}

func (w *sliceWindowAgg) SnapshotState(wr state.Writer) error {
	meta := appendMeta(nil, w.signature())
	meta = binary.AppendVarint(meta, w.fired)
	meta = binary.AppendVarint(meta, w.Late)
	if err := wr.Put(nsMeta, nil, meta); err != nil {
		return err
	}
	var kb, vb []byte
	for _, sl := range w.slices {
		for k, st := range sl.groups {
			kb = append(kb[:0], k...)
			w.proto.results(st, st.prev)
			vb = w.proto.appendGroupState(vb[:0], st)
			if err := wr.Put(0, kb, vb); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *sliceWindowAgg) RestoreState(r state.Reader) error {
	op := w.signature()
	return restoreLoop(r, op, w.signature(), func(d *stateDec) {
		w.fired = d.varint()
		w.Late = d.varint()
	}, func(ns uint8, key, value []byte) error {
		if ns != 0 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		st, err := w.proto.loadGroupState(key, value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		end := st.prev[w.endKey]
		if end.T != types.TagTimestamp && end.T != types.TagInt {
			return entryError(op, ns, key, fmt.Errorf("window_end key column holds a value of tag %d", end.T))
		}
		if floorMod(end.I-w.spec.Offset, w.spec.sliceSize()) != 0 {
			return entryError(op, ns, key, fmt.Errorf("slice end %d is not on a slice boundary of %s", end.I, w.spec.Kind))
		}
		sl := w.slice(end.I)
		if _, dup := sl.groups[string(key)]; dup {
			return corrupt(op, "key %x appears twice", key)
		}
		sl.groups[string(key)] = st
		return nil
	})
}

var _ state.Snapshotter = (*sliceWindowAgg)(nil)
