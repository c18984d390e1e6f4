package exec

import (
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// GREATEST / LEAST of ROW and ARRAY values, with the row path's comparator (types.Compare): ROWs field by
// field and ARRAYs element by element, the first difference deciding; a NULL member sorts below every
// value, NaN above every number; NULL when an argument itself is NULL. ROW arguments are Struct columns
// compared member by member without making row values; the winner's members are copied into the output.
// ARRAY arguments are columns of row values (only input columns: no kernel builds an ARRAY).

// compileGreatestNested compiles GREATEST / LEAST of ROW or ARRAY arguments of type rt; nil for other types.
func (c *vcompiler) compileGreatestNested(rt types.Type, greatest bool, args []expr.Expr) vexpr {
	if rt.Kind != types.Row && rt.Kind != types.Array || !nestedComparable(rt) {
		return nil
	}
	k := &vpickNested{greatest: greatest, typ: rt}
	for _, a := range args {
		if !a.Type().Equal(rt) {
			return nil
		}
		var ka vexpr
		if rt.Kind == types.Array {
			i, ok := expr.ColumnIndex(a)
			if !ok {
				return nil
			}
			c.use(i, a.Type())
			ka = &vcol{idx: i}
		} else if ka = c.compile(a); ka == nil {
			return nil
		}
		k.args = append(k.args, ka)
	}
	return k
}

// nestedComparable reports types whose members have a column comparison here (no MAP or MULTISET, whose
// order is their encoded keys').
func nestedComparable(t types.Type) bool {
	switch t.Kind {
	case types.Map, types.Multiset:
		return false
	case types.Row:
		for _, f := range t.Fields {
			if !nestedComparable(f.Type) {
				return false
			}
		}
	}
	return true
}

// vpickNested is GREATEST or LEAST of ROWs or ARRAYs.
type vpickNested struct {
	args     []vexpr
	greatest bool
	typ      types.Type
	cols     []*vec.Col
	best     []int32
	rows     []int32 // 0..n-1: one-row slices for AppendRows
	out      vec.Col
}

func (k *vpickNested) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	k.cols = k.cols[:0]
	want := vec.Struct
	if k.typ.Kind == types.Array {
		want = vec.Values
	}
	for _, a := range k.args {
		c, err := a.eval(b)
		if err != nil {
			return nil, err
		}
		if c.Kind != want || len(k.cols) > 0 && !k.cols[0].SameShape(c) {
			return nil, errBail
		}
		k.cols = append(k.cols, c)
	}
	if cap(k.best) < n {
		k.best, k.rows = make([]int32, n), make([]int32, n)
		for i := range k.rows {
			k.rows[i] = int32(i)
		}
	}
	best := k.best[:n]
	clear(best)
	for j := 1; j < len(k.cols); j++ {
		c := k.cols[j]
		selected(b, func(i int) bool {
			if c.Nulls.Get(i) || k.cols[best[i]].Nulls.Get(i) {
				return true
			}
			r := cmpColAt(c, k.cols[best[i]], i, k.typ)
			if k.greatest && r > 0 || !k.greatest && r < 0 {
				best[i] = int32(j)
			}
			return true
		})
	}
	k.out.Reshape(k.cols[0])
	k.out.Nulls = k.out.Nulls[:0]
	for i := 0; i < n; i++ {
		null := false
		for _, c := range k.cols {
			null = null || c.Nulls.Get(i)
		}
		if null {
			k.out.AppendNull(i)
		} else {
			k.out.AppendRows(k.cols[best[i]], k.rows[i:i+1], i)
		}
	}
	return &k.out, nil
}

// cmpColAt compares value i of two columns of type t as types.Compare compares their row values.
func cmpColAt(a, b *vec.Col, i int, t types.Type) int {
	an, bn := a.Nulls.Get(i), b.Nulls.Get(i)
	if an || bn {
		return cmpInt64(b2i(!an), b2i(!bn))
	}
	switch a.Kind {
	case vec.Struct:
		for j := 0; j < len(a.Fields) && j < len(b.Fields); j++ {
			var ft types.Type
			if j < len(t.Fields) {
				ft = t.Fields[j].Type
			}
			if c := cmpColAt(a.Fields[j], b.Fields[j], i, ft); c != 0 {
				return c
			}
		}
		return cmpInt64(int64(len(a.Fields)), int64(len(b.Fields)))
	case vec.Int64:
		if a.Tag == b.Tag && a.Scale == b.Scale {
			if c := cmpInt64(a.I64[i], b.I64[i]); c != 0 || a.Tag != types.TagTimestamp {
				return c
			}
			return cmpInt64(int64(nanoAt(a, i)), int64(nanoAt(b, i)))
		}
	case vec.Float64:
		x, y := a.F64[i], b.F64[i]
		if xn, yn := x != x, y != y; xn || yn {
			return cmpInt64(b2i(xn), b2i(yn))
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case vec.Bool:
		return cmpInt64(b2i(a.B[i]), b2i(b.B[i]))
	case vec.Bytes:
		return strings.Compare(a.Str(i), b.Str(i))
	case vec.Dec128:
		if a.Scale == b.Scale {
			return a.D128[i].Cmp(b.D128[i])
		}
	case vec.Values:
		return types.Compare(a.Vals[i], b.Vals[i], t)
	}
	return types.Compare(a.Value(i), b.Value(i), t) // representations that differ: by value
}
