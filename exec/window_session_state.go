package exec

import (
	"container/heap"
	"encoding/binary"
	"fmt"

	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Session window aggregate state: namespace 0, one entry per partition key (the group keys other than the
// window's: the key the operator's subtasks are partitioned by, so that every entry restores into the
// subtask that receives its key's rows), whose value is
//
//	version byte, uvarint sessions, each: uvarint length + the session's group key (with its window_start
//	and window_end), uvarint length + the session's group state as the group aggregate writes it
//
// and in the meta entry the watermark up to which sessions fired and the late-row count. The state of the
// row-holding path (the session assigner's rows, signature SessionWindow(...), and the per-window
// aggregate's, WindowAggregate(...)) does not restore into this operator, nor this one's into them: such a
// restore fails with the signature mismatch error.

func (w *sessionWindowAgg) signature() string {
	return w.proto.signature(fmt.Sprintf("SessionWindowAggregate(gap=%d, ", w.gap)) + ")"
}

func (w *sessionWindowAgg) SnapshotState(wr state.Writer) error {
	meta := appendMeta(nil, w.signature())
	meta = binary.AppendVarint(meta, w.fired)
	meta = binary.AppendVarint(meta, w.Late)
	if err := wr.Put(nsMeta, nil, meta); err != nil {
		return err
	}
	p := w.proto
	var vb, gb, kb []byte
	for k, ss := range w.parts {
		vb = append(vb[:0], stateVersion)
		vb = binary.AppendUvarint(vb, uint64(len(ss)))
		for _, s := range ss {
			s.st.prev[w.startKey], s.st.prev[w.endKey] = types.TimestampValue(s.start, 0), types.TimestampValue(s.end, 0)
			kb = appendGroupKey(kb[:0], s.st.prev, p.keyIdx, p.keyTypes)
			vb = binary.AppendUvarint(vb, uint64(len(kb)))
			vb = append(vb, kb...)
			p.results(s.st, s.st.prev)
			gb = p.appendGroupState(gb[:0], s.st)
			vb = binary.AppendUvarint(vb, uint64(len(gb)))
			vb = append(vb, gb...)
		}
		if err := wr.Put(0, []byte(k), vb); err != nil {
			return err
		}
	}
	return nil
}

func (w *sessionWindowAgg) RestoreState(r state.Reader) error {
	op := w.signature()
	return restoreLoop(r, op, op, func(d *stateDec) {
		w.fired = d.varint()
		w.Late = d.varint()
	}, func(ns uint8, key, value []byte) error {
		if ns != 0 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		if _, dup := w.parts[string(key)]; dup {
			return corrupt(op, "key %x appears twice", key)
		}
		if err := w.loadKey(string(key), value); err != nil {
			return entryError(op, ns, key, err)
		}
		return nil
	})
}

// loadKey restores the sessions of one partition key.
func (w *sessionWindowAgg) loadKey(key string, value []byte) error {
	if len(value) == 0 || value[0] != stateVersion {
		return fmt.Errorf("unknown state version")
	}
	rest := value[1:]
	n, k := binary.Uvarint(rest)
	if k <= 0 || n == 0 {
		return fmt.Errorf("truncated value or no sessions")
	}
	rest = rest[k:]
	next := func() ([]byte, error) {
		l, k := binary.Uvarint(rest)
		if k <= 0 || uint64(len(rest)-k) < l {
			return nil, fmt.Errorf("truncated value")
		}
		b := rest[k : k+int(l)]
		rest = rest[k+int(l):]
		return b, nil
	}
	p := w.proto
	var ss []*sessionAcc
	for range n {
		gk, err := next()
		if err != nil {
			return err
		}
		gv, err := next()
		if err != nil {
			return err
		}
		st, err := p.loadGroupState(gk, gv)
		if err != nil {
			return err
		}
		sv, ev := st.prev[w.startKey], st.prev[w.endKey]
		for _, v := range []types.Value{sv, ev} {
			if v.T != types.TagTimestamp && v.T != types.TagInt {
				return fmt.Errorf("a window key column holds a value of tag %d", v.T)
			}
		}
		if ev.I-sv.I < w.gap {
			return fmt.Errorf("session [%d, %d) is shorter than the gap %d", sv.I, ev.I, w.gap)
		}
		var pk []byte
		for i, v := range st.prev[:p.nk] {
			if i != w.startKey && i != w.endKey {
				pk = types.AppendKey(pk, v, p.keyTypes[i])
			}
		}
		if string(pk) != key {
			return fmt.Errorf("a session's key does not match the entry's key")
		}
		for _, o := range ss {
			if o.start <= ev.I && sv.I <= o.end {
				return fmt.Errorf("sessions [%d, %d) and [%d, %d) intersect", o.start, o.end, sv.I, ev.I)
			}
		}
		s := &sessionAcc{start: sv.I, end: ev.I, st: st, key: key, queued: ev.I}
		ss = append(ss, s)
		heap.Push(&w.queue, s)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d bytes after the sessions", len(rest))
	}
	w.parts[key] = ss
	return nil
}

var _ state.Snapshotter = (*sessionWindowAgg)(nil)
