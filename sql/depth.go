package sql

// maxExprDepth bounds the depth of an expression tree. A left-deep chain such as 1 + 1 + ... + 1 is parsed
// by a loop, not by recursion, so the nesting limit (maxDepth) does not see it; but everything after the
// parser (binding, printing, evaluation) walks the tree recursively, and 300,000 terms would exhaust the
// Go stack. The limit leaves generated SQL room (an OR of thousands of conditions) and costs well under a
// second to plan at its maximum.
const maxExprDepth = 10000

// checkDepth fails when e is deeper than maxExprDepth. It walks the tree without recursion (subqueries are
// leaves: their own expressions are checked when parsed).
func (p *parser) checkDepth(e Expr) {
	if p.err != nil {
		return
	}
	type item struct {
		e Expr
		d int
	}
	stack := []item{{e, 1}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.d > maxExprDepth {
			p.fail(e.Position(), "Expression is too deeply nested: more than %d levels of operators (each operator of a chain such as a + b + c is one level). Split it (into several columns, a subquery, or IN (...) instead of a long OR chain)", maxExprDepth)
			return
		}
		forEachChild(it.e, func(c Expr) {
			if c != nil {
				stack = append(stack, item{c, it.d + 1})
			}
		})
	}
}

// forEachChild calls fn with the direct sub-expressions of e (not those inside subqueries).
func forEachChild(e Expr, fn func(Expr)) {
	switch e := e.(type) {
	case *Unary:
		fn(e.X)
	case *Binary:
		fn(e.L)
		fn(e.R)
	case *FuncCall:
		for _, a := range e.Args {
			fn(a)
		}
		fn(e.Filter)
		if e.Over != nil {
			for _, a := range e.Over.PartitionBy {
				fn(a)
			}
			for _, o := range e.Over.OrderBy {
				fn(o.Expr)
			}
			fn(e.Over.FrameStart)
			fn(e.Over.FrameEnd)
		}
	case *Case:
		fn(e.Operand)
		for _, w := range e.Whens {
			fn(w.Cond)
			fn(w.Result)
		}
		fn(e.Else)
	case *Cast:
		fn(e.X)
	case *Between:
		fn(e.X)
		fn(e.Lo)
		fn(e.Hi)
	case *In:
		fn(e.X)
		for _, a := range e.List {
			fn(a)
		}
	case *Like:
		fn(e.X)
		fn(e.Pattern)
		fn(e.Escape)
	case *IsTest:
		fn(e.X)
	case *Constructor:
		for _, a := range e.Elems {
			fn(a)
		}
	case *Index:
		fn(e.X)
		fn(e.Index)
	case *FieldAccess:
		fn(e.X)
	case *Paren:
		fn(e.X)
	case *NamedArg:
		fn(e.Value)
	case *TableArg:
		for _, a := range e.PartitionBy {
			fn(a)
		}
	case *GroupingSets:
		for _, s := range e.Sets {
			for _, a := range s {
				fn(a)
			}
		}
	}
}
