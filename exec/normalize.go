package exec

import (
	"sort"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// NewChangelogNormalize returns Flink's ChangelogNormalize for an upsert stream keyed on keys: it keeps the
// last row of every key and turns upserts and deletes into a complete changelog.
//
// Streaming: +I/+U for a new key → +I; for a known key with a different row → -U old, +U new; with the
// same row → nothing (a duplicate upsert changes nothing); -D for a known key → -D with the full old row
// (the input's delete may carry only the key); -D for an unknown key → nothing; -U is ignored (upsert
// streams carry none). Batch: the same state is built, and at End the final rows are emitted as +I, so
// downstream batch operators see insert-only input.
//
// State is one copied row per live key (the row values plus the key encoding).
func NewChangelogNormalize(keys []int, ts []types.Type, batch bool, out changelog.Output) changelog.Output {
	return NewNormalize(NormalizeConfig{Keys: keys, Types: ts, Batch: batch}, out)
}

// NormalizeConfig configures a ChangelogNormalize (NewNormalize).
type NormalizeConfig struct {
	Keys  []int        // the upsert key columns
	Types []types.Type // the row's column types
	Batch bool
	// MessageColumns are taken from the delete message in -D rows (see WithMessageColumns).
	MessageColumns []int
	// TTL ('table.exec.state.ttl'), in streaming mode: a key whose last row was not written for this long
	// (processing time) is forgotten without emitting anything; its next upsert is emitted as +I. With a TTL
	// an upsert equal to the key's last row is emitted as -U/+U instead of dropped (ttl.go). 0 keeps state
	// forever.
	TTL time.Duration
	// Now is the processing-time clock for TTL (time.Now when nil; tests inject their own).
	Now func() time.Time
}

// NewNormalize returns the ChangelogNormalize NewChangelogNormalize describes, configured by cfg.
func NewNormalize(cfg NormalizeConfig, out changelog.Output) changelog.Output {
	n := &normalize{keys: cfg.Keys, ts: cfg.Types, kts: keyTypes(cfg.Keys, cfg.Types), batch: cfg.Batch, out: out, state: map[string]normRow{}, msgCols: cfg.MessageColumns}
	if !cfg.Batch {
		n.ttl = newStateTTL(cfg.TTL, cfg.Now)
	}
	return n
}

// WithMessageColumns makes the -D rows of n carry, in columns cols, the values of the delete message itself
// instead of the old row's: metadata columns (the record's timestamp, offset, ...) describe the message, so a
// delete's rowtime is the tombstone's time. n must come from NewChangelogNormalize.
func WithMessageColumns(n changelog.Output, cols []int) changelog.Output {
	if nn, ok := n.(*normalize); ok {
		nn.msgCols = cols
	}
	return n
}

type normalize struct {
	keys  []int
	ts    []types.Type // the row's column types
	kts   []types.Type // the key columns' types (state keys encode key i with kts[i])
	batch bool
	out   changelog.Output
	state map[string]normRow
	kbuf  []byte
	ob    changelog.Batch
	// msgCols are taken from the delete message in -D rows (see WithMessageColumns).
	msgCols []int
	ttl     stateTTL
	// changed: the keys whose entry changed since SnapshotChanged (normalize_keyed.go), when TrackChanges
	// was called.
	changed map[string]struct{}
}

// normRow is a key's last row and, with a TTL, when it was written (Unix ms).
type normRow struct {
	vals    []types.Value
	touched int64
}

func (n *normalize) Push(b *changelog.Batch) error {
	n.ob.Reset()
	n.tickTTL()
	now := n.ttl.now
	for _, r := range b.Rows {
		n.kbuf = appendGroupKey(n.kbuf[:0], r.Vals, n.keys, n.kts)
		st, ok := n.state[string(n.kbuf)]
		if ok && n.ttl.expired(st.touched) { // expired, not dropped by a scan yet
			delete(n.state, string(n.kbuf))
			ok = false
		}
		old := st.vals
		switch r.Kind {
		case changelog.Insert, changelog.UpdateAfter:
			if !ok {
				row := changelog.CopyVals(r.Vals)
				n.state[string(n.kbuf)] = normRow{vals: row, touched: now}
				n.noteKey()
				if !n.batch {
					n.ob.Append(changelog.Insert, row)
				}
				continue
			}
			if !n.ttl.on() && n.sameRow(old, r.Vals) {
				continue
			}
			row := changelog.CopyVals(r.Vals)
			n.state[string(n.kbuf)] = normRow{vals: row, touched: now}
			n.noteKey()
			if !n.batch {
				n.ob.Append(changelog.UpdateBefore, old)
				n.ob.Append(changelog.UpdateAfter, row)
			}
		case changelog.Delete:
			if !ok {
				continue
			}
			delete(n.state, string(n.kbuf))
			n.noteKey()
			if !n.batch {
				if len(n.msgCols) > 0 {
					old = changelog.CopyVals(old)
					for _, c := range n.msgCols {
						old[c] = r.Vals[c]
					}
				}
				n.ob.Append(changelog.Delete, old)
			}
		}
	}
	if len(n.ob.Rows) == 0 {
		return nil
	}
	return n.out.Push(&n.ob)
}

func (n *normalize) sameRow(a, b []types.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		var t types.Type
		if i < len(n.ts) {
			t = n.ts[i]
		}
		if a[i].IsNull() != b[i].IsNull() || !a[i].IsNull() && types.Compare(a[i], b[i], t) != 0 {
			return false
		}
		if a[i].T == types.TagDecimal && a[i].DecimalScale() != b[i].DecimalScale() {
			return false
		}
	}
	return true
}

func (n *normalize) Watermark(ts int64) error {
	if n.batch {
		return nil
	}
	n.tickTTL()
	return n.out.Watermark(ts)
}

func (n *normalize) End() error {
	if n.batch {
		keys := make([]string, 0, len(n.state))
		for k := range n.state {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		const chunk = 1024
		for len(keys) > 0 {
			m := min(chunk, len(keys))
			n.ob.Reset()
			for _, k := range keys[:m] {
				n.ob.Append(changelog.Insert, n.state[k].vals)
			}
			if err := n.out.Push(&n.ob); err != nil {
				return err
			}
			keys = keys[m:]
		}
		if err := n.out.Watermark(changelog.MaxWatermark); err != nil {
			return err
		}
	}
	return n.out.End()
}

// keyTypes returns the types of columns keys of a row of types ts (nil past ts).
func keyTypes(keys []int, ts []types.Type) []types.Type {
	kts := make([]types.Type, len(keys))
	for i, c := range keys {
		if c < len(ts) {
			kts[i] = ts[c]
		}
	}
	return kts
}
