package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Comparisons of ROW values and IN over lists of ROWs. The row path compares two ROWs with types.Compare
// (comparator's default): NULL only when a whole ROW is NULL (a ROW constructor never is); otherwise
// member by member, a NULL member equal to a NULL member and below every value, NaN equal to NaN, so
// ROW(1, NULL) = ROW(1, NULL) is TRUE and ROW(1, NULL) = ROW(1, 2) FALSE. The kernels compare Struct
// columns member by member with the same order (cmpColAt) without making row values. A ROW operand is an
// input Struct column, a field of one, a ROW constructor (its members' kernels as a Struct column), a ROW
// literal, or a CAST between ROW types that leaves every member's value as it is (the casts the binder
// inserts to bring both sides to their common type: nullability, integer widening, longer strings).

// compileRowCompare compiles a comparison of two ROW operands; nil when either has no kernel.
func (c *vcompiler) compileRowCompare(op string, a, b expr.Expr) vexpr {
	ta, tb := a.Type(), b.Type()
	if ta.Kind != types.Row || tb.Kind != types.Row || len(ta.Fields) != len(tb.Fields) {
		return nil
	}
	ka := c.compileRowOperand(a)
	if ka == nil {
		return nil
	}
	kb := c.compileRowOperand(b)
	if kb == nil {
		return nil
	}
	return &vrowCmp{op: op, a: ka, b: kb, typ: ta}
}

// compileRowOperand compiles an expression of a ROW type into a kernel giving a Struct column.
func (c *vcompiler) compileRowOperand(x expr.Expr) vexpr {
	if c.pinX != nil && x == c.pinX {
		return c.pinK
	}
	t := x.Type()
	if v, ok := expr.LiteralOf(x); ok {
		return c.compileRowLit(v, t)
	}
	if in, _, _, ok := expr.CastParts(x); ok {
		if sameRowValues(in.Type(), t) {
			return c.compileRowOperand(in)
		}
		if k := c.compileRowCtorCast(in, t); k != nil {
			return k
		}
		return c.compilePerRow(x) // field casts that change values (calc_vec_nested.go)
	}
	if name, args, ok := expr.CallParts(x); ok && name == "ROW" {
		k := &vrow{}
		for _, a := range args {
			var ka vexpr
			if a.Type().Kind == types.Row {
				ka = c.compileRowOperand(a)
			} else {
				ka = c.compile(a)
			}
			if ka == nil {
				return nil
			}
			k.fields = append(k.fields, ka)
		}
		return k
	}
	return c.compile(x) // an input column, a field of one; checked to be a Struct column when evaluated
}

// compileRowCtorCast compiles CAST(ROW(args) AS t), which the row path computes as the cast of each member
// (types.Cast of a ROW), as the ROW of the members' casts: a member whose value the cast keeps as it is
// (sameRowValues), or an integer cast to FLOAT/DOUBLE or DECIMAL (compileCast; a value that does not fit
// the DECIMAL bails). nil for other operands and casts.
func (c *vcompiler) compileRowCtorCast(in expr.Expr, t types.Type) vexpr {
	name, args, ok := expr.CallParts(in)
	if !ok || name != "ROW" || len(args) != len(t.Fields) {
		return nil
	}
	k := &vrow{}
	for i, a := range args {
		from, to := a.Type(), t.Fields[i].Type
		var ka vexpr
		switch {
		case sameRowValues(from, to) && from.Kind == types.Row:
			ka = c.compileRowOperand(a)
		case sameRowValues(from, to):
			ka = c.compile(a)
		case from.IsIntegral() && (isFloat(to) || to.Kind == types.Decimal):
			ka = c.compileCast(a, to)
		}
		if ka == nil {
			return nil
		}
		k.fields = append(k.fields, ka)
	}
	return k
}

// compileRowLit compiles a constant ROW value of type t (NULL included) as a Struct column of literals.
func (c *vcompiler) compileRowLit(v types.Value, t types.Type) vexpr {
	k := &vrow{null: v.IsNull()}
	var fs []types.Value
	if !k.null {
		if v.T != types.TagRow {
			return nil
		}
		if fs = v.Fields(); len(fs) != len(t.Fields) {
			return nil
		}
	}
	for i, f := range t.Fields {
		fv := types.NullValue
		if fs != nil {
			fv = fs[i]
		}
		var kf vexpr
		if f.Type.Kind == types.Row {
			kf = c.compileRowLit(fv, f.Type)
		} else {
			kf = c.compile(expr.Literal(fv, f.Type))
		}
		if kf == nil {
			return nil
		}
		k.fields = append(k.fields, kf)
	}
	return k
}

