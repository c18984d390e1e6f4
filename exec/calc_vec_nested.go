package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The rest of the ROW, ARRAY and MAP kernels (session 24):
//
//   - an ARRAY, MAP or MULTISET constant (a folded ARRAY[1, 2]; a CASE branch, a COALESCE fallback) is a
//     Values column holding the constant in every slot (vvalsLit), filled once per batch size;
//   - NULLIF of ROWs is CASE WHEN a = b THEN NULL ELSE a END over Struct columns (the ROW comparison of
//     calc_vec_row.go is the row path's comparator, which NULLIF uses), the NULL a ROW literal;
//   - NULLIF of ARRAYs or MAPs, IN over ARRAY or MAP values, and a CAST to or from a ROW, ARRAY or MAP type
//     that changes values (element and field casts: ARRAY<INT> → ARRAY<STRING>, MAP<INT, BIGINT> →
//     MAP<STRING, STRING>, ROW<INT, ...> → ROW<BIGINT, ...>) run the row path's evaluator per selected row
//     (vperRow): the values, NULLs and errors are the row path's own, since it is its code (an error bails
//     and the row path reports it). A cast that keeps every value (sameRowValues, sameNestedValues) reads
//     its operand's column.

// isNested reports types held as Struct or Values columns.
func isNested(t types.Type) bool {
	k := vec.ColFor(t).Kind
	return k == vec.Struct || k == vec.Values
}

// compileNestedCast compiles CAST(in AS to) where either side is a ROW, ARRAY, MAP or MULTISET type.
func (c *vcompiler) compileNestedCast(x, in expr.Expr) vexpr {
	from, to := in.Type(), x.Type()
	fk, tk := vec.ColFor(from).Kind, vec.ColFor(to).Kind
	switch {
	case fk == vec.Struct && tk == vec.Struct:
		return c.compileRowOperand(x)
	case fk == vec.Values && tk == vec.Values && sameNestedValues(from, to):
		return c.compileValues(in)
	}
	return c.compilePerRow(x)
}

// vvalsLit is a constant ARRAY, MAP or MULTISET (NULL included) as a Values column.
type vvalsLit struct {
	v   types.Value
	out vec.Col
}

func (k *vvalsLit) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	if len(k.out.Vals) != n {
		vals := k.out.Vals[:0]
		for range n {
			vals = append(vals, k.v)
		}
		k.out = vec.Col{Kind: vec.Values, Vals: vals}
		if k.v.IsNull() {
			k.out.Nulls = vec.ResetBitmap(nil, n)
			for i := range n {
				k.out.Nulls.Set(i)
			}
		}
	}
	return &k.out, nil
}

// compileNullIfNested compiles NULLIF(a, b) of a ROW, ARRAY, MAP or MULTISET type rt.
func (c *vcompiler) compileNullIfNested(x expr.Expr, rt types.Type, a, b expr.Expr) vexpr {
	if vec.ColFor(rt).Kind != vec.Struct {
		return c.compilePerRow(x)
	}
	if a.Type().Kind != types.Row || b.Type().Kind != types.Row {
		return nil
	}
	eq := c.compileRowCompare("=", a, b)
	if eq == nil {
		return nil
	}
	null := c.compileRowLit(types.NullValue, rt)
	ka := c.compileRowOperand(a)
	if null == nil || ka == nil || !sameRowValues(a.Type(), rt) {
		return nil
	}
	return &vcase{typ: rt, conds: []vexpr{eq}, results: []vexpr{null}, els: ka}
}
