package exec

import (
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// SinkMaterializeConfig configures a SinkUpsertMaterializer (NewSinkMaterializer).
type SinkMaterializeConfig struct {
	Keys  []int        // the sink's primary key columns
	Types []types.Type // the row's column types
	// TTL ('table.exec.state.ttl'): a key whose rows were not written for this long (processing time) is
	// forgotten without emitting anything. 0 keeps state forever.
	TTL time.Duration
	// Now is the processing-time clock for TTL (time.Now when nil; tests inject their own).
	Now func() time.Time
}

// NewSinkMaterializer returns Flink's SinkUpsertMaterializer: in front of an upsert sink whose primary key is
// not the upsert key of its input, it keeps, per primary key, the rows currently alive in arrival order, so
// that the sink sees the key's latest live row whatever order the retraction of an old row and the
// insertion of its replacement arrived in (they may come from different upstream subtasks).
//
// +I/+U: the row is appended to the key's list (duplicates are kept, one entry each) and emitted as +I when
// the key held no row before, else as +U (as Flink's without an upsert key). -U/-D: the first equal row is removed; when the list becomes
// empty a -D with that row is emitted, when the removed row was the last one the new last row is emitted as
// +U, otherwise nothing (the sink already shows a later row). A retraction of a row the key does not hold
// (expired by the TTL) emits nothing. Equality is full-row equality (Flink's RecordEqualiser).
//
// State is the list of live rows per key (copies), keyed by the primary key's group-key encoding: the
// exchange in front of a parallel instance routes by the same bytes.
func NewSinkMaterializer(cfg SinkMaterializeConfig, out changelog.Output) changelog.Output {
	return &sinkMaterializer{cfg: cfg, kts: keyTypes(cfg.Keys, cfg.Types), out: out, state: map[string]*smKey{}, ttl: newStateTTL(cfg.TTL, cfg.Now)}
}

type sinkMaterializer struct {
	cfg   SinkMaterializeConfig
	kts   []types.Type
	out   changelog.Output
	state map[string]*smKey
	kbuf  []byte
	ob    changelog.Batch
	ttl   stateTTL
}

// smKey is a key's live rows (oldest first) and, with a TTL, when they were last written (Unix ms).
type smKey struct {
	rows    [][]types.Value
	touched int64
}

func (m *sinkMaterializer) Push(b *changelog.Batch) error {
	m.ob.Reset()
	m.tickTTL()
	now := m.ttl.now
	for _, r := range b.Rows {
		m.kbuf = appendGroupKey(m.kbuf[:0], r.Vals, m.cfg.Keys, m.kts)
		st := m.state[string(m.kbuf)]
		if st != nil && m.ttl.expired(st.touched) {
			delete(m.state, string(m.kbuf))
			st = nil
		}
		switch r.Kind {
		case changelog.Insert, changelog.UpdateAfter:
			row := changelog.CopyVals(r.Vals)
			if st == nil {
				st = &smKey{}
				m.state[string(m.kbuf)] = st
			}
			st.touched = now
			kind := changelog.UpdateAfter
			if len(st.rows) == 0 {
				kind = changelog.Insert
			}
			st.rows = append(st.rows, row)
			m.ob.Append(kind, row)
		case changelog.UpdateBefore, changelog.Delete:
			if st == nil {
				continue
			}
			i := m.find(st.rows, r.Vals)
			if i < 0 {
				continue
			}
			st.touched = now
			removed := st.rows[i]
			last := i == len(st.rows)-1
			copy(st.rows[i:], st.rows[i+1:])
			st.rows[len(st.rows)-1] = nil
			st.rows = st.rows[:len(st.rows)-1]
			switch {
			case len(st.rows) == 0:
				delete(m.state, string(m.kbuf))
				m.ob.Append(changelog.Delete, removed)
			case last:
				m.ob.Append(changelog.UpdateAfter, st.rows[len(st.rows)-1])
			}
		}
	}
	if len(m.ob.Rows) == 0 {
		return nil
	}
	return m.out.Push(&m.ob)
}

// find returns the index of the first row of rows equal to vals, or -1.
func (m *sinkMaterializer) find(rows [][]types.Value, vals []types.Value) int {
	for i, r := range rows {
		if smRowsEqual(m.cfg.Types, r, vals) {
			return i
		}
	}
	return -1
}

// smRowsEqual reports whether a and b (of column types ts) are equal column by column (NULL equals NULL; a
// DECIMAL's scale counts).
func smRowsEqual(ts []types.Type, a, b []types.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		var t types.Type
		if i < len(ts) {
			t = ts[i]
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

// tickTTL reads the clock for the TTL and drops the expired keys when a scan is due.
func (m *sinkMaterializer) tickTTL() {
	if !m.ttl.tick() {
		return
	}
	before := len(m.state)
	for k, st := range m.state {
		if m.ttl.expired(st.touched) {
			delete(m.state, k)
		}
	}
	m.state = shrinkIfSparse(m.state, before)
}

func (m *sinkMaterializer) Watermark(ts int64) error {
	m.tickTTL()
	return m.out.Watermark(ts)
}

func (m *sinkMaterializer) End() error { return m.out.End() }
