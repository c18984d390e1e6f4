package exec

import (
	"container/heap"
	"fmt"

	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Session window aggregate state: namespace 0, one entry per partition key (the group keys other than the
// window's: the key the operator's subtasks are partitioned by, so that every entry restores into the
// subtask that receives its key's rows), whose value holds the key's sessions as groups (window_group_state.go:
// each session's group key with its window_start and window_end, and its group state), and in the meta entry
// the watermark up to which sessions fired and the late-row count. The state of the
// row-holding path (the session assigner's rows, signature SessionWindow(...), and the per-window
// aggregate's, WindowAggregate(...)) does not restore into this operator, nor this one's into them: such a
// restore fails with the signature mismatch error.

func (w *sessionWindowAgg) signature() string {
	return w.proto.signature(fmt.Sprintf("SessionWindowAggregate(gap=%d, ", w.gap)) + ")"
}

func (w *sessionWindowAgg) SnapshotState(wr state.Writer) error {
	if err := putWindowMeta(wr, w.signature(), w.fired, w.Late); err != nil {
		return err
	}
	p := w.proto
	var v groupsValue
	var kb []byte
	for k, ss := range w.parts {
		v.reset(len(ss))
		for _, s := range ss {
			s.st.prev[w.startKey], s.st.prev[w.endKey] = types.TimestampValue(s.start, 0), types.TimestampValue(s.end, 0)
			kb = appendGroupKey(kb[:0], s.st.prev, p.keyIdx, p.keyTypes)
			addGroup(&v, p, kb, s.st)
		}
		if err := wr.Put(0, []byte(k), v.vb); err != nil {
			return err
		}
	}
	return nil
}

func (w *sessionWindowAgg) RestoreState(r state.Reader) error {
	op := w.signature()
	return restoreLoop(r, op, op, restoreWindowMeta(&w.fired, &w.Late), func(ns uint8, key, value []byte) error {
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
	p := w.proto
	var ss []*sessionAcc
	var pk []byte
	n, err := eachGroup(value, "sessions", func(gk, gv []byte) error {
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
		if pk = windowPartKey(pk[:0], st.prev[:p.nk], p.keyTypes, w.startKey, w.endKey); string(pk) != key {
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
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("no sessions")
	}
	w.parts[key] = ss
	return nil
}

var _ state.Snapshotter = (*sessionWindowAgg)(nil)
