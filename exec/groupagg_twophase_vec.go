package exec

import (
	"fmt"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The local aggregate's columnar input (issue 14, vectorized execution): a columnar batch (a nexmark or
// Kafka JSON chain of column kernels) is combined into the pending partials straight from its typed columns,
// without converting its rows to values first. A batch is taken in chunks that end where the mini-batch
// fills (Size rows), so the partials are applied at exactly the rows the row path applies them at. Each
// chunk first finds every row's pending group (keys first seen in row order, as the row path), then
// updates one call at a time over the chunk: COUNT, and SUM, SUM0, AVG over integer and floating-point
// columns, and MIN/MAX over integer columns, read the typed slices; other calls and argument columns (decimals,
// strings, timestamps, booleans) add the column's value of each row, as the row path's accumulator does.

// AcceptsColumns: the local combines columnar batches natively.
func (l *localGroupAgg) AcceptsColumns() bool { return true }

// PushColumns combines the selected rows of b into the pending partials.
func (l *localGroupAgg) PushColumns(b *vec.Batch) error {
	m := l.m
	n := b.Len()
	if err := l.m.g.checkColumns(b, "local group aggregate"); err != nil {
		return err
	}
	for lo := 0; lo < n; {
		if m.pending == 0 {
			m.started = m.now().UnixMilli()
		}
		hi := min(n, lo+max(m.size-m.pending, 1))
		if err := l.combineColumns(b, lo, hi); err != nil {
			return err
		}
		lo = hi
		if m.pending >= m.size {
			if err := l.apply(); err != nil {
				return err
			}
		}
	}
	if m.pending > 0 && m.now().UnixMilli()-m.started >= m.latency {
		return l.apply()
	}
	return nil
}

// combineColumns combines the selected rows lo..hi-1 of b.
func (l *localGroupAgg) combineColumns(b *vec.Batch, lo, hi int) error {
	m, g := l.m, l.m.g
	l.gi, l.sign = l.gi[:0], l.sign[:0]
	for k := lo; k < hi; k++ {
		i := b.Row(k)
		kind := b.Kind(i)
		if !kind.IsAccumulate() && g.cfg.InsertOnly {
			return fmt.Errorf("%w: %s", ErrRetractionInInsertOnlyInput, kind)
		}
		m.keyBuf = m.keyBuf[:0]
		for j, c := range g.cfg.Keys {
			m.keyBuf = types.AppendKey(m.keyBuf, keyValue(b.Cols[c], i), g.keyTypes[j])
		}
		ei, ok := m.idx[string(m.keyBuf)]
		if !ok {
			st := g.newGroup()
			for j, c := range g.cfg.Keys {
				st.prev[j] = b.Cols[c].Value(i) // kept: a string pins its arena, as a converted row's would
			}
			key := string(m.keyBuf)
			ei = int32(len(m.ents))
			m.idx[key] = ei
			m.ents = append(m.ents, mbEntry{key: key})
			m.groups = append(m.groups, st)
		}
		m.ents[ei].n++
		sign := int64(1)
		if !kind.IsAccumulate() {
			sign = -1
		}
		m.groups[ei].count += sign
		l.gi = append(l.gi, ei)
		l.sign = append(l.sign, sign)
		m.pending++
	}
	for j, s := range g.specs {
		l.combineCall(j, s, b, lo)
	}
	return nil
}

// keyValue is row i of c for a key's encoding: a string shares the arena without marking it handed out.
func keyValue(c *vec.Col, i int) types.Value {
	if c.Kind == vec.Bytes && !c.Nulls.Get(i) {
		return types.Value{T: c.Tag, S: c.Str(i)}
	}
	return c.Value(i)
}

// combineCall updates call j of the groups l.gi over the chunk that starts at selected row lo.
func (l *localGroupAgg) combineCall(j int, s *aggSpec, b *vec.Batch, lo int) {
	groups := l.m.groups
	var filter *vec.Col
	if s.filter >= 0 {
		filter = b.Cols[s.filter]
	}
	skip := func(i int) bool { return filter != nil && !colTrue(filter, i) }
	switch s.fn {
	case "COUNT":
		for k, gi := range l.gi {
			i := b.Row(lo + k)
			if skip(i) {
				continue
			}
			counts := true
			for _, a := range s.args {
				if b.Cols[a].Nulls.Get(i) {
					counts = false
					break
				}
			}
			if counts {
				groups[gi].accs[j].(*countAcc).n += l.sign[k]
			}
		}
		return
	case "SUM", "SUM0", "AVG":
		col := b.Cols[s.args[0]]
		switch {
		case s.class == numInt && col.Kind == vec.Int64 && col.Tag == types.TagInt:
			for k, gi := range l.gi {
				i := b.Row(lo + k)
				if col.Nulls.Get(i) || skip(i) {
					continue
				}
				a := groups[gi].accs[j].(*sumAcc)
				if a.class == numUnknown {
					a.class, a.scale = s.class, s.scale
				}
				a.cnt += l.sign[k]
				a.i += l.sign[k] * col.I64[i]
			}
			return
		case s.class == numFloat && col.Kind == vec.Float64 && s.resType.Kind == types.Double:
			for k, gi := range l.gi {
				i := b.Row(lo + k)
				if col.Nulls.Get(i) || skip(i) {
					continue
				}
				a := groups[gi].accs[j].(*sumAcc)
				if a.class == numUnknown {
					a.class, a.scale = s.class, s.scale
				}
				a.cnt += l.sign[k]
				if l.sign[k] > 0 {
					a.f += col.F64[i]
				} else {
					a.f -= col.F64[i]
				}
			}
			return
		}
		for k, gi := range l.gi {
			if i := b.Row(lo + k); !skip(i) {
				groups[gi].accs[j].(*sumAcc).applyValue(col.Value(i), l.sign[k])
			}
		}
		return
	case "MIN", "MAX":
		col := b.Cols[s.args[0]]
		if col.Kind == vec.Int64 && col.Tag == types.TagInt && s.argType.IsIntegral() {
			for k, gi := range l.gi {
				i := b.Row(lo + k)
				if col.Nulls.Get(i) || skip(i) {
					continue
				}
				a, x := groups[gi].accs[j].(*minMaxAcc), col.I64[i]
				if !a.has || (a.max && x > a.v.I) || (!a.max && x < a.v.I) {
					a.v, a.has = types.Value{T: types.TagInt, I: x}, true
				}
			}
			return
		}
		for k, gi := range l.gi {
			if i := b.Row(lo + k); !skip(i) {
				groups[gi].accs[j].(*minMaxAcc).addValue(col.Value(i))
			}
		}
		return
	case "BOOL_AND", "BOOL_OR":
		col := b.Cols[s.args[0]]
		for k, gi := range l.gi {
			if i := b.Row(lo + k); !skip(i) {
				groups[gi].accs[j].(*boolAcc).applyValue(col.Value(i), l.sign[k])
			}
		}
	}
}

// colTrue reports whether row i of c is TRUE (a FILTER clause's column).
func colTrue(c *vec.Col, i int) bool {
	if c.Kind == vec.Bool {
		return !c.Nulls.Get(i) && c.B[i]
	}
	return isTrue(c.Value(i))
}

var _ vec.Output = (*localGroupAgg)(nil)
