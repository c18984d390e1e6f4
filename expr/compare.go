package expr

import (
	"strings"

	"github.com/sluicesql/sluice/types"
)

type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

func (op cmpOp) test(c int) bool {
	switch op {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	case opGt:
		return c > 0
	}
	return c >= 0
}

func (op cmpOp) float(x, y float64) bool {
	switch op {
	case opEq:
		return x == y
	case opNe:
		return x != y
	case opLt:
		return x < y
	case opLe:
		return x <= y
	case opGt:
		return x > y
	}
	return x >= y
}

// comparable reports whether two types can be compared, and the type values are compared in. Numerics
// compare across INT/DECIMAL/DOUBLE without a cast; CHAR and VARCHAR compare as strings.
func comparableTypes(env *Env, a, b Expr) (Expr, Expr, types.Type, bool) {
	ta, tb := a.Type(), b.Type()
	switch {
	case ta.Kind == types.Null && tb.Kind == types.Null:
		return a, b, ta, true
	case ta.Kind == types.Null:
		return Literal(types.NullValue, tb), b, tb, true
	case tb.Kind == types.Null:
		return a, Literal(types.NullValue, ta), ta, true
	case ta.IsNumeric() && tb.IsNumeric():
		return a, b, types.Type{}, true
	case ta.IsString() && tb.IsString(), ta.IsBinary() && tb.IsBinary():
		return a, b, ta, true
	case ta.Kind != tb.Kind && !(isDateTimeT(ta) && isDateTimeT(tb)):
		return nil, nil, types.Type{}, false
	}
	ct, ok := commonType(ta, tb)
	if !ok {
		return nil, nil, types.Type{}, false
	}
	return coerce(env, a, ct), coerce(env, b, ct), ct, true
}

// comparator returns a three-way comparison for values of the given operand types (after
// comparableTypes). It does not allocate for scalar types.
func comparator(ta, tb types.Type) func(x, y types.Value) int {
	switch {
	case ta.IsIntegral() && tb.IsIntegral():
		return func(x, y types.Value) int { return cmp64(x.I, y.I) }
	case ta.IsNumeric() && tb.IsNumeric():
		// float operands are handled by the caller; here exact numerics (at least one DECIMAL).
		da, db := toDecimalFn(ta), toDecimalFn(tb)
		return func(x, y types.Value) int { return types.DecimalCmp(da(x), db(y)) }
	case ta.IsString() || ta.IsBinary():
		return func(x, y types.Value) int { return strings.Compare(x.S, y.S) }
	}
	switch ta.Kind {
	case types.Boolean, types.Date, types.Time, types.IntervalYearMonth, types.IntervalDayTime:
		return func(x, y types.Value) int { return cmp64(x.I, y.I) }
	case types.Timestamp, types.TimestampLTZ:
		return func(x, y types.Value) int {
			if c := cmp64(x.I, y.I); c != 0 {
				return c
			}
			return cmp64(int64(x.N), int64(y.N))
		}
	}
	return func(x, y types.Value) int { return types.Compare(x, y, ta) }
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func isApprox(t types.Type) bool { return t.Kind == types.Float || t.Kind == types.Double }

var compareOps = map[string]cmpOp{"=": opEq, "<>": opNe, "<": opLt, "<=": opLe, ">": opGt, ">=": opGe}

func bindCompare(c *callSite) (Expr, error) {
	op := compareOps[c.name]
	a, b, ct, okc := comparableTypes(c.env, c.args[0], c.args[1])
	if !okc || (op != opEq && op != opNe && !orderable(ct)) {
		return nil, c.bad()
	}
	c.args = []Expr{a, b}
	rt := types.BooleanType().WithNullable(anyNullable(a, b))
	ta, tb := a.Type(), b.Type()
	if ta.Kind == types.Null {
		return c.make(rt, func([]types.Value) (types.Value, error) { return types.NullValue, nil }), nil
	}
	if isApprox(ta) || isApprox(tb) {
		fa, fb := toFloatFn(ta), toFloatFn(tb)
		return c.make(rt, func(row []types.Value) (types.Value, error) {
			x, err := a.Eval(row)
			if err != nil || x.T == types.TagNull {
				return types.NullValue, err
			}
			y, err := b.Eval(row)
			if err != nil || y.T == types.TagNull {
				return types.NullValue, err
			}
			return types.BoolValue(op.float(fa(x), fb(y))), nil
		}), nil
	}
	if ta.IsIntegral() && tb.IsIntegral() {
		return c.make(rt, func(row []types.Value) (types.Value, error) {
			x, err := a.Eval(row)
			if err != nil || x.T == types.TagNull {
				return types.NullValue, err
			}
			y, err := b.Eval(row)
			if err != nil || y.T == types.TagNull {
				return types.NullValue, err
			}
			return types.BoolValue(op.test(cmp64(x.I, y.I))), nil
		}), nil
	}
	cmp := comparator(ta, tb)
	return c.make(rt, func(row []types.Value) (types.Value, error) {
		x, err := a.Eval(row)
		if err != nil || x.T == types.TagNull {
			return types.NullValue, err
		}
		y, err := b.Eval(row)
		if err != nil || y.T == types.TagNull {
			return types.NullValue, err
		}
		return types.BoolValue(op.test(cmp(x, y))), nil
	}), nil
}

// orderable reports whether < and > apply (not to MAP or MULTISET).
func orderable(t types.Type) bool {
	return t.Kind != types.Map && t.Kind != types.Multiset
}

// equalFn returns NULL-free equality for values of the two operand types (after comparableTypes).
func equalFn(ta, tb types.Type) func(x, y types.Value) bool {
	if isApprox(ta) || isApprox(tb) {
		fa, fb := toFloatFn(ta), toFloatFn(tb)
		return func(x, y types.Value) bool { return fa(x) == fb(y) }
	}
	cmp := comparator(ta, tb)
	return func(x, y types.Value) bool { return cmp(x, y) == 0 }
}

// bindDistinct is IS [NOT] DISTINCT FROM: NULL-safe comparison, never NULL.
func bindDistinct(not bool) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		a, b, _, okc := comparableTypes(c.env, c.args[0], c.args[1])
		if !okc {
			return nil, c.bad()
		}
		c.args = []Expr{a, b}
		eq := equalFn(a.Type(), b.Type())
		return c.make(types.BooleanType().WithNullable(false), func(row []types.Value) (types.Value, error) {
			x, err := a.Eval(row)
			if err != nil {
				return types.NullValue, err
			}
			y, err := b.Eval(row)
			if err != nil {
				return types.NullValue, err
			}
			var same bool
			switch {
			case x.T == types.TagNull || y.T == types.TagNull:
				same = x.T == y.T
			default:
				same = eq(x, y)
			}
			return types.BoolValue(same == not), nil
		}), nil
	}
}
