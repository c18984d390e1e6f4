package exec

import (
	"encoding/binary"

	"github.com/sluicesql/sluice/changelog"
)

// A window Top-N's state written per change (a scale-out member's changelog, engine/scaleout_window_rank.go):
// the entries are SnapshotState's (one per partition key, window_end included), written for the partitions
// that got a row since the last call and deleted for those of windows that fired.

// wrTrack notes a window Top-N's changed partitions.
type wrTrack struct {
	changed map[string]int64 // partition key -> its window's end
	gone    []string         // partition keys of windows that fired
}

func (t *wrTrack) note(end int64, key []byte) {
	if _, ok := t.changed[string(key)]; !ok {
		t.changed[string(key)] = end
	}
}

func (t *wrTrack) fired(end int64, win map[string]*wrPart) {
	for k := range win {
		delete(t.changed, k)
		t.gone = append(t.gone, k)
	}
}

// WindowRankKeyedOf returns the JoinKeyed (change tracking and SnapshotChanged) of a window Top-N made by
// NewWindowRank, else nil.
func WindowRankKeyedOf(op changelog.Output) JoinKeyed {
	if w, ok := op.(*windowRank); ok {
		return w
	}
	return nil
}

// TrackChanges makes the operator note its changed partitions from now on.
func (w *windowRank) TrackChanges() {
	if w.track == nil {
		w.track = &wrTrack{changed: map[string]int64{}}
	}
}

// SnapshotChanged writes the meta entry, the entries of the partitions that got rows since the last call and
// a Delete for each partition of a window that fired since; it forgets them.
func (w *windowRank) SnapshotChanged(wr DeltaWriter) error {
	meta := appendMeta(nil, w.signature())
	meta = binary.AppendVarint(meta, w.fired)
	meta = binary.AppendVarint(meta, w.Late)
	if err := wr.Put(nsMeta, nil, meta); err != nil {
		return err
	}
	t := w.track
	if t == nil {
		return nil
	}
	for _, k := range t.gone {
		if err := wr.Delete(0, []byte(k)); err != nil {
			return err
		}
	}
	t.gone = t.gone[:0]
	var vb []byte
	for k, end := range t.changed {
		p := w.windows[end][k]
		if p == nil {
			continue
		}
		vb = append(vb[:0], stateVersion)
		vb = binary.AppendUvarint(vb, uint64(len(p.rows)))
		for _, row := range p.rows {
			vb = appendRowBinary(vb, row.vals)
		}
		if err := wr.Put(0, []byte(k), vb); err != nil {
			return err
		}
	}
	clear(t.changed)
	return nil
}
