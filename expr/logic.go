package expr

import (
	"math"

	"github.com/sluicesql/sluice/types"
)

var falseValue = types.BoolValue(false)

// bindAndOr is three-valued AND/OR: FALSE AND NULL is FALSE, TRUE OR NULL is TRUE, otherwise NULL wins.
// Evaluation stops at the first deciding operand.
func bindAndOr(isAnd bool) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		for _, a := range c.args {
			if !isBoolT(a.Type()) {
				return nil, c.bad()
			}
		}
		args := c.args
		var decide int64 // the operand value that decides the result
		if !isAnd {
			decide = 1
		}
		rt := types.BooleanType().WithNullable(anyNullable(args...))
		if len(args) == 2 {
			a, b := args[0], args[1]
			return c.make(rt, func(row []types.Value) (types.Value, error) {
				x, err := a.Eval(row)
				if err != nil {
					return types.NullValue, err
				}
				if x.T != types.TagNull && x.I == decide {
					return x, nil
				}
				y, err := b.Eval(row)
				if err != nil {
					return types.NullValue, err
				}
				if y.T != types.TagNull && y.I == decide {
					return y, nil
				}
				if x.T == types.TagNull || y.T == types.TagNull {
					return types.NullValue, nil
				}
				return y, nil
			}), nil
		}
		return c.make(rt, func(row []types.Value) (types.Value, error) {
			null := false
			for _, a := range args {
				x, err := a.Eval(row)
				if err != nil {
					return types.NullValue, err
				}
				if x.T == types.TagNull {
					null = true
				} else if x.I == decide {
					return x, nil
				}
			}
			if null {
				return types.NullValue, nil
			}
			return types.BoolValue(decide == 0), nil
		}), nil
	}
}

func bindNot(c *callSite) (Expr, error) {
	x := c.args[0]
	if !isBoolT(x.Type()) {
		return nil, c.bad()
	}
	return c.make(types.BooleanType().WithNullable(x.Type().Nullable()), func(row []types.Value) (types.Value, error) {
		v, err := x.Eval(row)
		if err != nil || v.T == types.TagNull {
			return types.NullValue, err
		}
		return types.BoolValue(v.I == 0), nil
	}), nil
}

// bindIs implements IS [NOT] NULL / TRUE / FALSE / UNKNOWN; the result is never NULL.
func bindIs(what string, not bool) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		x := c.args[0]
		var test func(v types.Value) bool
		switch what {
		case "NULL":
			test = func(v types.Value) bool { return v.T == types.TagNull }
		case "TRUE":
			test = func(v types.Value) bool { return v.T == types.TagBool && v.I != 0 }
		case "FALSE":
			test = func(v types.Value) bool { return v.T == types.TagBool && v.I == 0 }
		}
		if what != "NULL" && !isBoolT(x.Type()) {
			return nil, c.bad()
		}
		return c.make(types.BooleanType().WithNullable(false), func(row []types.Value) (types.Value, error) {
			v, err := x.Eval(row)
			if err != nil {
				return types.NullValue, err
			}
			return types.BoolValue(test(v) != not), nil
		}), nil
	}
}

// commonArgs coerces the call's arguments from index from on to their common type.
func (c *callSite) commonArgs(from int) (types.Type, error) {
	ct, okc := commonType(exprTypes(c.args[from:])...)
	if !okc {
		return types.Type{}, c.bad()
	}
	for i := from; i < len(c.args); i++ {
		c.args[i] = coerce(c.env, c.args[i], ct)
	}
	return ct, nil
}

// bindCoalesce returns the first non-NULL argument; NOT NULL when any argument is NOT NULL.
func bindCoalesce(c *callSite) (Expr, error) {
	ct, okc := commonType(exprTypes(c.args)...)
	if !okc {
		return nil, errorf("Illegal mixing of types in CASE or COALESCE statement")
	}
	nullable := true
	for i, a := range c.args {
		nullable = nullable && a.Type().Nullable()
		c.args[i] = coerce(c.env, a, ct)
	}
	args := c.args
	return c.make(ct.WithNullable(nullable), func(row []types.Value) (types.Value, error) {
		for _, a := range args {
			v, err := a.Eval(row)
			if err != nil || v.T != types.TagNull {
				return v, err
			}
		}
		return types.NullValue, nil
	}), nil
}

