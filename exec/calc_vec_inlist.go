package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// IN over a list that is not constant, and EXTRACT of an interval.

// compileInList compiles x [NOT] IN (list) over a list that is not constant (expr.InListParts) as the
// three-valued OR of x = element, each equality compiled as the comparison kernels compile = (numerics
// compared by value as the row path's IN: in DOUBLE when a float is involved, exactly otherwise); NOT IN
// negates it. As the row path, x is evaluated once, the rows where it is NULL are NULL without evaluating
// any element, and element k is evaluated only on the rows no earlier element equals x (the lazy OR,
// calc_vec_logic.go): an element that would fail on rows the row path never evaluates it on does not make
// the batch bail.
func (c *vcompiler) compileInList(x expr.Expr, list []expr.Expr, not bool) vexpr {
	return c.compileInListOf(x, c.compile(x), list, not)
}

// compileInListOf is compileInList with x's kernel kx (nil: none), compiled by the caller (a ROW operand's,
// calc_vec_row.go).
func (c *vcompiler) compileInListOf(x expr.Expr, kx vexpr, list []expr.Expr, not bool) vexpr {
	if kx == nil {
		return nil
	}
	kx = c.once(kx)
	outerX, outerK := c.pinX, c.pinK
	c.pinX, c.pinK = x, kx
	defer func() { c.pinX, c.pinK = outerX, outerK }()
	k := &vlogic{nullGuard: kx}
	for _, y := range list {
		eq := c.compileCompare("=", x, y)
		if eq == nil {
			return nil
		}
		k.args = append(k.args, &vbailOnErr{x: eq})
	}
	if not {
		return &vnot{x: k}
	}
	return k
}

// vbailOnErr turns any error of x into a bail: the row path then decides whether the row fails (it may
// never evaluate the part that failed).
type vbailOnErr struct{ x vexpr }

func (k *vbailOnErr) eval(b *vec.Batch) (*vec.Col, error) {
	c, err := k.x.eval(b)
	if err != nil {
		return nil, errBail
	}
	return c, nil
}

// compileExtractInterval compiles EXTRACT(unit FROM interval) (expr.ExtractIntervalParts).
func (c *vcompiler) compileExtractInterval(div, mod int64, x expr.Expr) vexpr {
	k := &vextractInterval{div: div, mod: mod}
	if k.x = c.compile(x); k.x == nil {
		return nil
	}
	return k
}

// vextractInterval is EXTRACT of an interval's count: count / div, then % mod unless mod is 0.
type vextractInterval struct {
	x        vexpr
	div, mod int64
	out      vec.Col
}

func (k *vextractInterval) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := intCol(k.x, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagInt, I64: growI64(k.out.I64, n), Nulls: x.Nulls}
	out := k.out.I64[:n]
	for i, v := range x.I64[:n] {
		r := v / k.div
		if k.mod != 0 {
			r %= k.mod
		}
		out[i] = r
	}
	return &k.out, nil
}
