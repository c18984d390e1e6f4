package exec

import (
	"iter"

	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Keyed snapshots of the session window aggregate (KeyedSnapshotter), for a caller that writes its state
// incrementally (the scale-out member's changelog): the entry of each given partition key as SnapshotState
// writes it, or a Delete when the key has no open session (all fired, or never opened). The caller tracks the
// keys: those of the rows it pushed, and those of the sessions that fired (an emitted row's group keys
// other than window_start and window_end, in types.AppendKey encoding, are its partition key). The
// operator-wide entry (the fired watermark and the late-row count) changes with watermarks and late rows;
// SnapshotMeta writes it.

var _ KeyedSnapshotter = (*sessionWindowAgg)(nil)

func (w *sessionWindowAgg) SnapshotMeta(wr state.Writer) error {
	return putWindowMeta(wr, w.signature(), w.fired, w.Late)
}

func (w *sessionWindowAgg) SnapshotKeys(wr DeltaWriter, keys iter.Seq[string]) error {
	p := w.proto
	var v groupsValue
	var kb, ek []byte
	for k := range keys {
		ek = append(ek[:0], k...)
		ss := w.parts[k]
		if len(ss) == 0 {
			if err := wr.Delete(0, ek); err != nil {
				return err
			}
			continue
		}
		v.reset(len(ss))
		for _, s := range ss {
			s.st.prev[w.startKey], s.st.prev[w.endKey] = types.TimestampValue(s.start, 0), types.TimestampValue(s.end, 0)
			kb = appendGroupKey(kb[:0], s.st.prev, p.keyIdx, p.keyTypes)
			addGroup(&v, p, kb, s.st)
		}
		if err := wr.Put(0, ek, v.vb); err != nil {
			return err
		}
	}
	return nil
}

// OnExpire: a session window aggregate has no state TTL (its sessions leave state when they fire).
func (w *sessionWindowAgg) OnExpire(func(key string)) {}
