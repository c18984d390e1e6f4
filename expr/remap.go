package expr

// MapColumns returns x with every input column reference i replaced by a reference to column fn(i) (same
// name and type): the expression over a narrower input, for planner rules that prune columns. It returns
// false when fn refuses a column or x holds an expression it cannot rebuild (a call of a Go function, an
// unknown kind); the caller then keeps its plan. Parts that read no column are shared, not copied.
func MapColumns(x Expr, fn func(int) (int, bool)) (Expr, bool) {
	return rebuild(x, func(n Expr) (Expr, bool, bool) {
		c, ok := n.(*columnExpr)
		if !ok {
			return nil, false, false
		}
		i, ok := fn(c.index)
		if !ok {
			return nil, true, false
		}
		if i == c.index {
			return c, true, true
		}
		return &columnExpr{index: i, name: c.name, typ: c.typ}, true, true
	})
}
