package expr

// ColumnIndex reports whether x is a plain input column reference, and which.
func ColumnIndex(x Expr) (int, bool) {
	if c, ok := x.(*columnExpr); ok {
		return c.index, true
	}
	return 0, false
}
