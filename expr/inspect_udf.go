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
	switch e := x.(type) {
	case *columnExpr, *literalExpr:
		return e, true
	case *castExpr:
		sub, ok := ReplaceUDFCalls(e.x, fn)
		if !ok {
			return nil, false
		}
		if sub == e.x {
			return e, true
		}
		c := *e
		c.x = sub
		return &c, true
	case *caseExpr:
		c := *e
		var ok bool
		if c.conds, ok = replaceAll(e.conds, fn); !ok {
			return nil, false
		}
		if c.results, ok = replaceAll(e.results, fn); !ok {
			return nil, false
		}
		if e.els != nil {
			if c.els, ok = ReplaceUDFCalls(e.els, fn); !ok {
				return nil, false
			}
		}
		return &c, true
	case *inExpr:
		c := *e
		var ok bool
		if c.x, ok = ReplaceUDFCalls(e.x, fn); !ok {
			return nil, false
		}
		if c.list, ok = replaceAll(e.list, fn); !ok {
			return nil, false
		}
		return &c, true
	case *callExpr:
		if e.udf != nil {
			y := fn(e)
			if y == nil || !y.Type().Equal(e.typ) {
				return nil, false
			}
			return y, true
		}
		args, ok := replaceAll(e.args, fn)
		if !ok {
			return nil, false
		}
		if sameExprs(args, e.args) {
			return e, true
		}
		if e.site == nil {
			return nil, false
		}
		site := *e.site
		site.args = args
		out, err := site.def.bind(&site)
		if err != nil || !out.Type().Equal(e.typ) {
			return nil, false
		}
		return out, true
	}
	return nil, false
}

func replaceAll(xs []Expr, fn func(Expr) Expr) ([]Expr, bool) {
	out := make([]Expr, len(xs))
	for i, x := range xs {
		y, ok := ReplaceUDFCalls(x, fn)
		if !ok {
			return nil, false
		}
		out[i] = y
	}
	return out, true
}
