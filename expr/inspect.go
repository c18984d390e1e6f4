package expr

// ColumnIndex reports whether x is a plain input column reference, and which.
func ColumnIndex(x Expr) (int, bool) {
	if c, ok := x.(*columnExpr); ok {
		return c.index, true
	}
	return 0, false
}

// Children returns the sub-expressions of x and whether x's kind is known; for an unknown kind a caller
// computing which columns x reads must assume it reads all of them.
func Children(x Expr) ([]Expr, bool) {
	switch e := x.(type) {
	case *columnExpr, *literalExpr:
		return nil, true
	case *callExpr:
		return e.args, true
	case *castExpr:
		return []Expr{e.x}, true
	case *caseExpr:
		out := append(append([]Expr{}, e.conds...), e.results...)
		if e.els != nil {
			out = append(out, e.els)
		}
		return out, true
	case *inExpr:
		return append([]Expr{e.x}, e.list...), true
	}
	return nil, false
}

// FieldAccess reports whether x reads one field of a ROW (row.field, FIELD(row, 'name')) and returns the
// ROW expression and the field's index in its type.
func FieldAccess(x Expr) (row Expr, field int, ok bool) {
	c, isCall := x.(*callExpr)
	if !isCall || c.name != "FIELD" || len(c.args) != 2 {
		return nil, 0, false
	}
	name, isLit := strLiteral(c.args[1])
	if !isLit {
		return nil, 0, false
	}
	for i, f := range c.args[0].Type().Fields {
		if f.Name == name {
			return c.args[0], i, true
		}
	}
	return nil, 0, false
}