// bindIf is IF(cond, a, b): a when cond is TRUE, b when FALSE or NULL.
func bindIf(c *callSite) (Expr, error) {
	if !isBoolT(c.t(0)) {
		return nil, c.bad()
	}
	ct, err := c.commonArgs(1)
	if err != nil {
		return nil, err
	}
	cond, a, b := c.args[0], c.args[1], c.args[2]
	return c.make(ct.WithNullable(anyNullable(a, b)), func(row []types.Value) (types.Value, error) {
		v, err := cond.Eval(row)
		if err != nil {
			return types.NullValue, err
		}
		if v.T == types.TagBool && v.I != 0 {
			return a.Eval(row)
		}
		return b.Eval(row)
	}), nil
}

func bindIfNull(c *callSite) (Expr, error) {
	ct, err := c.commonArgs(0)
	if err != nil {
		return nil, err
	}
	a, b := c.args[0], c.args[1]
	return c.make(ct.WithNullable(a.Type().Nullable() && b.Type().Nullable()), func(row []types.Value) (types.Value, error) {
		v, err := a.Eval(row)
		if err != nil || v.T != types.TagNull {
			return v, err
		}
		return b.Eval(row)
	}), nil
}

// bindNullIf is NULLIF(a, b): NULL when a = b, else a.
func bindNullIf(c *callSite) (Expr, error) {
	a, b, _, okc := comparableTypes(c.env, c.args[0], c.args[1])
	if !okc {
		return nil, c.bad()
	}
	c.args = []Expr{a, b}
	eq := equalFn(a.Type(), b.Type())
	return c.make(a.Type().WithNullable(true), func(row []types.Value) (types.Value, error) {
		x, err := a.Eval(row)
		if err != nil || x.T == types.TagNull {
			return types.NullValue, err
		}
		y, err := b.Eval(row)
		if err != nil {
			return types.NullValue, err
		}
		if y.T != types.TagNull && eq(x, y) {
			return types.NullValue, nil
		}
		return x, nil
	}), nil
}

// bindGreatest is GREATEST/LEAST: NULL when any argument is NULL.
func bindGreatest(greatest bool) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		ct, err := c.commonArgs(0)
		if err != nil {
			return nil, err
		}
		if ct.Kind == types.Map || ct.Kind == types.Multiset {
			return nil, c.bad()
		}
		var cmp func(x, y types.Value) int
		if isApprox(ct) {
			cmp = func(x, y types.Value) int {
				a, b := x.Float(), y.Float()
				switch {
				case a < b:
					return -1
				case a > b:
					return 1
				case math.IsNaN(a) && !math.IsNaN(b):
					return 1
				}
				return 0
			}
		} else {
			cmp = comparator(ct, ct)
		}
		args := c.args
		return c.strict(ct, func(row []types.Value) (types.Value, error) {
			var best types.Value
			for i, a := range args {
				v, err := a.Eval(row)
				if err != nil || v.T == types.TagNull {
					return types.NullValue, err
				}
				if i == 0 {
					best = v
					continue
				}
				r := cmp(v, best)
				if greatest && r > 0 || !greatest && r < 0 {
					best = v
				}
			}
			return best, nil
		}), nil
	}
}

// caseExpr is a searched CASE: the first TRUE condition's result, else the ELSE result (NULL without one).
type caseExpr struct {
	conds, results []Expr
	els            Expr // nil: NULL
	typ            types.Type
}

// CaseWhen builds a searched CASE. Conditions must be BOOLEAN; the result type is the common type of the
// results and the ELSE (NULL when there is none); results are evaluated only when chosen.
func CaseWhen(conds, results []Expr, els Expr) (Expr, error) {
	if len(conds) != len(results) || len(conds) == 0 {
		return nil, errorf("CASE needs at least one WHEN ... THEN")
	}
	for _, c := range conds {
		if !isBoolT(c.Type()) {
			return nil, errorf("Expected a boolean type: the condition of CASE WHEN %s is of type %s", c, sqlTypeName(c.Type()))
		}
	}
	ts := exprTypes(results)
	if els != nil {
		ts = append(ts, els.Type())
	} else {
		ts = append(ts, types.NullType())
	}
	ct, okc := commonType(ts...)
	if !okc {
		return nil, errorf("Illegal mixing of types in CASE or COALESCE statement")
	}
	if els == nil {
		ct = ct.WithNullable(true)
	}
	env := NewEnv(nil)
	out := &caseExpr{conds: append([]Expr(nil), conds...), results: coerceAll(env, results, ct), typ: ct}
	if els != nil {
		out.els = coerce(env, els, ct)
	}
	return out, nil
}

