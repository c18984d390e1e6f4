package exec

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"

	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Group aggregate state: one entry per group in namespace 0, keyed by the GROUP BY key encoding (empty for
// a global aggregate), whose value is
//
//	version byte, uvarint number of aggregates, prev byte (1: the last emitted results follow at the end),
//	varint row count, varint last update (Unix ms, for the state TTL; 0 without one), the key column values, each accumulator's state (accstate.go), [the last emitted
//	results, when they differ from what the accumulators give]
//
// and the operator's signature in the meta entry. The batch group aggregate writes exactly this for every
// finished key when GroupAggConfig.FinalState is set, so a streaming aggregate with InsertOnly restores it.

// signature names the operator and the aggregate calls (with the accumulator form where it differs).
func (g *groupAgg) signature(kind string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s(keys=%d, aggs=[", kind, g.nk)
	for i, s := range g.specs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.fn)
		if s.distinct {
			b.WriteString(" DISTINCT")
		}
		switch s.fn {
		case "MIN", "MAX", "FIRST_VALUE", "LAST_VALUE":
			if s.retract {
				b.WriteString(" retractable")
			}
		}
	}
	b.WriteString("])")
	return b.String()
}

func (g *groupAgg) opName() string { return g.signature("GroupAggregate") }

// appendGroupState appends the value of one group's entry.
func (g *groupAgg) appendGroupState(dst []byte, st *group) []byte {
	dst = append(dst, stateVersion)
	dst = binary.AppendUvarint(dst, uint64(len(st.accs)))
	same := true
	for i, a := range st.accs {
		if !identical(a.result(), st.prev[g.nk+i]) {
			same = false
			break
		}
	}
	dst = appendBool(dst, !same)
	dst = binary.AppendVarint(dst, st.count)
	dst = binary.AppendVarint(dst, st.touched)
	for _, v := range st.prev[:g.nk] {
		dst = appendValue(dst, v)
	}
	for _, a := range st.accs {
		dst = a.appendState(dst)
	}
	if !same {
		for _, v := range st.prev[g.nk:] {
			dst = appendValue(dst, v)
		}
	}
	return dst
}

// identical reports whether two values are the same in every bit that output could show.
func identical(a, b types.Value) bool {
	if a.T != b.T || a.N != b.N || a.I != b.I || a.S != b.S {
		return false
	}
	if a.X == nil && b.X == nil {
		return true
	}
	x, ok1 := a.X.(*big.Int)
	y, ok2 := b.X.(*big.Int)
	return ok1 && ok2 && x.Cmp(y) == 0
}

// loadGroupState decodes a group entry into a new group of g.
func (g *groupAgg) loadGroupState(key, value []byte) (*group, error) {
	d, err := newStateDec(value)
	if err != nil {
		return nil, err
	}
	if n := d.uvarint(); d.err == nil && n != uint64(len(g.specs)) {
		return nil, fmt.Errorf("the value holds %d aggregates, the operator has %d", n, len(g.specs))
	}
	hasPrev := d.bool()
	count := d.varint()
	if d.err == nil && count < 0 {
		return nil, fmt.Errorf("negative row count %d", count)
	}
	touched := d.varint()
	st := g.newGroup()
	st.count, st.touched = count, touched
	for i := range g.nk {
		st.prev[i] = d.value()
	}
	for _, a := range st.accs {
		d.acc(a)
	}
	for i := range g.specs {
		if hasPrev {
			st.prev[g.nk+i] = d.value()
		} else if d.err == nil {
			st.prev[g.nk+i] = st.accs[i].result()
		}
	}
	if err := d.done(); err != nil {
		g.recycle(st)
		return nil, err
	}
	g.keyBuf = appendGroupKey(g.keyBuf[:0], st.prev, g.keyIdx, g.keyTypes)
	if string(g.keyBuf) != string(key) {
		g.recycle(st)
		return nil, fmt.Errorf("the key does not match the key values in the value (%x)", g.keyBuf)
	}
	return st, nil
}

// SnapshotState writes every group (streaming mode only).
func (g *groupAgg) SnapshotState(w state.Writer) error {
	if g.cfg.Batch {
		return fmt.Errorf("snapshot %s: %w", g.opName(), errBatchSnapshot)
	}
	if g.compact != nil {
		keys, index := g.listCompact()
		return g.snapshotCompact(w, keys, index, g.compact.chunks)
	}
	if err := w.Put(nsMeta, nil, appendMeta(nil, g.signature("GroupAggregate"))); err != nil {
		return err
	}
	var kb, vb []byte
	for k, st := range g.groups {
		kb = append(kb[:0], k...)
		vb = g.appendGroupState(vb[:0], st)
		if err := w.Put(0, kb, vb); err != nil {
			return err
		}
	}
	return nil
}

// RestoreState loads the groups a SnapshotState (or a batch run's FinalState) wrote.
func (g *groupAgg) RestoreState(r state.Reader) error {
	if g.cfg.Batch {
		return fmt.Errorf("restore %s: %w", g.opName(), errBatchSnapshot)
	}
	if g.compact != nil {
		return g.restoreCompact(r)
	}
	op := g.opName()
	return restoreLoop(r, op, g.signature("GroupAggregate"), nil, func(ns uint8, key, value []byte) error {
		if ns != 0 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		if _, dup := g.groups[string(key)]; dup {
			return corrupt(op, "key %x appears twice", key)
		}
		st, err := g.loadGroupState(key, value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		g.groups[string(key)] = st
		return nil
	})
}

// writeFinal writes the batch group just finished to cfg.FinalState (before its accumulators reset).
func (g *groupAgg) writeFinal() error {
	w := g.cfg.FinalState
	g.stateBuf = g.appendGroupState(g.stateBuf[:0], g.cur)
	if err := w.Put(0, g.curKey, g.stateBuf); err != nil {
		return fmt.Errorf("group aggregate: write the final state of a key: %w", err)
	}
	return nil
}

// writeFinalMeta writes the meta entry of the streaming form of a batch group aggregate.
func (g *groupAgg) writeFinalMeta() error {
	if err := g.cfg.FinalState.Put(nsMeta, nil, appendMeta(nil, g.signature("GroupAggregate"))); err != nil {
		return fmt.Errorf("group aggregate: write the final state: %w", err)
	}
	return nil
}

// Window aggregate state: every open window's groups, as the group aggregate writes them (namespace 0,
// keyed by the group key, which includes window_end), and in the meta entry the watermark up to which
// windows fired and the late-row count.

func (w *windowAgg) signature() string { return w.proto.signature("WindowAggregate") }

func (w *windowAgg) SnapshotState(wr state.Writer) error {
	meta := appendMeta(nil, w.signature())
	meta = binary.AppendVarint(meta, w.fired)
	meta = binary.AppendVarint(meta, w.Late)
	if err := wr.Put(nsMeta, nil, meta); err != nil {
		return err
	}
	var kb, vb []byte
	for _, ws := range w.windows {
		for k, st := range ws.groups {
			kb = append(kb[:0], k...)
			w.proto.results(st, st.prev)
			vb = w.proto.appendGroupState(vb[:0], st)
			if err := wr.Put(0, kb, vb); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *windowAgg) RestoreState(r state.Reader) error {
	op := w.signature()
	return restoreLoop(r, op, w.signature(), func(d *stateDec) {
		w.fired = d.varint()
		w.Late = d.varint()
	}, func(ns uint8, key, value []byte) error {
		if ns != 0 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		st, err := w.proto.loadGroupState(key, value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		end := st.prev[w.endKey]
		if end.T != types.TagTimestamp && end.T != types.TagInt {
			return entryError(op, ns, key, fmt.Errorf("window_end key column holds a value of tag %d", end.T))
		}
		ws := w.window(end.I)
		if w.minEnd == 0 || end.I < w.minEnd {
			w.minEnd = end.I
		}
		if _, dup := ws.groups[string(key)]; dup {
			return corrupt(op, "key %x appears twice", key)
		}
		ws.groups[string(key)] = st
		return nil
	})
}
