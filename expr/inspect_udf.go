package expr

// IsUDFCall reports whether x is a call of a user-defined scalar function (Go or WASM), which a compiler
// of expressions (exec's vectorized Calc) may only evaluate row by row with x.Eval.
func IsUDFCall(x Expr) bool {
	c, ok := x.(*callExpr)
	return ok && c.udf != nil
}
