package exec

import (
	"github.com/sluicesql/sluice/vec"
)

// Columnar lookup join (issue 14): when every input row finds at most one row (a lookup by the table's
// key, as Nexmark q13's side input), the output is the input's columns, passed on by reference, plus one
// column per looked-up field aligned with the input's physical rows; the selection keeps the rows that
// matched (all of them for a LEFT JOIN). A batch in which some row finds several rows is joined by the row
// path (the output would need the left rows repeated).

// lookupVec is the columnar state of a LookupJoin.
type lookupVec struct {
	right           []*vec.Col // by looked-up field
	cols            []*vec.Col // output columns: the input's, then right
	sel             []int32
	out             vec.Batch
	inConv, outConv vec.RowConv
}

func (j *LookupJoin) vecState() *lookupVec {
	if j.vx == nil {
		v := &lookupVec{right: make([]*vec.Col, j.cfg.RightWidth)}
		for i := range v.right {
			if len(j.cfg.RightTypes) == j.cfg.RightWidth {
				if c := vec.ColFor(j.cfg.RightTypes[i]); c.Kind != vec.Struct {
					v.right[i] = c
					continue
				}
			}
			v.right[i] = &vec.Col{Kind: vec.Values}
		}
		j.vx = v
	}
	return j.vx
}

// PushColumns joins a columnar batch.
func (j *LookupJoin) PushColumns(b *vec.Batch) error {
	if !j.opened {
		if err := j.cfg.Source.Open(j.ctx); err != nil {
			return err
		}
		j.opened = true
	}
	v := j.vecState()
	n := b.N
	for _, c := range v.right {
		c.Nulls = nil
		c.Reset(n)
	}
	if cap(v.sel) < n || v.sel == nil {
		v.sel = make([]int32, 0, max(n, 1)) // never nil: an empty selection is not "all rows"
	}
	sel := v.sel[:0]
	next := 0 // the next physical row to fill in the right columns
	for k, m := 0, b.Len(); k < m; k++ {
		i := b.Row(k)
		for ; next < i; next++ {
			appendNullRow(v.right, next)
		}
		for x, c := range j.cfg.LeftKeys {
			j.key[x] = b.Cols[c].Value(i)
		}
		var err error
		if j.found, err = j.cfg.Source.Lookup(j.ctx, j.key, j.found[:0]); err != nil {
			return err
		}
		switch {
		case len(j.found) > 1:
			return j.Push(v.inConv.Rows(b)) // left rows repeat: the row path
		case len(j.found) == 1:
			for f, c := range v.right {
				if !c.Append(i, j.found[0][f]) {
					*c = vec.Col{Kind: vec.Values} // a value without an exact typed form: values from now on
					return j.Push(v.inConv.Rows(b))
				}
			}
			sel = append(sel, int32(i))
		case j.cfg.Outer:
			appendNullRow(v.right, i)
			sel = append(sel, int32(i))
		default:
			appendNullRow(v.right, i)
		}
		next = i + 1
	}
	for ; next < n; next++ {
		appendNullRow(v.right, next)
	}
	v.sel = sel
	if len(sel) == 0 {
		return nil
	}
	v.cols = append(append(v.cols[:0], b.Cols...), v.right...)
	v.out = vec.Batch{N: n, Kinds: b.Kinds, Sel: sel, Cols: v.cols}
	return vec.Push(j.out, &v.out, &v.outConv)
}

func appendNullRow(cols []*vec.Col, i int) {
	for _, c := range cols {
		c.AppendNull(i)
	}
}

// AcceptsColumns: the output is built from columns when the looked-up fields have typed columns or the
// operator downstream takes columns.
func (j *LookupJoin) AcceptsColumns() bool {
	return len(j.cfg.RightTypes) == j.cfg.RightWidth || vec.Accepts(j.out)
}

var _ vec.Output = (*LookupJoin)(nil)