func (e *caseExpr) Type() types.Type { return e.typ }

func (e *caseExpr) Eval(row []types.Value) (types.Value, error) {
	for i, c := range e.conds {
		v, err := c.Eval(row)
		if err != nil {
			return types.NullValue, err
		}
		if v.T == types.TagBool && v.I != 0 {
			return e.results[i].Eval(row)
		}
	}
	if e.els == nil {
		return types.NullValue, nil
	}
	return e.els.Eval(row)
}

func (e *caseExpr) String() string {
	var args []Expr
	for i := range e.conds {
		args = append(args, e.conds[i], e.results[i])
	}
	if e.els != nil {
		args = append(args, e.els)
	} else {
		args = append(args, Literal(types.NullValue, e.typ))
	}
	return "CASE(" + joinExprs(args) + ")"
}

func (e *caseExpr) isConstant() bool {
	for i := range e.conds {
		if !IsConstant(e.conds[i]) || !IsConstant(e.results[i]) {
			return false
		}
	}
	return e.els == nil || IsConstant(e.els)
}

// inExpr is x [NOT] IN (list) with SQL three-valued logic: TRUE when x equals an element, otherwise NULL
// when x or any element is NULL, else FALSE (NOT IN negates, NULL staying NULL).
type inExpr struct {
	x    Expr
	list []Expr
	not  bool
	typ  types.Type
	eq   func(x, y types.Value) bool
	// For an all-constant list: a set of the non-NULL elements and whether a NULL was listed.
	ints     map[int64]struct{} // integral, boolean, date, time, interval types
	strs     map[string]struct{}
	keyed    bool // strs holds types.AppendKey encodings
	keyType  types.Type
	listNull bool
}

// In builds x IN (list) (NOT IN when not). x and the elements are brought to their common type; a list
// of constants is evaluated once into a hash set.
func In(x Expr, list []Expr, not bool) (Expr, error) {
	if len(list) == 0 {
		return nil, errorf("IN needs at least one value")
	}
	ct, okc := commonType(append([]types.Type{x.Type()}, exprTypes(list)...)...)
	if !okc {
		return nil, errorf("Values passed to IN operator must have compatible types")
	}
	env := NewEnv(nil)
	e := &inExpr{not: not}
	if ct.IsNumeric() {
		// Numerics compare by value without casts (INT IN (1.5, 2)).
		e.x, e.list = x, list
		for _, y := range list {
			if !isNumT(y.Type()) {
				return nil, errorf("Values passed to IN operator must have compatible types")
			}
		}
	} else {
		e.x, e.list = coerce(env, x, ct), coerceAll(env, list, ct)
	}
	nullable := x.Type().Nullable()
	for _, y := range e.list {
		nullable = nullable || y.Type().Nullable()
	}
	e.typ = types.BooleanType().WithNullable(nullable)
	if ct.Kind == types.Null {
		e.eq = func(types.Value, types.Value) bool { return false }
		return e, nil
	}
	xt := e.x.Type()
	if xt.Kind == types.Null {
		xt = ct
	}
	// Per-element equality works on the common type; numerics compare in DOUBLE or DECIMAL as needed.
	switch {
	case ct.IsNumeric():
		if isApprox(ct) {
			e.eq = func(a, b types.Value) bool { return numFloat(a) == numFloat(b) }
		} else {
			e.eq = func(a, b types.Value) bool { return types.DecimalCmp(numDecimal(a), numDecimal(b)) == 0 }
		}
	default:
		e.eq = equalFn(ct, ct)
	}
	allConst := true
	for _, y := range e.list {
		if !IsConstant(y) {
			allConst = false
			break
		}
	}
	if !allConst {
		return e, nil
	}
	// Constant list: build a set keyed on the value in the common type.
	vals := make([]types.Value, 0, len(e.list))
	for _, y := range e.list {
		v, err := y.Eval(nil)
		if err != nil {
			return e, nil // leave the error to run time
		}
		if v.IsNull() {
			e.listNull = true
			continue
		}
		vals = append(vals, v)
	}
	switch {
	case ct.IsIntegral() && xt.IsIntegral() && allIntTag(vals), ct.Kind == types.Boolean, ct.Kind == types.Date,
		ct.Kind == types.Time, ct.Kind == types.IntervalDayTime, ct.Kind == types.IntervalYearMonth:
		e.ints = make(map[int64]struct{}, len(vals))
		for _, v := range vals {
			e.ints[v.I] = struct{}{}
		}
	case ct.IsString() || ct.IsBinary():
		e.strs = make(map[string]struct{}, len(vals))
		for _, v := range vals {
			e.strs[v.S] = struct{}{}
		}
	case ct.IsNumeric():
		// numeric with DECIMAL or DOUBLE: key on the value converted to the common type.
		e.keyed, e.keyType = true, ct.WithNullable(true)
		e.strs = make(map[string]struct{}, len(vals))
		for _, v := range vals {
			e.strs[string(types.AppendKey(nil, numAs(v, ct), e.keyType))] = struct{}{}
		}
	default:
		e.keyed, e.keyType = true, ct.WithNullable(true)
		e.strs = make(map[string]struct{}, len(vals))
		for _, v := range vals {
			e.strs[string(types.AppendKey(nil, v, e.keyType))] = struct{}{}
		}
	}
	return e, nil
}

