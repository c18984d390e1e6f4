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
	held []heldRow // in arrival order
	seq  int64
	ob   changelog.Batch
	kbuf []byte
	rel  []heldRow
}

type heldRow struct {
	ts   int64
	seq  int64
	key  []byte // the sort keys' order-preserving encoding
	vals []types.Value
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
		s.held = append(s.held, heldRow{ts: v.I, seq: s.seq, key: bytes.Clone(s.kbuf), vals: changelog.CopyVals(r.Vals)})
		s.seq++
	}
	return nil
}

// release emits, sorted, the held rows whose rowtime is <= wm.
func (s *temporalSort) release(wm int64) error {
	s.rel = s.rel[:0]
	keep := s.held[:0]
	for _, h := range s.held {
		if h.ts <= wm {
			s.rel = append(s.rel, h)
		} else {
			keep = append(keep, h)
		}
	}
	clear(s.held[len(keep):])
	s.held = keep
	if len(s.rel) == 0 {
		return nil
	}
	slices.SortFunc(s.rel, func(a, b heldRow) int {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		return int(a.seq - b.seq)
	})
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
		s.held = append(s.held, heldRow{ts: ts, seq: int64(binary.BigEndian.Uint64(key)),
			key: appendSortKey(nil, row, s.keys), vals: row})
		return nil
	})
	slices.SortFunc(s.held, func(a, b heldRow) int { return int(a.seq - b.seq) })
	return err
}
