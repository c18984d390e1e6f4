package exec

import (
	"math"

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

// compileNegAbs compiles unary minus and ABS of integers, intervals (minus only), FLOAT/DOUBLE and DECIMAL,
// as the row path: integers wrap to their width, decimals are exact.
func (c *vcompiler) compileNegAbs(abs bool, x expr.Expr) vexpr {
	t := x.Type()
	k := &vnegAbs{abs: abs}
	switch {
	case t.IsIntegral() || !abs && (t.Kind == types.IntervalYearMonth || t.Kind == types.IntervalDayTime):
		k.sh = 64 - intWidth(t.Kind)
		k.tag = types.TagInt
	case isFloat(t):
		k.float = true
	case t.Kind == types.Decimal:
		k.tag = types.TagDecimal
	default:
		return nil
	}
	if k.x = c.compile(x); k.x == nil {
		return nil
	}
	return k
}

// vnegAbs is -x or ABS(x).
type vnegAbs struct {
	x     vexpr
	abs   bool
	float bool
	tag   types.Tag
	sh    uint // integers: 64 - width
	out   vec.Col
}

func (k *vnegAbs) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	n := b.N
	switch {
	case k.float:
		if x.Kind != vec.Float64 {
			return nil, errBail
		}
		k.out = vec.Col{Kind: vec.Float64, Tag: types.TagFloat, F64: growF64(k.out.F64, n), Nulls: x.Nulls}
		for i, v := range x.F64[:n] {
			if k.abs {
				k.out.F64[i] = math.Abs(v)
			} else {
				k.out.F64[i] = -v
			}
		}
	case x.Kind == vec.Dec128:
		k.out = vec.Col{Kind: vec.Dec128, Tag: types.TagDecimal, Scale: x.Scale, D128: k.out.D128[:0], Nulls: x.Nulls}
		for _, v := range x.D128[:n] {
			if !k.abs || v.Sign() < 0 {
				v = v.Neg()
			}
			k.out.D128 = append(k.out.D128, v)
		}
	case x.Kind == vec.Int64:
		k.out = vec.Col{Kind: vec.Int64, Tag: k.tag, Scale: x.Scale, I64: growI64(k.out.I64, n), Nulls: x.Nulls}
		for i, v := range x.I64[:n] {
			if !k.abs || v < 0 {
				v = (-v) << k.sh >> k.sh
			}
			k.out.I64[i] = v
		}
	default:
		return nil, errBail
	}
	return &k.out, nil
}