func allIntTag(vs []types.Value) bool {
	for _, v := range vs {
		if v.T != types.TagInt {
			return false
		}
	}
	return true
}

func numFloat(v types.Value) float64 {
	switch v.T {
	case types.TagInt:
		return float64(v.I)
	case types.TagDecimal:
		return types.DecimalToFloat(v)
	}
	return v.Float()
}

func numDecimal(v types.Value) types.Value {
	if v.T == types.TagInt {
		return types.DecimalValue(v.I, 0)
	}
	return v
}

// numAs converts a numeric value to the representation of numeric type t (DOUBLE or DECIMAL) for keying.
func numAs(v types.Value, t types.Type) types.Value {
	if isApprox(t) {
		f := numFloat(v)
		if f == 0 {
			f = 0 // -0.0 equals 0.0
		}
		return types.FloatValue(f)
	}
	return numDecimal(v)
}

func (e *inExpr) Type() types.Type { return e.typ }

func (e *inExpr) Eval(row []types.Value) (types.Value, error) {
	x, err := e.x.Eval(row)
	if err != nil || x.T == types.TagNull {
		return types.NullValue, err
	}
	found := false
	switch {
	case e.ints != nil:
		_, found = e.ints[x.I]
		if !found && e.listNull {
			return types.NullValue, nil
		}
		return types.BoolValue(found != e.not), nil
	case e.strs != nil:
		if e.keyed {
			var buf [64]byte
			k := x
			if e.keyType.IsNumeric() {
				k = numAs(x, e.keyType)
			}
			_, found = e.strs[string(types.AppendKey(buf[:0], k, e.keyType))]
		} else {
			_, found = e.strs[x.S]
		}
		if !found && e.listNull {
			return types.NullValue, nil
		}
		return types.BoolValue(found != e.not), nil
	}
	null := false
	for _, y := range e.list {
		v, err := y.Eval(row)
		if err != nil {
			return types.NullValue, err
		}
		if v.T == types.TagNull {
			null = true
			continue
		}
		if e.eq(x, v) {
			return types.BoolValue(!e.not), nil
		}
	}
	if null {
		return types.NullValue, nil
	}
	return types.BoolValue(e.not), nil
}

func (e *inExpr) String() string {
	name := "IN"
	if e.not {
		name = "NOT IN"
	}
	return name + "(" + joinExprs(append([]Expr{e.x}, e.list...)) + ")"
}

func (e *inExpr) isConstant() bool {
	if !IsConstant(e.x) {
		return false
	}
	for _, y := range e.list {
		if !IsConstant(y) {
			return false
		}
	}
	return true
}
