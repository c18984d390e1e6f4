package exec

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// MATCH_RECOGNIZE state: namespace 0, one entry per partition key: version, the partition columns, the
// pending rows (arrival order), the next sequence number, the sequence base and the fed rows still referred
// to, the runs (start, start time, element, count, mapping) and the waiting matches (start, start time,
// mapping). The meta entry holds the watermark and the late-row count.

func (m *matchOp) signature() string {
	var elems []string
	for _, e := range m.cfg.Elems {
		elems = append(elems, fmt.Sprintf("{%d,%d,%t}", e.Min, e.Max, e.Greedy))
	}
	return fmt.Sprintf("Match(partition=%d, time=%d, width=%d, pattern=%v, skip=%d/%d, within=%d, proctime=%t)",
		len(m.cfg.Partition), m.cfg.TimeCol, len(m.cfg.Types), elems, m.cfg.Skip, m.cfg.SkipElem, m.cfg.Within, m.cfg.ProcTime)
}

func appendRows(dst []byte, rows [][]types.Value) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rows)))
	for _, r := range rows {
		dst = appendRowBinary(dst, r)
	}
	return dst
}

func appendClasses(dst []byte, cs []uint8) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(cs)))
	return append(dst, cs...)
}

func (m *matchOp) SnapshotState(wr state.Writer) error {
	meta := appendMeta(nil, m.signature())
	meta = binary.AppendVarint(meta, m.wm)
	meta = binary.AppendVarint(meta, m.Late)
	if err := wr.Put(nsMeta, nil, meta); err != nil {
		return err
	}
	var vb []byte
	for k, p := range m.parts {
		vb = append(vb[:0], stateVersion)
		vb = appendRowBinary(vb, p.vals)
		vb = appendRows(vb, p.pending)
		vb = binary.AppendVarint(vb, p.next)
		vb = binary.AppendVarint(vb, p.base)
		vb = appendRows(vb, p.rows)
		vb = binary.AppendUvarint(vb, uint64(len(p.nfa.runs)))
		for _, r := range p.nfa.runs {
			vb = binary.AppendVarint(vb, r.start)
			vb = binary.AppendVarint(vb, r.startTs)
			vb = binary.AppendUvarint(vb, uint64(r.elem))
			vb = binary.AppendUvarint(vb, uint64(r.count))
			vb = appendClasses(vb, r.classes)
		}
		vb = binary.AppendUvarint(vb, uint64(len(p.nfa.waiting)))
		for _, w := range p.nfa.waiting {
			vb = binary.AppendVarint(vb, w.start)
			vb = binary.AppendVarint(vb, w.startTs)
			vb = appendClasses(vb, w.classes)
		}
		if err := wr.Put(0, []byte(k), vb); err != nil {
			return err
		}
	}
	return nil
}

func (d *stateDec) rows() [][]types.Value {
	n := d.count()
	var out [][]types.Value
	for range n {
		out = append(out, d.row())
	}
	return out
}

func (d *stateDec) classes(elems int) []uint8 {
	n := d.count()
	if d.err != nil {
		return nil
	}
	cs := append([]uint8(nil), d.b[:n]...)
	d.b = d.b[n:]
	for _, c := range cs {
		if int(c) >= elems {
			d.fail(fmt.Errorf("a row is mapped to pattern element %d of %d", c, elems))
		}
	}
	return cs
}

func (m *matchOp) RestoreState(r state.Reader) error {
	op := m.signature()
	ne := len(m.cfg.Elems)
	return restoreLoop(r, op, op, func(d *stateDec) {
		m.wm = d.varint()
		m.Late = d.varint()
	}, func(ns uint8, key, value []byte) error {
		if ns != 0 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		if m.parts[string(key)] != nil {
			return corrupt(op, "key %x appears twice", key)
		}
		d, err := newStateDec(value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		p := &matchPart{vals: d.row()}
		p.pending = d.rows()
		p.next = d.varint()
		p.base = d.varint()
		p.rows = d.rows()
		for range d.count() {
			run := &nfaRun{start: d.varint(), startTs: d.varint(), elem: int(d.uvarint()), count: int(d.uvarint())}
			run.classes = d.classes(ne)
			if d.err == nil && (run.elem >= ne || run.start < p.base || run.start+int64(len(run.classes)) > p.base+int64(len(p.rows))) {
				d.fail(fmt.Errorf("a partial match does not fit the stored rows or the pattern"))
			}
			p.nfa.runs = append(p.nfa.runs, run)
		}
		for range d.count() {
			w := &nfaMatch{start: d.varint(), startTs: d.varint()}
			w.classes = d.classes(ne)
			if d.err == nil && (len(w.classes) == 0 || w.start < p.base || w.end() >= p.base+int64(len(p.rows))) {
				d.fail(fmt.Errorf("a waiting match does not fit the stored rows"))
			}
			p.nfa.waiting = append(p.nfa.waiting, w)
		}
		if err := d.done(); err != nil {
			return entryError(op, ns, key, err)
		}
		if len(p.vals) != len(m.cfg.Partition) {
			return entryError(op, ns, key, fmt.Errorf("%d partition columns, the operator has %d", len(p.vals), len(m.cfg.Partition)))
		}
		for _, row := range append(append([][]types.Value{}, p.pending...), p.rows...) {
			if len(row) != len(m.cfg.Types) {
				return entryError(op, ns, key, fmt.Errorf("a row has %d columns, the input has %d", len(row), len(m.cfg.Types)))
			}
			m.kbuf = appendGroupKey(m.kbuf[:0], row, m.cfg.Partition, m.partTypes)
			if string(m.kbuf) != string(key) {
				return entryError(op, ns, key, fmt.Errorf("the key does not match the partition of its rows (%x)", m.kbuf))
			}
		}
		m.parts[string(key)] = p
		return nil
	})
}

var _ state.Snapshotter = (*matchOp)(nil)
