package expr

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/sluicesql/sluice/types"
)

// castExpr converts its operand to another type: an explicit CAST/TRY_CAST, or an implicit cast inserted
// by Call (printed as its operand, since the conversion is implied by the types).
type castExpr struct {
	x        Expr
	to       types.Type
	try      bool
	implicit bool
	// overflowNull: a number too large for the DECIMAL target is NULL (Flink's castToDecimal), not an error.
	overflowNull bool
	conv         func(types.Value) (types.Value, error)
	// loc is the session zone conv converts TIMESTAMP_LTZ values with (SessionZone).
	loc *time.Location
}

func (c *castExpr) Type() types.Type { return c.to }

func (c *castExpr) Eval(row []types.Value) (types.Value, error) {
	v, err := c.x.Eval(row)
	if err != nil || v.T == types.TagNull {
		return types.NullValue, err
	}
	r, err := c.conv(v)
	if err != nil {
		if c.try || c.overflowNull && errors.Is(err, types.ErrDecimalOverflow) {
			return types.NullValue, nil // Flink's castToDecimal: a number that does not fit is NULL
		}
		return types.NullValue, c.fail(v, err)
	}
	return r, nil
}

// fail reports a value that cannot be converted. types.Cast errors already name the value and both
// types ("cannot cast 'abc' of type STRING to INT", "value 300 is out of range for TINYINT").
func (c *castExpr) fail(_ types.Value, err error) error { return err }

func (c *castExpr) String() string {
	if c.implicit {
		return c.x.String()
	}
	kw := "CAST"
	if c.try {
		kw = "TRY_CAST"
	}
	return kw + "(" + c.x.String() + " AS " + c.to.WithNullable(true).String() + ")"
}

func (c *castExpr) isConstant() bool { return IsConstant(c.x) }

// Cast returns the explicit CAST (or TRY_CAST when try) of x to type to. The result is nullable when x is,
// always for TRY_CAST, and for a nullable DECIMAL target x's values may not fit. A conversion Flink does not
// support is a bind-time error; a value that cannot be converted is a run-time error naming the value and the
// target type (NULL for TRY_CAST), except a number too large for a nullable DECIMAL(p, s) target, which is
// NULL as in Flink.
func Cast(env *Env, x Expr, to types.Type, try bool) (Expr, error) {
	if env == nil {
		env = NewEnv(nil)
	}
	from := x.Type()
	// A nullable DECIMAL target takes NULL for a number that does not fit; a NOT NULL one (a NOT NULL sink
	// column fed by a NOT NULL expression) keeps the error, as Flink's NOT NULL enforcer would raise one.
	overflowNull := to.Kind == types.Decimal && to.Nullable()
	rt := to.WithNullable(from.Nullable() || try || overflowNull && decimalMayOverflow(from, to))
	if from.Kind == types.Null {
		return &castExpr{x: x, to: to.WithNullable(true), try: try, conv: func(v types.Value) (types.Value, error) { return v, nil }}, nil
	}
	if !types.CastSupported(from, to) {
		return nil, errorf("Cast function cannot convert value of type %s to type %s", sqlTypeName(from), sqlTypeName(to))
	}
	if from.Equal(rt) {
		return x, nil // a cast to the same type is a no-op
	}
	return &castExpr{x: x, to: rt, try: try, overflowNull: overflowNull, conv: converter(env, from, rt), loc: env.Location}, nil
}

// decimalMayOverflow reports whether casting a value of type from to DECIMAL type to can overflow (and so
// give NULL): unless every value of from fits to's integer digits after rounding to to's scale.
func decimalMayOverflow(from, to types.Type) bool {
	if to.Kind != types.Decimal {
		return false
	}
	intDigits := to.Precision - to.Scale
	switch {
	case from.IsIntegral():
		return intDigits < map[types.Kind]int{types.TinyInt: 3, types.SmallInt: 5, types.Int: 10, types.BigInt: 19}[from.Kind]
	case from.Kind == types.Decimal:
		fromInt := from.Precision - from.Scale
		return intDigits < fromInt || intDigits == fromInt && to.Scale < from.Scale
	case from.Kind == types.Boolean:
		return intDigits < 1
	}
	return true
}

// coerce inserts an implicit cast of x to type to (keeping x's nullability). Literals are converted at
// bind time.
func coerce(env *Env, x Expr, to types.Type) Expr {
	from := x.Type()
	to = to.WithNullable(from.Nullable())
	if from.Equal(to) {
		return x
	}
	if l, ok := x.(*literalExpr); ok {
		if l.v.IsNull() {
			return Literal(types.NullValue, to)
		}
		if v, err := types.Cast(l.v, from, to, env.Location); err == nil {
			return &literalExpr{v: v, typ: to}
		}
	}
	return &castExpr{x: x, to: to, implicit: true, conv: converter(env, from, to), loc: env.Location}
}

