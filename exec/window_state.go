package exec

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Session window state: namespace 0, one entry per partition key with its open sessions:
//
//	version, uvarint sessions, each: varint start, varint end, uvarint rows, each: varint wall time, row
//
// and in the meta entry the watermark up to which sessions closed and the late-row count.

func (w *sessionAssigner) signature() string {
	return fmt.Sprintf("SessionWindow(gap=%d, partition=%d, time=%d)", w.gap, len(w.part), w.col)
}

func (w *sessionAssigner) SnapshotState(wr state.Writer) error {
	meta := appendMeta(nil, w.signature())
	meta = binary.AppendVarint(meta, w.wm)
	meta = binary.AppendVarint(meta, w.Late)
	if err := wr.Put(nsMeta, nil, meta); err != nil {
		return err
	}
	var kb, vb []byte
	for k, ss := range w.keys {
		vb = append(vb[:0], stateVersion)
		vb = binary.AppendUvarint(vb, uint64(len(ss)))
		for _, s := range ss {
			vb = binary.AppendVarint(vb, s.start)
			vb = binary.AppendVarint(vb, s.end)
			vb = binary.AppendUvarint(vb, uint64(len(s.rows)))
			for i, row := range s.rows {
				vb = binary.AppendVarint(vb, s.wall[i])
				vb = appendRowBinary(vb, row)
			}
		}
		kb = append(kb[:0], k...)
		if err := wr.Put(0, kb, vb); err != nil {
			return err
		}
	}
	return nil
}

func (w *sessionAssigner) RestoreState(r state.Reader) error {
	op := w.signature()
	return restoreLoop(r, op, w.signature(), func(d *stateDec) {
		w.wm = d.varint()
		w.Late = d.varint()
	}, func(ns uint8, key, value []byte) error {
		if ns != 0 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		if _, dup := w.keys[string(key)]; dup {
			return corrupt(op, "key %x appears twice", key)
		}
		ss, err := w.loadSessions(key, value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		w.keys[string(key)] = ss
		for _, s := range ss {
			w.minEnd = min(w.minEnd, s.end)
		}
		return nil
	})
}

func (w *sessionAssigner) loadSessions(key, value []byte) ([]*session, error) {
	d, err := newStateDec(value)
	if err != nil {
		return nil, err
	}
	n := d.count()
	ss := make([]*session, 0, n)
	for range n {
		s := &session{start: d.varint(), end: d.varint()}
		rows := d.count()
		for range rows {
			s.wall = append(s.wall, d.varint())
			row := d.row()
			if d.err == nil && (w.col >= len(row) || !keyColsFit(row, w.part)) {
				return nil, fmt.Errorf("a row has %d columns, fewer than the operator reads", len(row))
			}
			s.rows = append(s.rows, row)
		}
		if d.err == nil && rows == 0 {
			return nil, fmt.Errorf("a session without rows")
		}
		ss = append(ss, s)
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	for _, s := range ss {
		w.kbuf = appendGroupKey(w.kbuf[:0], s.rows[0], w.part, w.partTypes)
		if string(w.kbuf) != string(key) {
			return nil, fmt.Errorf("the key does not match the partition of its rows (%x)", w.kbuf)
		}
	}
	return ss, nil
}

// keyColsFit reports whether row has every column of cols.
func keyColsFit(row []types.Value, cols []int) bool {
	for _, c := range cols {
		if c < 0 || c >= len(row) {
			return false
		}
	}
	return true
}

// OVER aggregate state: namespace 0, one entry per partition key:
//
//	version, varint last row arrival or emission (Unix ms, for the state TTL; 0 without one), uvarint
//	pending rows + rows, uvarint history rows + rows, accs byte (1: the running accumulators of an
//	unbounded frame follow, one per aggregate call)
//
// and in the meta entry the watermark up to which rows were emitted and the late-row count.

func (o *overAgg) signature() string {
	var b strings.Builder
	fr := o.cfg.Frame
	fmt.Fprintf(&b, "OverAggregate(partition=%d, order=%d, rows=%t, unbounded=%t, preceding=%d, aggs=[",
		len(o.cfg.Partition), o.cfg.OrderCol, fr.Rows, fr.Unbounded, fr.Preceding)
	for i, s := range o.specs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.fn)
		if s.distinct {
			b.WriteString(" DISTINCT")
		}
	}
	b.WriteString("])")
	return b.String()
}

func (o *overAgg) SnapshotState(w state.Writer) error {
	meta := appendMeta(nil, o.signature())
	meta = binary.AppendVarint(meta, o.wm)
	meta = binary.AppendVarint(meta, o.Late)
	if err := w.Put(nsMeta, nil, meta); err != nil {
		return err
	}
	var kb, vb []byte
	for k, p := range o.parts {
		vb = append(vb[:0], stateVersion)
		vb = binary.AppendVarint(vb, p.touched)
		for _, rows := range [][][]types.Value{p.pending, p.history} {
			vb = binary.AppendUvarint(vb, uint64(len(rows)))
			for _, row := range rows {
				vb = appendRowBinary(vb, row)
			}
		}
		vb = appendBool(vb, p.accs != nil)
		for _, a := range p.accs {
			vb = a.appendState(vb)
		}
		kb = append(kb[:0], k...)
		if err := w.Put(0, kb, vb); err != nil {
			return err
		}
	}
	return nil
}

func (o *overAgg) RestoreState(r state.Reader) error {
	op := o.signature()
	return restoreLoop(r, op, o.signature(), func(d *stateDec) {
		o.wm = d.varint()
		o.Late = d.varint()
	}, func(ns uint8, key, value []byte) error {
		if ns != 0 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		if _, dup := o.parts[string(key)]; dup {
			return corrupt(op, "key %x appears twice", key)
		}
		p, err := o.loadPart(key, value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		o.parts[string(key)] = p
		return nil
	})
}

func (o *overAgg) loadPart(key, value []byte) (*overPart, error) {
	d, err := newStateDec(value)
	if err != nil {
		return nil, err
	}
	p := &overPart{touched: d.varint()}
	for _, rows := range []*[][]types.Value{&p.pending, &p.history} {
		n := d.count()
		for range n {
			row := d.row()
			if d.err == nil && (o.cfg.OrderCol >= len(row) || !keyColsFit(row, o.cfg.Partition)) {
				return nil, fmt.Errorf("a row has %d columns, fewer than the operator reads", len(row))
			}
			*rows = append(*rows, row)
		}
	}
	if d.bool() {
		p.accs = o.newAccs()
		for _, a := range p.accs {
			d.acc(a)
		}
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	pt := partTypesOf(o.cfg.Partition, o.cfg.InTypes)
	for _, rows := range [][][]types.Value{p.pending, p.history} {
		for _, row := range rows {
			o.kbuf = appendGroupKey(o.kbuf[:0], row, o.cfg.Partition, pt)
			if string(o.kbuf) != string(key) {
				return nil, fmt.Errorf("the key does not match the partition of its rows (%x)", o.kbuf)
			}
		}
	}
	return p, nil
}
