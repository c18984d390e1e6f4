package exec

import (
	"fmt"

	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Slice-shared window aggregate state: namespace 0, one entry per group key without the window columns
// (the key the operator's subtasks are partitioned by, so that every entry restores into the subtask that
// receives its key's rows), whose value holds the key's groups (window_group_state.go: each group's key with
// its slice's window_start and window_end, and its group state), and in the meta entry the watermark up to which windows fired and the late-row count. The signature names
// the window (kind, size, step, offset): slices of one window shape mean nothing to another, and the
// per-window aggregate's state (signature WindowAggregate(...)) does not restore into this operator, nor
// this one's into it: such a restore fails with the signature mismatch error — except a TUMBLE window's,
// which migrates into this operator's (window_slice_migrate.go).

func (w *sliceWindowAgg) signature() string {
	return w.proto.signature(fmt.Sprintf("SliceWindowAggregate(window=%s(size=%d, slide=%d, offset=%d), ",
		w.spec.Kind, w.spec.Size, w.spec.Slide, w.spec.Offset)) + ")"
}

// partKey appends the encoding of the key columns of a group's key values other than the window's.
func (w *sliceWindowAgg) partKey(dst []byte, keyVals []types.Value) []byte {
	return windowPartKey(dst, keyVals, w.proto.keyTypes, w.startKey, w.endKey)
}

func (w *sliceWindowAgg) SnapshotState(wr state.Writer) error {
	if err := putWindowMeta(wr, w.signature(), w.fired, w.Late); err != nil {
		return err
	}
	type member struct {
		key string
		st  *group
	}
	byKey := map[string][]member{}
	var kb []byte
	for _, sl := range w.slices {
		for k, st := range sl.groups {
			kb = w.partKey(kb[:0], st.prev[:w.proto.nk])
			byKey[string(kb)] = append(byKey[string(kb)], member{k, st})
		}
	}
	if w.c != nil {
		// compact slices (window_slice_compact.go): each group through a scratch group, so the entries are the
		// object path's
		p := w.proto
		w.eachCompact(func(end int64, key []byte, s []int64) {
			st := p.newScratchGroup()
			w.toGroup(st, end, key, s)
			kb = w.partKey(kb[:0], st.prev[:p.nk])
			k := string(appendGroupKey(nil, st.prev, p.keyIdx, p.keyTypes))
			byKey[string(kb)] = append(byKey[string(kb)], member{k, st})
		})
	}
	var v groupsValue
	for pk, ms := range byKey {
		v.reset(len(ms))
		for _, m := range ms {
			addGroup(&v, w.proto, m.key, m.st)
		}
		if err := wr.Put(0, []byte(pk), v.vb); err != nil {
			return err
		}
	}
	return nil
}

func (w *sliceWindowAgg) RestoreState(r state.Reader) error {
	if w.legacySignature() != "" {
		// a TUMBLE window's: the entries may be the per-window aggregate's (window_slice_migrate.go)
		es, err := readEntries(r)
		if err != nil {
			return fmt.Errorf("restore %s: %w", w.signature(), err)
		}
		if es, err = w.migrateState(es); err != nil {
			return err
		}
		r = entriesReader(es)
	}
	// the entries load into the object path's slices, which move into compact slices when they fit
	w.decompact()
	if err := w.restoreObjects(r); err != nil {
		return err
	}
	w.recompact()
	return nil
}

func (w *sliceWindowAgg) restoreObjects(r state.Reader) error {
	op := w.signature()
	return restoreLoop(r, op, op, restoreWindowMeta(&w.fired, &w.Late), func(ns uint8, key, value []byte) error {
		if ns != 0 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		if err := w.loadKey(key, value); err != nil {
			return entryError(op, ns, key, err)
		}
		return nil
	})
}

// loadKey restores the groups of one entry.
func (w *sliceWindowAgg) loadKey(key, value []byte) error {
	_, err := eachGroup(value, "groups", func(gk, gv []byte) error {
		st, err := w.proto.loadGroupState(gk, gv)
		if err != nil {
			return err
		}
		if string(w.partKey(w.keyBuf[:0], st.prev[:w.proto.nk])) != string(key) {
			return fmt.Errorf("a group's key does not match the entry's key")
		}
		end := st.prev[w.endKey]
		if end.T != types.TagTimestamp && end.T != types.TagInt {
			return fmt.Errorf("window_end key column holds a value of tag %d", end.T)
		}
		if floorMod(end.I-w.spec.Offset, w.spec.sliceSize()) != 0 {
			return fmt.Errorf("slice end %d is not on a slice boundary of %s", end.I, w.spec.Kind)
		}
		sl := w.slice(end.I)
		if _, dup := sl.groups[string(gk)]; dup {
			return fmt.Errorf("group %x appears twice", gk)
		}
		sl.groups[string(gk)] = st
		return nil
	})
	return err
}

var _ state.Snapshotter = (*sliceWindowAgg)(nil)
