package expr

// IsUDFCall reports whether x is a call of a user-defined scalar function (Go or WASM).
func IsUDFCall(x Expr) bool {
	c, ok := x.(*callExpr)
	return ok && c.udf != nil
}

// ReplaceUDFCalls returns x with every outermost call of a user-defined function u (one not inside another
// such call) replaced by fn(u), which must have u's type: the expression a caller evaluates in x's place
// with its own handling of the calls (exec's vectorized Calc replays the results its kernels already
// computed). Calls around a replaced part are bound again over the new argument nodes, as MapColumns does;
// false when x holds a part that cannot be rebuilt (a call of a Go function, an unknown kind). Parts
// without a user function call are shared, not copied.
func ReplaceUDFCalls(x Expr, fn func(call Expr) Expr) (Expr, bool) {
	return rebuild(x, func(n Expr) (Expr, bool, bool) {
		c, ok := n.(*callExpr)
		if !ok || c.udf == nil {
			return nil, false, false
		}
		y := fn(c)
		if y == nil || !y.Type().Equal(c.typ) {
			return nil, true, false
		}
		return y, true, true
	})
}
