package expr

// MapColumns returns x with every input column reference i replaced by a reference to column fn(i) (same
// name and type): the expression over a narrower input, for planner rules that prune columns. It returns
// false when fn refuses a column or x holds an expression it cannot rebuild (a call of a Go function, an
// unknown kind); the caller then keeps its plan. Parts that read no column are shared, not copied.
func MapColumns(x Expr, fn func(int) (int, bool)) (Expr, bool) {
	switch e := x.(type) {
	case *columnExpr:
		i, ok := fn(e.index)
		if !ok {
			return nil, false
		}
		if i == e.index {
			return e, true
		}
		return &columnExpr{index: i, name: e.name, typ: e.typ}, true
	case *literalExpr:
		return e, true
	case *castExpr:
		sub, ok := MapColumns(e.x, fn)
		if !ok {
			return nil, false
		}
		c := *e
		c.x = sub
		return &c, true
	case *caseExpr:
		c := *e
		var ok bool
		if c.conds, ok = mapAll(e.conds, fn); !ok {
			return nil, false
		}
		if c.results, ok = mapAll(e.results, fn); !ok {
			return nil, false
		}
		if e.els != nil {
			if c.els, ok = MapColumns(e.els, fn); !ok {
				return nil, false
			}
		}
		return &c, true
	case *inExpr:
		c := *e
		var ok bool
		if c.x, ok = MapColumns(e.x, fn); !ok {
			return nil, false
		}
		if c.list, ok = mapAll(e.list, fn); !ok {
			return nil, false
		}
		return &c, true
	case *callExpr:
		args, ok := mapAll(e.args, fn)
		if !ok {
			return nil, false
		}
		if sameExprs(args, e.args) {
			return e, true
		}
		if e.site == nil {
			if e.udf == nil {
				return nil, false
			}
			// A UDF's call: bound again over the new argument nodes (the same function, evaluated where it
			// was, as often as before).
			out, err := e.udf.bind(args)
			if err != nil {
				return nil, false
			}
			return out, true
		}
		// The call's evaluation closes over its argument nodes: bind the call again over the new ones (they
		// are the site's arguments after coercion, so binding inserts no further casts).
		site := *e.site
		site.args = args
		out, err := site.def.bind(&site)
		if err != nil || out.Type().Kind != e.typ.Kind {
			return nil, false
		}
		return out, true
	}
	return nil, false
}

func mapAll(xs []Expr, fn func(int) (int, bool)) ([]Expr, bool) {
	out := make([]Expr, len(xs))
	for i, x := range xs {
		y, ok := MapColumns(x, fn)
		if !ok {
			return nil, false
		}
		out[i] = y
	}
	return out, true
}

func sameExprs(a, b []Expr) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
