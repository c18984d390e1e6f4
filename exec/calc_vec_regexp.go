package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// REGEXP_REPLACE(s, pattern, replacement) with a constant, valid, non-NULL pattern: the row path's regexp
// ReplaceAllLiteralString (the replacement is literal: no $1 expansion), through the hand matcher when the
// pattern has one of its shapes (expr.Regexp.AppendReplaceAllLiteral), else regexp. NULL when an argument
// is NULL. A pattern that is not constant has no kernel (the row path compiles it per value).

func (c *vcompiler) compileRegexpReplace(args []expr.Expr) vexpr {
	if len(args) != 3 || !args[0].Type().IsString() || !args[2].Type().IsString() {
		return nil
	}
	pv, ok := expr.LiteralOf(args[1])
	if !ok || pv.IsNull() {
		return nil
	}
	re, err := expr.CompileRegexpFast(pv.S)
	if err != nil {
		return nil
	}
	k := &vregexpReplace{re: re}
	if k.s, k.repl = c.compile(args[0]), c.compile(args[2]); k.s == nil || k.repl == nil {
		return nil
	}
	return k
}

// vregexpReplace is REGEXP_REPLACE with a constant pattern.
type vregexpReplace struct {
	s, repl vexpr
	re      *expr.Regexp
	out     vec.Col
	nb      vec.Bitmap
}

func (k *vregexpReplace) eval(b *vec.Batch) (*vec.Col, error) {
	s, err := strCol(k.s, b)
	if err != nil {
		return nil, err
	}
	r, err := strCol(k.repl, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	bytesOut(&k.out, types.TagString, n)
	out := &k.out
	nulls := orNulls(&k.nb, n, s.Nulls, r.Nulls)
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if !cur.skip(i) && !nulls.Get(i) {
			out.Data = k.re.AppendReplaceAllLiteral(out.Data, s.Str(i), r.Str(i))
		}
		endRow(out)
	}
	out.Nulls = nulls
	return out, nil
}
