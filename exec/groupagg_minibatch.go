package exec

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// MiniBatchConfig configures the buffering of a mini-batch operator ('table.exec.mini-batch.*').
type MiniBatchConfig struct {
	// Size is the most rows buffered before the batch is applied ('table.exec.mini-batch.size', > 0).
	Size int64
	// Latency is the longest a row stays buffered ('table.exec.mini-batch.allow-latency', > 0). It is checked
	// when rows, watermarks or FlushDue calls arrive (processing time).
	Latency time.Duration
	// Now is the processing-time clock (time.Now when nil; tests inject their own).
	Now func() time.Time

	buffer bool // buffer rows even where they could be combined (NewLocalGroupAgg)
}

// ErrMiniBatchConfig is returned for a mini-batch configuration without a positive size and latency.
var ErrMiniBatchConfig = errors.New("invalid mini-batch configuration")

// nsMiniBatch is the state namespace of the rows buffered in a mini-batch at snapshot time (keyed by the
// group key, so a parallel restore hands them to the subtask that owns the key).
const nsMiniBatch = 1

// NewMiniBatchGroupAgg returns a streaming group aggregate that buffers its input per key, as Flink's
// MiniBatchGroupAggFunction: rows of the same key are chained together in the buffer, and when the buffer
// holds Size rows, when the oldest buffered row is older than Latency, before every watermark and at the
// end of input, each buffered key's rows are applied to its state at once and the key emits one change for
// the whole batch (+I for a new key, -U/+U for a changed result, -D when its last row went, nothing when the
// result is unchanged). Keys are applied in the order they first appeared in the batch. The materialized
// result is the one NewGroupAgg gives for the same input; the changelog has fewer rows. Over insert-only
// input whose calls all merge (AggMergeable), the rows of a key are combined into partial accumulators as
// they arrive instead of being buffered (groupagg_minibatch_combine.go): the same output, less work.
//
// Snapshots write the groups as NewGroupAgg does plus the buffered rows (namespace 1, per key): a restored
// operator applies them with its next batch, so nothing buffered at a checkpoint is lost or applied twice.
func NewMiniBatchGroupAgg(cfg GroupAggConfig, mb MiniBatchConfig, out changelog.Output) (changelog.Output, error) {
	if cfg.Batch {
		return nil, fmt.Errorf("%w: mini-batch applies to streaming group aggregates only", ErrMiniBatchConfig)
	}
	if cfg.Store != nil {
		return nil, fmt.Errorf("%w: 'table.exec.mini-batch.enabled' is not supported with 'state.backend.type' = 'rocksdb' yet; use the hashmap backend or turn mini-batch off", ErrMiniBatchConfig)
	}
	if mb.Size <= 0 {
		return nil, fmt.Errorf("%w: MiniBatch Size must be greater than 0", ErrMiniBatchConfig)
	}
	if mb.Latency <= 0 {
		return nil, fmt.Errorf("%w: MiniBatch Latency must be greater than 0 ms", ErrMiniBatchConfig)
	}
	if combinable(cfg) && !mb.buffer {
		return newCombiningMiniBatch(cfg, mb, out)
	}
	inner, err := NewGroupAgg(cfg, out)
	if err != nil {
		return nil, err
	}
	inner.(*groupAgg).compact = nil // the mini-batch drives the groups map itself
	m := &miniBatchGroupAgg{g: inner.(*groupAgg), size: int(min(mb.Size, 1<<30)), latency: mb.Latency.Milliseconds(), now: mb.Now}
	if m.latency <= 0 {
		m.latency = 1
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.idx = map[string]int32{}
	return m, nil
}

type miniBatchGroupAgg struct {
	g       *groupAgg
	size    int
	latency int64 // ms
	now     func() time.Time

	idx     map[string]int32 // buffered key → its entry
	ents    []mbEntry        // buffered keys in order of first arrival
	rows    []mbRow          // buffered rows; each key's rows chained through next
	vals    []types.Value    // the buffered rows' values
	started int64            // when the first buffered row arrived (Unix ms)
	pending int              // local aggregate (groupagg_twophase.go): rows combined since the last batch
	groups  []*group         // local aggregate: each entry's partial accumulators
	keyBuf  []byte
}

type mbEntry struct {
	key        string
	head, tail int32
	seq        uint64 // restore: the entry's position in the snapshotted buffer
	n          int    // local aggregate: the rows combined into the key's partial
	st         *group // local aggregate restore: the key's partial until the entries are sorted
}

type mbRow struct {
	kind     changelog.Kind
	off, end int32
	next     int32 // the key's next buffered row, -1 for none
}

// Buffered is the number of rows waiting in the mini-batch (tests and metrics).
func (m *miniBatchGroupAgg) Buffered() int { return len(m.rows) }

func (m *miniBatchGroupAgg) Push(b *changelog.Batch) error {
	g := m.g
	for _, r := range b.Rows {
		if !r.Kind.IsAccumulate() && g.cfg.InsertOnly {
			return fmt.Errorf("%w: %s", ErrRetractionInInsertOnlyInput, r.Kind)
		}
		if len(m.rows) == 0 {
			m.started = m.now().UnixMilli()
		}
		m.keyBuf = appendGroupKey(m.keyBuf[:0], r.Vals, g.cfg.Keys, g.keyTypes)
		ri := int32(len(m.rows))
		off := int32(len(m.vals))
		m.vals = append(m.vals, r.Vals...)
		m.rows = append(m.rows, mbRow{kind: r.Kind, off: off, end: int32(len(m.vals)), next: -1})
		if e, ok := m.idx[string(m.keyBuf)]; ok {
			ent := &m.ents[e]
			m.rows[ent.tail].next = ri
			ent.tail = ri
		} else {
			key := string(m.keyBuf)
			m.idx[key] = int32(len(m.ents))
			m.ents = append(m.ents, mbEntry{key: key, head: ri, tail: ri})
		}
		if len(m.rows) >= m.size {
			if err := m.apply(); err != nil {
				return err
			}
		}
	}
	if len(m.rows) > 0 && m.now().UnixMilli()-m.started >= m.latency {
		return m.apply()
	}
	return nil
}

// FlushDue applies the buffered rows when the oldest is older than the latency (a processing-time trigger
// for callers that tick while no input arrives).
func (m *miniBatchGroupAgg) FlushDue() error {
	if len(m.rows) > 0 && m.now().UnixMilli()-m.started >= m.latency {
		return m.apply()
	}
	return nil
}

// apply applies the buffered rows key by key and emits one change per key, then clears the buffer.
func (m *miniBatchGroupAgg) apply() error {
	if len(m.rows) == 0 {
		return nil
	}
	g := m.g
	now := int64(0)
	if g.cfg.TTL > 0 {
		now = g.now().UnixMilli()
		g.expire(now, false)
	}
	for i := range m.ents {
		m.applyKey(&m.ents[i], now)
	}
	clear(m.idx)
	clear(m.ents)
	clear(m.vals)
	m.ents, m.rows, m.vals = m.ents[:0], m.rows[:0], m.vals[:0]
	return g.flush()
}

// applyKey applies one key's buffered rows in order. A group whose row count drops to zero inside the batch
// starts over from empty accumulators (as NewGroupAgg drops its state), and retractions reaching a key
// without rows are ignored; the change emitted compares the result before the batch with the one after it.
func (m *miniBatchGroupAgg) applyKey(e *mbEntry, now int64) {
	g := m.g
	st := g.groups[e.key]
	if st != nil && g.cfg.TTL > 0 && st.touched <= now-g.cfg.TTL.Milliseconds() {
		delete(g.groups, e.key) // expired, not dropped by a scan yet
		g.recycle(st)
		st = nil
	}
	existed := st != nil
	for ri := e.head; ri >= 0; ri = m.rows[ri].next {
		r := &m.rows[ri]
		row := m.vals[r.off:r.end]
		if !r.kind.IsAccumulate() {
			if st == nil || st.count <= 0 {
				continue // retraction for a key without rows (Flink drops it)
			}
			st.count--
			g.accumulate(st, row, false)
			if st.count == 0 {
				for _, a := range st.accs {
					a.reset()
				}
			}
			continue
		}
		if st == nil {
			st = g.newGroup()
			for i, k := range g.cfg.Keys {
				st.prev[i] = row[k]
			}
		}
		st.count++
		g.accumulate(st, row, true)
	}
	if st == nil {
		return
	}
	st.touched = now
	switch {
	case st.count <= 0:
		if existed {
			g.emit(changelog.Delete, st.prev)
			delete(g.groups, e.key)
		}
		g.recycle(st)
	case !existed:
		g.results(st, st.prev)
		g.emit(changelog.Insert, st.prev)
		g.groups[e.key] = st
	default:
		next := g.scratch
		copy(next, st.prev[:g.nk])
		g.results(st, next)
		if valsEqual(st.prev[g.nk:], next[g.nk:], g.specs) {
			return
		}
		if g.cfg.EmitUpdateBefore {
			g.emit(changelog.UpdateBefore, st.prev)
		}
		g.emit(changelog.UpdateAfter, next)
		copy(st.prev[g.nk:], next[g.nk:])
	}
}

// Watermark applies the buffered rows first (Flink's mini-batch operators finish the bundle before a
// watermark passes them).
func (m *miniBatchGroupAgg) Watermark(ts int64) error {
	if err := m.apply(); err != nil {
		return err
	}
	return m.g.out.Watermark(ts)
}

func (m *miniBatchGroupAgg) End() error {
	if err := m.apply(); err != nil {
		return err
	}
	return m.g.out.End()
}

// SnapshotState writes the groups (as NewGroupAgg's operator does) and the buffered rows of each key.
func (m *miniBatchGroupAgg) SnapshotState(w state.Writer) error {
	if err := m.g.SnapshotState(w); err != nil {
		return err
	}
	var vb []byte
	for i := range m.ents {
		e := &m.ents[i]
		vb = append(vb[:0], stateVersion)
		vb = binary.AppendUvarint(vb, uint64(i))
		n := 0
		for ri := e.head; ri >= 0; ri = m.rows[ri].next {
			n++
		}
		vb = binary.AppendUvarint(vb, uint64(n))
		for ri := e.head; ri >= 0; ri = m.rows[ri].next {
			r := &m.rows[ri]
			vb = append(vb, byte(r.kind))
			vb = appendRowBinary(vb, m.vals[r.off:r.end])
		}
		if err := w.Put(nsMiniBatch, []byte(e.key), vb); err != nil {
			return err
		}
	}
	return nil
}

// RestoreState loads the groups and puts the buffered rows back into the buffer.
func (m *miniBatchGroupAgg) RestoreState(r state.Reader) error {
	op := "MiniBatch" + m.g.opName()
	var bufErr error
	rd := readerFunc(func() (uint8, []byte, []byte, bool, error) {
		for {
			ns, key, value, ok, err := r.Next()
			if err != nil || !ok || ns != nsMiniBatch {
				return ns, key, value, ok, err
			}
			if err := m.restoreRows(key, value); err != nil && bufErr == nil {
				bufErr = entryError(op, ns, key, err)
			}
		}
	})
	if err := m.g.RestoreState(rd); err != nil {
		return err
	}
	if bufErr != nil {
		return bufErr
	}
	// Apply the restored keys in the order they had in the buffer.
	slices.SortFunc(m.ents, func(a, b mbEntry) int { return cmp.Compare(a.seq, b.seq) })
	for i := range m.ents {
		m.idx[m.ents[i].key] = int32(i)
	}
	return nil
}

func (m *miniBatchGroupAgg) restoreRows(key, value []byte) error {
	if _, dup := m.idx[string(key)]; dup {
		return errors.New("the key's buffered rows appear twice")
	}
	d, err := newStateDec(value)
	if err != nil {
		return err
	}
	seq := d.uvarint()
	n := d.count()
	e := mbEntry{key: string(key), head: -1, tail: -1, seq: seq}
	for range n {
		k := changelog.Kind(d.byte())
		vals := d.row()
		if d.err != nil {
			break
		}
		ri := int32(len(m.rows))
		off := int32(len(m.vals))
		m.vals = append(m.vals, vals...)
		m.rows = append(m.rows, mbRow{kind: k, off: off, end: int32(len(m.vals)), next: -1})
		if e.head < 0 {
			e.head = ri
		} else {
			m.rows[e.tail].next = ri
		}
		e.tail = ri
	}
	if err := d.done(); err != nil {
		return err
	}
	if e.head < 0 {
		return errors.New("no buffered rows")
	}
	m.idx[e.key] = int32(len(m.ents))
	m.ents = append(m.ents, e)
	if m.started == 0 {
		m.started = m.now().UnixMilli()
	}
	return nil
}
