package expr

import "github.com/sluicesql/sluice/types"

// InKeyedParts reports whether x is [NOT] IN over a list of constants that the row path looks up by
// key (types.AppendKey) and whose key type is DOUBLE, FLOAT, DECIMAL, TIMESTAMP or TIMESTAMP_LTZ, and
// returns the tested operand, the key type, the list's non-NULL values as the row path keys them (in
// DOUBLE a float with -0.0 read as 0.0, in DECIMAL a decimal, timestamps as they are), whether the list
// holds a NULL and whether it is NOT IN. The operand of a numeric list is not cast: the row path keys an
// integer or DECIMAL operand of a DOUBLE list by its nearest double, and compares an integer or DECIMAL
// operand of a DECIMAL list by value (1.50 equals 1.5).
func InKeyedParts(x Expr) (operand Expr, keyType types.Type, vals []types.Value, listNull, not, ok bool) {
	e, isIn := x.(*inExpr)
	if !isIn || !e.keyed {
		return nil, types.Type{}, nil, false, false, false
	}
	kt := e.keyType
	switch {
	case kt.IsNumeric() && (isApprox(kt) || kt.Kind == types.Decimal), kt.IsTimestamp():
	default:
		return nil, types.Type{}, nil, false, false, false
	}
	for _, y := range e.list {
		v, err := y.Eval(nil) // constants: In evaluated them without error to build the set
		if err != nil {
			return nil, types.Type{}, nil, false, false, false
		}
		if v.IsNull() {
			continue
		}
		if kt.IsNumeric() {
			v = numAs(v, kt)
		}
		vals = append(vals, v)
	}
	return e.x, kt, vals, e.listNull, e.not, true
}
