package exec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// NewTemporalSort is Flink's streaming TemporalSort for ORDER BY rowtime ASC [, more keys]: it holds each
// row until the watermark passes its rowtime (keys[0].Col, a time attribute), then emits the rows it
// releases as +I, sorted by all the keys (ties on rowtime by the further keys; rows equal on every key in
// arrival order). Rows whose rowtime is not above the last watermark seen are late and dropped (counted in
// Late), as are rows with a NULL rowtime. At the end of input every held row is emitted. Input must be
// insert-only.
func NewTemporalSort(keys []SortKey, out changelog.Output) changelog.Output {
	return &temporalSort{keys: keys, col: keys[0].Col, out: out, wm: minWatermark}
}

type temporalSort struct {
	keys []SortKey
	col  int
	out  changelog.Output
	wm   int64
	Late int64
	held rowHeap // a min-heap by (rowtime, arrival)
	seq  int64
	ob   changelog.Batch
	kbuf []byte
	rel  []heldRow
	// Held rows' values and keys are carved out of these chunks (no allocation per row); a chunk is freed
	// once none of its rows is held.
	varena []types.Value
	karena []byte
}

type heldRow struct {
	ts   int64
	seq  int64
	key  []byte // the sort keys' order-preserving encoding
	vals []types.Value
}

// rowHeap is a binary min-heap of held rows by (ts, seq).
type rowHeap []heldRow

func (h rowHeap) less(i, j int) bool {
	return h[i].ts < h[j].ts || h[i].ts == h[j].ts && h[i].seq < h[j].seq
}

func (h *rowHeap) push(r heldRow) {
	*h = append(*h, r)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !a.less(i, p) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *rowHeap) pop() heldRow {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a[n] = heldRow{}
	a = a[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && a.less(l, m) {
			m = l
		}
		if r := l + 1; r < n && a.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

func (s *temporalSort) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		if r.Kind.IsRetract() {
			return fmt.Errorf("temporal sort: input carries a %s row; ORDER BY a time attribute takes insert-only input", r.Kind)
		}
		v := r.Vals[s.col]
		if v.IsNull() || v.I <= s.wm {
			s.Late++
			continue
		}
		s.kbuf = appendSortKey(s.kbuf[:0], r.Vals, s.keys)
		s.held.push(s.hold(v.I, s.kbuf, r.Vals))
		s.seq++
	}
	return nil
}

// hold copies a row and its key into the arenas.
func (s *temporalSort) hold(ts int64, key []byte, vals []types.Value) heldRow {
	if len(s.varena)+len(vals) > cap(s.varena) {
		s.varena = make([]types.Value, 0, max(1024, 16*len(vals)))
	}
	vs := len(s.varena)
	s.varena = append(s.varena, vals...)
	if len(s.karena)+len(key) > cap(s.karena) {
		s.karena = make([]byte, 0, max(16<<10, 16*len(key)))
	}
	ks := len(s.karena)
	s.karena = append(s.karena, key...)
	return heldRow{ts: ts, seq: s.seq, key: s.karena[ks:len(s.karena):len(s.karena)], vals: s.varena[vs:len(s.varena):len(s.varena)]}
}

// release emits, sorted, the held rows whose rowtime is <= wm.
func (s *temporalSort) release(wm int64) error {
	s.rel = s.rel[:0]
	for len(s.held) > 0 && s.held[0].ts <= wm {
		s.rel = append(s.rel, s.held.pop())
	}
	if len(s.rel) == 0 {
		return nil
	}
	// In (rowtime, arrival) order already; ties on rowtime go by the further keys.
	slices.SortStableFunc(s.rel, func(a, b heldRow) int { return bytes.Compare(a.key, b.key) })
	s.ob.Reset()
	for _, h := range s.rel {
		s.ob.Append(changelog.Insert, h.vals)
	}
	clear(s.rel)
	return s.out.Push(&s.ob)
}

func (s *temporalSort) Watermark(ts int64) error {
	if ts > s.wm {
		s.wm = ts
		if err := s.release(ts); err != nil {
			return err
		}
	}
	return s.out.Watermark(ts)
}

func (s *temporalSort) End() error {
	if err := s.release(changelog.MaxWatermark); err != nil {
		return err
	}
	return s.out.End()
}

// Temporal sort state: namespace 0, one entry per held row, keyed by its arrival sequence number:
//
//	version, varint rowtime, row
//
// and in the meta entry the last watermark, the late-row count and the next sequence number.

func (s *temporalSort) signature() string {
	return fmt.Sprintf("TemporalSort(keys=%v)", s.keys)
}

func (s *temporalSort) SnapshotState(wr state.Writer) error {
	meta := appendMeta(nil, s.signature())
	meta = binary.AppendVarint(meta, s.wm)
	meta = binary.AppendVarint(meta, s.Late)
	meta = binary.AppendVarint(meta, s.seq)
	if err := wr.Put(nsMeta, nil, meta); err != nil {
		return err
	}
	var kb, vb []byte
	for _, h := range s.held {
		kb = binary.BigEndian.AppendUint64(kb[:0], uint64(h.seq))
		vb = append(vb[:0], stateVersion)
		vb = binary.AppendVarint(vb, h.ts)
		vb = appendRowBinary(vb, h.vals)
		if err := wr.Put(0, kb, vb); err != nil {
			return err
		}
	}
	return nil
}

func (s *temporalSort) RestoreState(r state.Reader) error {
	op := s.signature()
	err := restoreLoop(r, op, op, func(d *stateDec) {
		s.wm = d.varint()
		s.Late = d.varint()
		s.seq = d.varint()
	}, func(ns uint8, key, value []byte) error {
		if ns != 0 || len(key) != 8 {
			return corrupt(op, "unknown entry (namespace %d, key %x)", ns, key)
		}
		d, err := newStateDec(value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		ts := d.varint()
		row := d.row()
		if err := d.done(); err != nil {
			return entryError(op, ns, key, err)
		}
		for _, k := range s.keys {
			if k.Col >= len(row) {
				return entryError(op, ns, key, fmt.Errorf("a row has %d columns, fewer than the operator reads", len(row)))
			}
		}
		s.held.push(heldRow{ts: ts, seq: int64(binary.BigEndian.Uint64(key)), key: appendSortKey(nil, row, s.keys), vals: row})
		return nil
	})
	return err
}
