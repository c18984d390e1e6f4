package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Kernels over ARRAY and MAP values. Columns of these types hold row values (vec.Values: one types.Value
// per row), so the kernels read each row's value, as the row path does, but write typed output columns
// and leave the rest of the Calc on columns:
//
//   - arr[i] (ITEM of an ARRAY and an integer): the element, NULL when the index is out of 1..CARDINALITY;
//   - m[key] (ITEM of a MAP and a constant key of a string or integer type): the value of the first key
//     equal to it (the row path's equality is byte equality for strings, value equality for integers),
//     NULL when absent;
//   - CARDINALITY of an ARRAY, MULTISET or MAP;
//   - everything else over ARRAY/MAP values (other map keys, ARRAY[...] and MAP[...] constructors; NULLIF,
//     IN and value-changing casts, calc_vec_nested.go): the row path's own evaluator called row by row
//     (vperRow), fed from the columns; user functions the same way, with their results recorded for a
//     retry (calc_vec_udf.go).
//
// The container is an input column, or another of these kernels giving row values (m['a'][1]). An element
// with no exact form in the output column (a DECIMAL held as a big integer) bails.

// compileValues compiles x, of a type held as row values, into a kernel giving a Values column.
func (c *vcompiler) compileValues(x expr.Expr) vexpr {
	if vec.ColFor(x.Type()).Kind != vec.Values {
		return nil
	}
	if i, ok := expr.ColumnIndex(x); ok {
		c.use(i, x.Type())
		return &vcol{idx: i}
	}
	if in, _, _, ok := expr.CastParts(x); ok && sameNestedValues(in.Type(), x.Type()) {
		return c.compileValues(in)
	}
	return c.compile(x)
}

// sameNestedValues reports whether a CAST between ARRAY, MULTISET or MAP types leaves every value as it is
// (the casts the binder inserts to bring branches to their common type: nullability, integer widening,
// longer strings; sameRowValues for the elements).
func sameNestedValues(from, to types.Type) bool {
	if from.Kind != to.Kind {
		return false
	}
	switch from.Kind {
	case types.Array, types.Multiset:
		return from.Elem != nil && to.Elem != nil && sameNestedValues(*from.Elem, *to.Elem)
	case types.Map:
		return from.Key != nil && to.Key != nil && from.Elem != nil && to.Elem != nil &&
			sameNestedValues(*from.Key, *to.Key) && sameNestedValues(*from.Elem, *to.Elem)
	}
	return sameRowValues(from, to)
}

// compileItem compiles ITEM(container, index or key).
func (c *vcompiler) compileItem(x expr.Expr, args []expr.Expr) vexpr {
	if len(args) != 2 {
		return nil
	}
	tx, ti := args[0].Type(), args[1].Type()
	k := &vitem{out: vec.ColFor(x.Type())}
	switch {
	case tx.Kind == types.Array && ti.IsIntegral():
		if k.idx = c.compile(args[1]); k.idx == nil {
			return nil
		}
	case tx.Kind == types.Map && tx.Key != nil:
		key, ok := expr.LiteralOf(args[1])
		kt := *tx.Key
		switch {
		case !ok:
			return c.compilePerRow(x)
		case key.IsNull():
			k.nullKey = true
		case kt.IsString() && ti.IsString() && key.T == types.TagString:
			k.strKey, k.key = true, key
		case kt.IsIntegral() && ti.IsIntegral() && key.T == types.TagInt:
			k.key = key
		default:
			return c.compilePerRow(x)
		}
	default:
		return nil
	}
	if k.x = c.compileValues(args[0]); k.x == nil {
		return nil
	}
	return k
}

// vitem is arr[i] or m[key].
type vitem struct {
	x       vexpr // the ARRAY or MAP values
	idx     vexpr // the array index (an integer column); nil for a map
	key     types.Value
	strKey  bool // key is a string (else an integer)
	nullKey bool // m[NULL]: NULL
	out     *vec.Col
}

func (k *vitem) eval(b *vec.Batch) (*vec.Col, error) {
	xc, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	if xc.Kind != vec.Values || len(xc.Vals) < b.N {
		return nil, errBail
	}
	var ic *vec.Col
	if k.idx != nil {
		if ic, err = k.idx.eval(b); err != nil {
			return nil, err
		}
		if ic.Kind != vec.Int64 || len(ic.I64) < b.N {
			return nil, errBail
		}
	}
	out := k.out
	out.Reset(b.N)
	ok := true
	selected(b, func(i int) bool {
		out.PadNulls(i)
		v := types.NullValue
		switch {
		case xc.Nulls.Get(i) || k.nullKey:
		case ic != nil:
			if !ic.Nulls.Get(i) {
				if arr, j := xc.Vals[i].Array(), ic.I64[i]; j >= 1 && j <= int64(len(arr)) {
					v = arr[j-1]
				}
			}
		default:
			v = k.lookup(xc.Vals[i].Map())
		}
		ok = out.Append(i, v)
		return ok
	})
	if !ok {
		return nil, errBail
	}
	out.PadNulls(b.N)
	return out, nil
}

// lookup is the value of the map's first non-NULL key equal to k.key.
func (k *vitem) lookup(m *types.MapValue) types.Value {
	if m == nil {
		return types.NullValue
	}
	for j, mk := range m.Keys {
		if mk.T == types.TagNull {
			continue
		}
		if k.strKey && mk.S == k.key.S || !k.strKey && mk.I == k.key.I {
			return m.Vals[j]
		}
	}
	return types.NullValue
}

// compileCardinality compiles CARDINALITY of an ARRAY, MULTISET or MAP.
func (c *vcompiler) compileCardinality(args []expr.Expr) vexpr {
	if len(args) != 1 {
		return nil
	}
	switch args[0].Type().Kind {
	case types.Array, types.Multiset, types.Map:
	default:
		return nil
	}
	x := c.compileValues(args[0])
	if x == nil {
		return nil
	}
	return &vcard{x: x, isMap: args[0].Type().Kind == types.Map}
}

// vcard is CARDINALITY: the number of elements (of entries of a map; a map value without entries is 0).
type vcard struct {
	x     vexpr
	isMap bool
	out   vec.Col
	nb    vec.Bitmap
}

func (k *vcard) eval(b *vec.Batch) (*vec.Col, error) {
	xc, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	if xc.Kind != vec.Values || len(xc.Vals) < b.N {
		return nil, errBail
	}
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagInt, I64: growI64(k.out.I64, b.N), Nulls: xc.Nulls}
	out, nullVal := k.out.I64, false
	selected(b, func(i int) bool {
		v := xc.Vals[i]
		switch {
		case v.T == types.TagNull:
			nullVal = nullVal || !xc.Nulls.Get(i)
		case k.isMap:
			out[i] = 0
			if m := v.Map(); m != nil {
				out[i] = int64(len(m.Keys))
			}
		default:
			out[i] = int64(len(v.Array()))
		}
		return true
	})
	if nullVal { // a NULL value without its NULL bit
		k.nb = vec.ResetBitmap(k.nb, b.N)
		copy(k.nb, xc.Nulls)
		for i, v := range xc.Vals[:b.N] {
			if v.T == types.TagNull {
				k.nb.Set(i)
			}
		}
		k.out.Nulls = k.nb
	}
	return &k.out, nil
}
