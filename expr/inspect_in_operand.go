package expr

// InOperand reports whether x is [NOT] IN (list), of any list, and returns its tested operand (in the
// type the row path compares it in), for compilers that choose an evaluation by the operand's type.
func InOperand(x Expr) (Expr, bool) {
	e, isIn := x.(*inExpr)
	if !isIn {
		return nil, false
	}
	return e.x, true
}
