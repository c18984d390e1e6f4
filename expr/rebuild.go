package expr

// rebuild returns x with the nodes that leaf takes replaced by what leaf returns: leaf(n) reports whether it
// takes node n (handled) and, if so, n's replacement (ok false refuses the rebuild). The nodes around a
// replaced part are rebuilt over their new operands; calls are bound again over their new argument nodes (a
// call's evaluation closes over them). It returns false when leaf refuses or x holds a part that cannot be
// rebuilt (a call of a Go function, an unknown kind). Parts with nothing replaced are shared, not copied.
// MapColumns and ReplaceUDFCalls are its two leaves.
func rebuild(x Expr, leaf func(Expr) (y Expr, handled, ok bool)) (Expr, bool) {
	if y, handled, ok := leaf(x); handled {
		return y, ok
	}
	switch e := x.(type) {
	case *columnExpr, *literalExpr:
		return e, true
	case *castExpr:
		sub, ok := rebuild(e.x, leaf)
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
		if c.conds, ok = rebuildAll(e.conds, leaf); !ok {
			return nil, false
		}
		if c.results, ok = rebuildAll(e.results, leaf); !ok {
			return nil, false
		}
		if e.els != nil {
			if c.els, ok = rebuild(e.els, leaf); !ok {
				return nil, false
			}
		}
		return &c, true
	case *inExpr:
		c := *e
		var ok bool
		if c.x, ok = rebuild(e.x, leaf); !ok {
			return nil, false
		}
		if c.list, ok = rebuildAll(e.list, leaf); !ok {
			return nil, false
		}
		return &c, true
	case *callExpr:
		args, ok := rebuildAll(e.args, leaf)
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

func rebuildAll(xs []Expr, leaf func(Expr) (Expr, bool, bool)) ([]Expr, bool) {
	out := make([]Expr, len(xs))
	for i, x := range xs {
		y, ok := rebuild(x, leaf)
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
