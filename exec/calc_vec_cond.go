package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// COALESCE, IFNULL, IF and NULLIF compile into the CASE kernel (vcase), as their SQL definitions:
// COALESCE(a, b, c) is CASE WHEN a IS NOT NULL THEN a WHEN b IS NOT NULL THEN b ELSE c END, IFNULL(a, b) is
// COALESCE(a, b), IF(c, a, b) is CASE WHEN c THEN a ELSE b END and NULLIF(a, b) is CASE WHEN a = b THEN NULL
// ELSE a END. An argument read by a condition and as a result is evaluated once per run (vmemo). Every
// argument is evaluated over the whole batch where the row path evaluates only the branch a row takes: a
// row the kernels cannot compute in a branch the row path skips bails, and the row path gives its result.

// compileCond compiles the calls above; nil for other names or operands without kernels.
func (c *vcompiler) compileCond(x expr.Expr, name string, args []expr.Expr) vexpr {
	rt := x.Type()
	switch name {
	case "COALESCE", "IFNULL":
		if len(args) < 2 {
			return nil
		}
		var conds, results []expr.Expr
		for _, a := range args[:len(args)-1] {
			conds, results = append(conds, nil), append(results, a)
		}
		return c.caseOf(rt, conds, results, args[len(args)-1])
	case "IF":
		if len(args) != 3 {
			return nil
		}
		return c.caseOf(rt, args[:1], args[1:2], args[2])
	case "NULLIF":
		if len(args) != 2 {
			return nil
		}
		eq := c.compileCompare("=", args[0], args[1])
		if eq == nil {
			return nil
		}
		null := c.compile(expr.Literal(types.NullValue, rt))
		a := c.compile(args[0])
		if null == nil || a == nil || args[0].Type().Kind != rt.Kind || rt.Kind == types.Decimal && args[0].Type().Scale != rt.Scale {
			return nil
		}
		return &vcase{typ: rt, conds: []vexpr{eq}, results: []vexpr{null}, els: a}
	}
	return nil
}

// caseOf compiles CASE WHEN conds[i] THEN results[i] ... ELSE els END; a nil condition is "results[i] IS
// NOT NULL", its result then evaluated once.
func (c *vcompiler) caseOf(rt types.Type, conds, results []expr.Expr, els expr.Expr) vexpr {
	if out := vec.ColFor(rt); out.Kind == vec.Struct || out.Kind == vec.Values {
		return nil
	}
	same := func(t types.Type) bool {
		return t.Kind == rt.Kind && (rt.Kind != types.Decimal || t.Scale == rt.Scale)
	}
	k := &vcase{typ: rt}
	for i := range results {
		kr := c.compile(results[i])
		if kr == nil || !same(results[i].Type()) {
			return nil
		}
		var kc vexpr
		if conds[i] == nil {
			kr = c.once(kr)
			kc = &visnull{x: kr, not: true}
		} else if kc = c.compile(conds[i]); kc == nil {
			return nil
		}
		k.conds, k.results = append(k.conds, kc), append(k.results, kr)
	}
	if k.els = c.compile(els); k.els == nil || !same(els.Type()) {
		return nil
	}
	return k
}

// once wraps a kernel read twice in one run so that it is evaluated once (columns and literals cost
// nothing: they are not wrapped).
func (c *vcompiler) once(k vexpr) vexpr {
	switch k.(type) {
	case *vcol, *vlit, *vmemo:
		return k
	}
	if c.run == nil {
		return k // compiled outside a Calc: evaluated twice, with the same result
	}
	return &vmemo{k: k, run: c.run}
}
