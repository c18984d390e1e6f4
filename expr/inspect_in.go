package expr

// InListParts opens x [NOT] IN (list) when the row path compares the operand with each element in turn
// (a list that is not all constants; not a constant set, see InSetParts): the operand and the elements as
// the row path compares them (numerics as they are, compared by value; other types cast to the common
// type). The row path's result is three-valued OR of operand = element over the list (NOT for NOT IN).
func InListParts(x Expr) (operand Expr, list []Expr, not, ok bool) {
	e, isIn := x.(*inExpr)
	if !isIn || e.ints != nil || e.strs != nil {
		return nil, nil, false, false
	}
	return e.x, e.list, e.not, true
}
