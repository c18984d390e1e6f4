package exec

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicesql/sluice/state"
)

// TUMBLE window aggregates ran on the per-window aggregate (NewWindowAgg, signature WindowAggregate(...))
// before they ran on the slice-shared one. That operator's state is one entry per group, keyed by the full
// group key (window columns included), holding the group state as the group aggregate writes it; a TUMBLE
// window is one slice, so every such group is the group of its window's slice here. migrateState rewrites
// those entries into this operator's (one entry per key without the window columns, window_group_state.go)
// before they are routed to subtasks by key (restoreSubtasks): the old entries' keys hash to other key groups
// than the keys this operator's subtasks own. The meta entry keeps the watermark up to which windows fired
// and the late-row count, under this operator's signature.

// stateMigrator is an operator that reads the state of an operator it replaced: migrateState returns the
// entries converted to its own, or es itself when they are not the replaced operator's.
type stateMigrator interface {
	migrateState(es []stateEntry) ([]stateEntry, error)
}

// stateEntry is one entry of a state being restored.
type stateEntry struct {
	ns         uint8
	key, value []byte
}

// readEntries reads every entry of r (copies).
func readEntries(r state.Reader) ([]stateEntry, error) {
	var es []stateEntry
	for {
		ns, key, value, ok, err := r.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return es, nil
		}
		es = append(es, stateEntry{ns: ns, key: append([]byte(nil), key...), value: append([]byte(nil), value...)})
	}
}

// entriesReader reads es.
func entriesReader(es []stateEntry) state.Reader {
	k := 0
	return readerFunc(func() (uint8, []byte, []byte, bool, error) {
		if k >= len(es) {
			return 0, nil, nil, false, nil
		}
		e := es[k]
		k++
		return e.ns, e.key, e.value, true, nil
	})
}

// legacySignature is the signature of the per-window aggregate this operator replaces ("" for none).
func (w *sliceWindowAgg) legacySignature() string {
	if w.spec.Kind != Tumble {
		return ""
	}
	return w.proto.signature("WindowAggregate")
}

func (w *sliceWindowAgg) migrateState(es []stateEntry) ([]stateEntry, error) {
	legacy := w.legacySignature()
	if legacy == "" {
		return es, nil
	}
	var fired, late int64
	found := false
	for _, e := range es {
		if e.ns != nsMeta || len(e.key) != 0 {
			continue
		}
		d, err := newStateDec(e.value)
		if err != nil || d.str() != legacy || d.err != nil {
			return es, nil // not the per-window aggregate's (restoreLoop reports what it is)
		}
		fired, late = d.varint(), d.varint()
		if err := d.done(); err != nil {
			return nil, corrupt(legacy, "operator-wide entry: %v", err)
		}
		found = true
		break
	}
	if !found {
		return es, nil
	}
	op := w.signature()
	type part struct {
		n  int
		vb []byte
	}
	parts := map[string]*part{}
	var order []string
	var kb []byte
	for _, e := range es {
		if e.ns == nsMeta {
			continue
		}
		if e.ns != 0 {
			return nil, corrupt(legacy, "unknown namespace %d (key %x)", e.ns, e.key)
		}
		st, err := w.proto.loadGroupState(e.key, e.value)
		if err != nil {
			return nil, entryError(legacy, e.ns, e.key, err)
		}
		end, start := st.prev[w.endKey], st.prev[w.startKey]
		kb = w.partKey(kb[:0], st.prev[:w.proto.nk])
		w.proto.recycle(st)
		if end.IsNull() || start.IsNull() || end.I-start.I != w.spec.Size || floorMod(end.I-w.spec.Offset, w.spec.Size) != 0 {
			return nil, fmt.Errorf("restore %s from the state of %s: entry (key %x) is not a window [start, start + %d ms) on the window boundaries; this savepoint cannot be migrated: start the query without it, or run the version of Sluice that wrote it until its open windows fired",
				op, legacy, e.key, w.spec.Size)
		}
		p := parts[string(kb)]
		if p == nil {
			p = &part{}
			parts[string(kb)] = p
			order = append(order, string(kb))
		}
		p.n++
		p.vb = binary.AppendUvarint(p.vb, uint64(len(e.key)))
		p.vb = append(p.vb, e.key...)
		p.vb = binary.AppendUvarint(p.vb, uint64(len(e.value)))
		p.vb = append(p.vb, e.value...)
	}
	meta := appendMeta(nil, op)
	meta = binary.AppendVarint(meta, fired)
	meta = binary.AppendVarint(meta, late)
	out := make([]stateEntry, 0, len(order)+1)
	out = append(out, stateEntry{ns: nsMeta, value: meta})
	for _, k := range order {
		p := parts[k]
		vb := binary.AppendUvarint([]byte{stateVersion}, uint64(p.n))
		out = append(out, stateEntry{key: []byte(k), value: append(vb, p.vb...)})
	}
	return out, nil
}

var _ stateMigrator = (*sliceWindowAgg)(nil)
