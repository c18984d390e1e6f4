package expr

import "github.com/sluicesql/sluice/types"

// InRowParts opens x [NOT] IN (constant ROWs) when the row path looks the ROW operand up in a set of
// key encodings (types.AppendKey: equal as types.Compare is, so a NULL member equals a NULL member and NaN
// equals NaN): the operand and the listed non-NULL values, both of the common ROW type keyType, and whether
// a NULL was listed. The row path's result is that of the three-valued OR of operand = element.
func InRowParts(x Expr) (operand Expr, keyType types.Type, vals []types.Value, listNull, not, ok bool) {
	e, isIn := x.(*inExpr)
	if !isIn || !e.keyed || e.keyType.Kind != types.Row {
		return nil, types.Type{}, nil, false, false, false
	}
	for _, y := range e.list {
		v, err := y.Eval(nil) // constants: In evaluated them without error to build the set
		if err != nil {
			return nil, types.Type{}, nil, false, false, false
		}
		if !v.IsNull() {
			vals = append(vals, v)
		}
	}
	return e.x, e.keyType, vals, e.listNull, e.not, true
}
