package planner

import (
	"github.com/sluicesql/sluice/sql"
)

func qualified2(qual, name string) []string {
	if qual == "" {
		return []string{name}
	}
	return []string{qual, name}
}

func unparen(e sql.Expr) sql.Expr {
	for {
		p, ok := e.(*sql.Paren)
		if !ok {
			return e
		}
		e = p.X
	}
}

func splitAnd(e sql.Expr, out *[]sql.Expr) {
	if b, ok := unparen(e).(*sql.Binary); ok && b.Op == "AND" {
		splitAnd(b.L, out)
		splitAnd(b.R, out)
		return
	}
	*out = append(*out, e)
}

// rewriteExpr rebuilds e bottom-up, replacing every node for which fn returns (replacement, true).
func rewriteExpr(e sql.Expr, fn func(sql.Expr) (sql.Expr, bool)) sql.Expr {
	if e == nil {
		return nil
	}
	if r, ok := fn(e); ok {
		return r
	}
	switch e := e.(type) {
	case *sql.FuncCall:
		c := *e
		c.Args = make([]sql.Expr, len(e.Args))
		for i, a := range e.Args {
			c.Args[i] = rewriteExpr(a, fn)
		}
		c.Filter = rewriteExpr(e.Filter, fn)
		return &c
	case *sql.Binary:
		c := *e
		c.L, c.R = rewriteExpr(e.L, fn), rewriteExpr(e.R, fn)
		return &c
	case *sql.Unary:
		c := *e
		c.X = rewriteExpr(e.X, fn)
		return &c
	case *sql.Paren:
		c := *e
		c.X = rewriteExpr(e.X, fn)
		return &c
	case *sql.Cast:
		c := *e
		c.X = rewriteExpr(e.X, fn)
		return &c
	case *sql.IsTest:
		c := *e
		c.X = rewriteExpr(e.X, fn)
		return &c
	case *sql.Case:
		c := *e
		c.Operand = rewriteExpr(e.Operand, fn)
		c.Whens = nil
		for _, w := range e.Whens {
			c.Whens = append(c.Whens, &sql.When{Cond: rewriteExpr(w.Cond, fn), Result: rewriteExpr(w.Result, fn)})
		}
		c.Else = rewriteExpr(e.Else, fn)
		return &c
	}
	return e
}