// sameRowValues reports whether a CAST from one type to the other leaves every value as it is and in the
// same column representation (so the operand's column can be compared in its place).
func sameRowValues(from, to types.Type) bool {
	if from.Kind == types.Row || to.Kind == types.Row {
		if from.Kind != to.Kind || len(from.Fields) != len(to.Fields) {
			return false
		}
		for i := range from.Fields {
			if !sameRowValues(from.Fields[i].Type, to.Fields[i].Type) {
				return false
			}
		}
		return true
	}
	switch {
	case from.Kind == to.Kind && from.EqualIgnoringNull(to):
		return true
	case from.IsIntegral() && to.IsIntegral():
		return intWidth(to.Kind) >= intWidth(from.Kind)
	case from.Kind == types.Float && to.Kind == types.Double:
		return true
	case from.Kind == to.Kind && (intLike(from) || isFloat(from) || from.Kind == types.Boolean):
		return true
	case from.Kind == to.Kind && from.IsTimestamp():
		return to.Precision >= from.Precision
	case from.Kind == types.Decimal && to.Kind == types.Decimal:
		return from.Scale == to.Scale && from.Precision <= to.Precision && isWideDec(from) == isWideDec(to)
	case from.IsString() && to.Kind == types.VarChar:
		return to.Length >= from.Length
	case from.IsBinary() && to.Kind == types.VarBinary:
		return to.Length >= from.Length
	}
	return false
}

// vrow is a ROW constructor or literal: the members' columns as a Struct column (every row NULL for a
// NULL literal).
type vrow struct {
	fields []vexpr
	null   bool
	out    vec.Col
	cols   []*vec.Col
	all    vec.Bitmap
}

func (k *vrow) eval(b *vec.Batch) (*vec.Col, error) {
	k.cols = k.cols[:0]
	for _, f := range k.fields {
		c, err := f.eval(b)
		if err != nil {
			return nil, err
		}
		k.cols = append(k.cols, c)
	}
	k.out = vec.Col{Kind: vec.Struct, Tag: types.TagRow, Fields: k.cols}
	if k.null {
		if len(k.all) != vec.Words(b.N) {
			k.all = vec.ResetBitmap(k.all, b.N)
			for i := range k.all {
				k.all[i] = ^uint64(0)
			}
		}
		k.out.Nulls = k.all
	}
	return &k.out, nil
}

// vrowCmp compares two ROWs as the row path's comparator: NULL where either ROW is NULL, else the
// member-by-member order of types.Compare.
type vrowCmp struct {
	op   string
	a, b vexpr
	typ  types.Type
	out  vec.Col
	nb   vec.Bitmap
}

func (k *vrowCmp) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := k.a.eval(b)
	if err != nil {
		return nil, err
	}
	y, err := k.b.eval(b)
	if err != nil {
		return nil, err
	}
	if x.Kind != vec.Struct || y.Kind != vec.Struct || len(x.Fields) != len(y.Fields) {
		return nil, errBail
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Bool, Tag: types.TagBool, B: growBool(k.out.B, n)}
	k.out.Nulls = orNulls(&k.nb, n, x.Nulls, y.Nulls)
	out, nulls := k.out.B, k.out.Nulls
	op := k.op
	selected(b, func(i int) bool {
		if nulls.Get(i) {
			return true
		}
		r := cmpColAt(x, y, i, k.typ)
		var v bool
		switch op {
		case "=":
			v = r == 0
		case "<>":
			v = r != 0
		case "<":
			v = r < 0
		case "<=":
			v = r <= 0
		case ">":
			v = r > 0
		default:
			v = r >= 0
		}
		out[i] = v
		return true
	})
	return &k.out, nil
}

// compileInRow compiles x [NOT] IN (list) of ROWs: a constant list the row path looks up by key
// (expr.InRowParts) and a list that is not constant (expr.InListParts) both as the three-valued OR of
// x = element (a NULL listed makes a row without a match NULL), NULL where x is NULL. As compileInList, x is
// evaluated once and element k only on the rows no earlier element equals x. handled is false when x is
// not such an IN.
func (c *vcompiler) compileInRow(x expr.Expr) (k vexpr, handled bool) {
	if operand, kt, vals, listNull, not, ok := expr.InRowParts(x); ok {
		kx := c.compileRowOperand(operand)
		if kx == nil {
			return nil, true
		}
		kx = c.once(kx)
		l := &vlogic{nullGuard: kx}
		for _, v := range vals {
			kv := c.compileRowLit(v, kt)
			if kv == nil {
				return nil, true
			}
			l.args = append(l.args, &vrowCmp{op: "=", a: kx, b: kv, typ: kt})
		}
		if listNull || len(l.args) == 0 {
			kn := c.compile(expr.Literal(types.NullValue, types.BooleanType()))
			if kn == nil {
				return nil, true
			}
			l.args = append(l.args, kn)
		}
		if not {
			return &vnot{x: l}, true
		}
		return l, true
	}
	operand, list, not, ok := expr.InListParts(x)
	if !ok || operand.Type().Kind != types.Row {
		return nil, false
	}
	return c.compileInListOf(operand, c.compileRowOperand(operand), list, not), true
}
