package exec

import (
	"encoding/binary"

	"github.com/sluicesql/sluice/changelog"
)

// Keyed changes of a streaming ChangelogNormalize, for a caller that keeps its state as a changelog of its
// entries (a scale-out member's upsert versioned table, engine/scaleout_temporal_upsert.go): the normalize
// notes the keys whose last row changed (an upsert stored, a delete removed it) so that the caller writes
// those entries instead of a snapshot of every key. The entries are SnapshotState's (rank_state.go), so
// RestoreState loads them. Keys a state TTL drops are not noted: a caller tracking changes runs without one.

var _ JoinKeyed = (*normalize)(nil)

// NormalizeKeyedOf returns the keyed changes of a streaming ChangelogNormalize made by NewNormalize (or
// NewChangelogNormalize), else nil.
func NormalizeKeyedOf(n changelog.Output) JoinKeyed {
	if nn, ok := n.(*normalize); ok && !nn.batch {
		return nn
	}
	return nil
}

func (n *normalize) TrackChanges() { n.changed = map[string]struct{}{} }

// noteKey notes that the entry of key n.kbuf changed.
func (n *normalize) noteKey() {
	if n.changed == nil {
		return
	}
	if _, ok := n.changed[string(n.kbuf)]; !ok {
		n.changed[string(n.kbuf)] = struct{}{}
	}
}

// SnapshotChanged writes the meta entry and, for every key noted since the last call, its entry, or a
// Delete when the key has no row any more; it forgets the noted keys.
func (n *normalize) SnapshotChanged(w DeltaWriter) error {
	if err := w.Put(nsMeta, nil, appendMeta(nil, n.signature())); err != nil {
		return err
	}
	var vb []byte
	for k := range n.changed {
		st, ok := n.state[k]
		if !ok {
			if err := w.Delete(0, []byte(k)); err != nil {
				return err
			}
			continue
		}
		vb = binary.AppendVarint(append(vb[:0], stateVersion), st.touched)
		vb = appendRowBinary(vb, st.vals)
		if err := w.Put(0, []byte(k), vb); err != nil {
			return err
		}
	}
	clear(n.changed)
	return nil
}