// coerceAll casts every expression to t (each keeping its nullability).
func coerceAll(env *Env, xs []Expr, t types.Type) []Expr {
	out := make([]Expr, len(xs))
	for i, x := range xs {
		out[i] = coerce(env, x, t)
	}
	return out
}

// converter returns the value conversion from one type to another, with allocation-free fast paths for
// the numeric widenings Call inserts and types.Cast for the rest.
func converter(env *Env, from, to types.Type) func(types.Value) (types.Value, error) {
	loc := env.Location
	same := func(v types.Value) (types.Value, error) { return v, nil }
	switch {
	case from.IsIntegral() && to.IsIntegral() && intBits(to.Kind) >= intBits(from.Kind):
		return same
	case from.IsIntegral() && to.Kind == types.Double:
		return func(v types.Value) (types.Value, error) { return types.FloatValue(float64(v.I)), nil }
	case from.IsIntegral() && to.Kind == types.Float:
		return func(v types.Value) (types.Value, error) { return types.FloatValue(float64(float32(v.I))), nil }
	case from.Kind == types.Float && to.Kind == types.Double:
		return same
	case from.IsIntegral() && to.Kind == types.Decimal:
		p, s := to.Precision, to.Scale
		return func(v types.Value) (types.Value, error) {
			d := types.DecimalRescale(types.DecimalFromInt(v.I), s)
			if !types.DecimalFits(d, p, s) {
				return types.NullValue, types.DecimalOutOfRange(strconv.FormatInt(v.I, 10), to)
			}
			return d, nil
		}
	case from.Kind == types.Decimal && to.Kind == types.Double:
		return func(v types.Value) (types.Value, error) { return types.FloatValue(types.DecimalToFloat(v)), nil }
	case from.Kind == types.Decimal && to.Kind == types.Float:
		return func(v types.Value) (types.Value, error) {
			return types.FloatValue(float64(float32(types.DecimalToFloat(v)))), nil
		}
	case from.Kind == types.Decimal && to.Kind == types.Decimal && to.Scale >= from.Scale &&
		to.Precision-to.Scale >= from.Precision-from.Scale:
		s := to.Scale
		return func(v types.Value) (types.Value, error) { return types.DecimalRescale(v, s), nil }
	case from.IsString() && to.Kind == types.VarChar && to.Length >= from.Length:
		return same
	case from.IsBinary() && to.Kind == types.VarBinary && to.Length >= from.Length:
		return same
	case from.Kind == to.Kind && (from.Kind == types.Timestamp || from.Kind == types.TimestampLTZ) &&
		to.Precision >= from.Precision:
		return same
	case from.Kind == types.Date && to.Kind == types.Timestamp:
		return func(v types.Value) (types.Value, error) { return types.TimestampValue(v.I*millisPerDay, 0), nil }
	}
	return func(v types.Value) (types.Value, error) { return types.Cast(v, from, to, loc) }
}

func intBits(k types.Kind) int {
	switch k {
	case types.TinyInt:
		return 8
	case types.SmallInt:
		return 16
	case types.Int:
		return 32
	}
	return 64
}

const (
	millisPerDay = 86_400_000
	nanosPerDay  = 86_400_000_000_000
)

// toFloatFn returns the conversion of a numeric value of type t to float64.
func toFloatFn(t types.Type) func(types.Value) float64 {
	switch {
	case t.IsIntegral():
		return func(v types.Value) float64 { return float64(v.I) }
	case t.Kind == types.Decimal:
		return types.DecimalToFloat
	}
	return func(v types.Value) float64 { return math.Float64frombits(uint64(v.I)) }
}

// toDecimalFn returns the conversion of an exact numeric value of type t to a decimal value.
func toDecimalFn(t types.Type) func(types.Value) types.Value {
	if t.IsIntegral() {
		return func(v types.Value) types.Value { return types.DecimalValue(v.I, 0) }
	}
	return func(v types.Value) types.Value { return v }
}

// commonType is types.CommonType with Flink's nullability: nullable when any input is.
func commonType(ts ...types.Type) (types.Type, bool) {
	var nonNull []types.Type
	nullable := false
	for _, t := range ts {
		nullable = nullable || t.Nullable()
		if t.Kind != types.Null {
			nonNull = append(nonNull, t)
		}
	}
	if len(nonNull) == 0 {
		return types.NullType(), true
	}
	ct, ok := types.CommonType(nonNull...)
	if !ok {
		return types.Type{}, false
	}
	return ct.WithNullable(nullable), true
}

func exprTypes(xs []Expr) []types.Type {
	ts := make([]types.Type, len(xs))
	for i, x := range xs {
		ts[i] = x.Type()
	}
	return ts
}
