package engine

import (
	"maps"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// windowDirty follows the window aggregate of a repartition partition for its changelog: it notes the state
// entries changed since the last transaction, whose entries writeWindowChangelog writes (and tombstones for
// those the aggregate no longer holds), so that a transaction costs in proportion to what it changed, not
// to the partition's open windows. An entry changes when a row of it is pushed (the member marks the
// repartition record's key, markRow) or when it fires (the aggregate's output rows pass through here, and
// their key columns name the entry).
//
// The entries are those of the aggregate's own state encoding:
//   - a SESSION aggregate (exec.NewSessionWindowAgg): one per partition key, holding its open sessions
//     (exec.KeyedSnapshotter.SnapshotKeys); the repartition key is the partition key;
//   - a TUMBLE, HOP or CUMULATE aggregate (exec.NewWindowAgg): one per group, keyed by the group key
//     (window_start and window_end included, which is the repartition key), found through its window's end
//     (exec.WindowKeyedSnapshotter.SnapshotWindowKeys).
type windowDirty struct {
	session exec.KeyedSnapshotter       // set for a session aggregate
	window  exec.WindowKeyedSnapshotter // set for the other window aggregates
	// dirty are the entry keys changed since the last transaction, with their window's end (a session
	// aggregate's: 0).
	dirty map[string]int64
	pos   []int // the output columns of the entry key
	types []types.Type
	end   int // a window aggregate's output column of window_end; -1: a session aggregate
	inEnd int // a window aggregate's input column of window_end
	kb    []byte
	out   changelog.Output
}

// newWindowDirty returns the entry tracker of a partition whose aggregate writes to out; the caller sets its
// session or window snapshotter once the aggregate exists.
func (m *member) newWindowDirty(out changelog.Output) *windowDirty {
	w := m.plan.win
	d := &windowDirty{dirty: map[string]int64{}, out: out, end: -1, inEnd: -1}
	for i, k := range w.agg.Keys {
		if !w.session || (i != w.startKey && i != w.agg.WindowEndKey) {
			d.pos, d.types = append(d.pos, i), append(d.types, m.inTypes[k])
		}
	}
	if !w.session {
		d.end, d.inEnd = w.agg.WindowEndKey, w.agg.Keys[w.agg.WindowEndKey]
	}
	return d
}

// mark notes that entry k (of the window ending at end) changed.
func (d *windowDirty) mark(k []byte, end int64) {
	if _, ok := d.dirty[string(k)]; !ok {
		d.dirty[string(k)] = end
	}
}

// markRow notes the entry of a row pushed into the aggregate: k is its repartition key, vals the row.
func (d *windowDirty) markRow(k []byte, vals []types.Value) {
	if d.inEnd < 0 {
		d.mark(k, 0)
		return
	}
	if v := vals[d.inEnd]; !v.IsNull() { // the aggregate ignores a row without a window
		d.mark(k, v.I)
	}
}

// Push notes the entries of the aggregate's output rows (fired windows or sessions) and passes them on.
func (d *windowDirty) Push(b *changelog.Batch) error {
	for i := range b.Rows {
		vals := b.Rows[i].Vals
		d.kb = d.kb[:0]
		for j, c := range d.pos {
			d.kb = types.AppendKey(d.kb, vals[c], d.types[j])
		}
		var end int64
		if d.end >= 0 {
			end = vals[d.end].I
		}
		d.mark(d.kb, end)
	}
	return d.out.Push(b)
}
func (d *windowDirty) Watermark(ts int64) error { return d.out.Watermark(ts) }
func (d *windowDirty) End() error               { return d.out.End() }

// meta writes the aggregate's operator-wide entry.
func (d *windowDirty) meta(w state.Writer) error {
	if d.session != nil {
		return d.session.SnapshotMeta(w)
	}
	return d.window.SnapshotMeta(w)
}

// write writes the entries changed since the last transaction (a Delete for those the aggregate no longer
// holds) and forgets them.
func (d *windowDirty) write(w exec.DeltaWriter) error {
	var err error
	if d.session != nil {
		err = d.session.SnapshotKeys(w, maps.Keys(d.dirty))
	} else {
		err = d.window.SnapshotWindowKeys(w, maps.All(d.dirty))
	}
	if len(d.dirty) > 4096 {
		d.dirty = map[string]int64{} // clear would keep (and visit) the large map's buckets
	} else {
		clear(d.dirty)
	}
	return err
}
