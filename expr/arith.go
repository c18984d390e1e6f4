package expr

import (
	"math"

	"github.com/sluicesql/sluice/types"
)

// Arithmetic follows Flink:
//   - integers: the wider operand type (% takes the divisor's type); overflow wraps silently at that width
//     as Java's int/long arithmetic does; / truncates toward zero; / or % by zero is a run-time error
//     (Java's ArithmeticException "/ by zero").
//   - FLOAT/DOUBLE: IEEE arithmetic, x/0 is ±Infinity or NaN.
//   - DECIMAL: exact, result type from types.ArithmeticType, rounded HALF_UP to the result scale; a result
//     that does not fit the result precision is NULL (Flink's decimal overflow); division by zero is an
//     error.
//   - temporal: TIMESTAMP/DATE/TIME ± INTERVAL, INTERVAL ± INTERVAL, INTERVAL * and / numeric.

func bindArith(op string) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		a, b := c.args[0], c.args[1]
		ta, tb := a.Type(), b.Type()
		rt, err := types.ArithmeticType(op, ta, tb)
		if err != nil {
			return nil, c.bad()
		}
		// An untyped NULL takes the other operand's type.
		if ta.Kind == types.Null {
			a = Literal(types.NullValue, tb)
			ta = a.Type()
		}
		if tb.Kind == types.Null {
			b = Literal(types.NullValue, ta)
			tb = b.Type()
		}
		c.args = []Expr{a, b}
		if ta.IsNumeric() && tb.IsNumeric() {
			return c.make(rt, numericArith(op, a, b, rt)), nil
		}
		return bindTemporalArith(c, op, a, b, rt)
	}
}

func numericArith(op string, a, b Expr, rt types.Type) evalFn {
	switch {
	case rt.IsIntegral():
		return intArith(op, a, b, uint(64-intBits(rt.Kind)))
	case rt.Kind == types.Float || rt.Kind == types.Double:
		return floatArith(op, a, b, rt.Kind == types.Float)
	default:
		return decimalArith(op, a, b, rt)
	}
}

// intArith evaluates integer arithmetic, wrapping the result to the width of the result type (sh is
// 64 minus that width). A constant right operand is read once at bind time.
func intArith(op string, a, b Expr, sh uint) evalFn {
	var code byte = op[0]
	if l, isLit := b.(*literalExpr); isLit && !l.v.IsNull() {
		y := l.v.I
		if y == 0 && (code == '/' || code == '%') {
			return func(row []types.Value) (types.Value, error) {
				xv, err := a.Eval(row)
				if err != nil || xv.T == types.TagNull {
					return types.NullValue, err
				}
				return types.NullValue, ErrDivisionByZero
			}
		}
		return func(row []types.Value) (types.Value, error) {
			xv, err := a.Eval(row)
			if err != nil || xv.T == types.TagNull {
				return types.NullValue, err
			}
			return types.IntValue(intOp(code, xv.I, y) << sh >> sh), nil
		}
	}
	return func(row []types.Value) (types.Value, error) {
		xv, err := a.Eval(row)
		if err != nil || xv.T == types.TagNull {
			return types.NullValue, err
		}
		yv, err := b.Eval(row)
		if err != nil || yv.T == types.TagNull {
			return types.NullValue, err
		}
		if yv.I == 0 && (code == '/' || code == '%') {
			return types.NullValue, ErrDivisionByZero
		}
		return types.IntValue(intOp(code, xv.I, yv.I) << sh >> sh), nil
	}
}

// intOp applies + - * / % (y is non-zero for / and %).
func intOp(code byte, x, y int64) int64 {
	switch code {
	case '+':
		return x + y
	case '-':
		return x - y
	case '*':
		return x * y
	case '/':
		return x / y
	}
	return x % y
}

func floatArith(op string, a, b Expr, single bool) evalFn {
	fa, fb := toFloatFn(a.Type()), toFloatFn(b.Type())
	var f func(x, y float64) float64
	switch op {
	case "+":
		f = func(x, y float64) float64 { return x + y }
	case "-":
		f = func(x, y float64) float64 { return x - y }
	case "*":
		f = func(x, y float64) float64 { return x * y }
	default:
		f = func(x, y float64) float64 { return x / y }
	}
	return func(row []types.Value) (types.Value, error) {
		xv, err := a.Eval(row)
		if err != nil || xv.T == types.TagNull {
			return types.NullValue, err
		}
		yv, err := b.Eval(row)
		if err != nil || yv.T == types.TagNull {
			return types.NullValue, err
		}
		r := f(fa(xv), fb(yv))
		if single {
			r = float64(float32(r))
		}
		return types.FloatValue(r), nil
	}
}

func decimalArith(op string, a, b Expr, rt types.Type) evalFn {
	da, db := toDecimalFn(a.Type()), toDecimalFn(b.Type())
	p, s := rt.Precision, rt.Scale
	var f func(x, y types.Value) (types.Value, error)
	switch op {
	case "+":
		f = func(x, y types.Value) (types.Value, error) { return types.DecimalAdd(x, y), nil }
	case "-":
		f = func(x, y types.Value) (types.Value, error) { return types.DecimalSub(x, y), nil }
	case "*":
		f = func(x, y types.Value) (types.Value, error) { return types.DecimalMul(x, y), nil }
	case "/":
		f = func(x, y types.Value) (types.Value, error) {
			r, err := types.DecimalDiv(x, y, s)
			if err != nil {
				return r, ErrDivisionByZero
			}
			return r, nil
		}
	default:
		f = func(x, y types.Value) (types.Value, error) {
			r, err := types.DecimalMod(x, y)
			if err != nil {
				return r, ErrDivisionByZero
			}
			return r, nil
		}
	}
	return func(row []types.Value) (types.Value, error) {
		xv, err := a.Eval(row)
		if err != nil || xv.T == types.TagNull {
			return types.NullValue, err
		}
		yv, err := b.Eval(row)
		if err != nil || yv.T == types.TagNull {
			return types.NullValue, err
		}
		r, err := f(da(xv), db(yv))
		if err != nil {
			return types.NullValue, err
		}
		return fitDecimal(r, p, s), nil
	}
}

// fitDecimal rounds r to scale s and returns NULL when it needs more than p digits (Flink's decimal
// overflow).
func fitDecimal(r types.Value, p, s int) types.Value {
	r = types.DecimalRescale(r, s)
	if !types.DecimalFits(r, p, s) {
		return types.NullValue
	}
	return r
}

// bindNeg is unary minus.
func bindNeg(c *callSite) (Expr, error) {
	x := c.args[0]
	t := x.Type()
	switch {
	case t.Kind == types.Null:
		return c.make(t, func([]types.Value) (types.Value, error) { return types.NullValue, nil }), nil
	case t.IsIntegral(), t.Kind == types.IntervalYearMonth, t.Kind == types.IntervalDayTime:
		sh := uint(64 - intBits(t.Kind))
		return c.make(t, strict1(x, func(v types.Value) (types.Value, error) {
			return types.IntValue((-v.I) << sh >> sh), nil
		})), nil
	case t.Kind == types.Float || t.Kind == types.Double:
		return c.make(t, strict1(x, func(v types.Value) (types.Value, error) {
			return types.FloatValue(-v.Float()), nil
		})), nil
	case t.Kind == types.Decimal:
		return c.make(t, strict1(x, func(v types.Value) (types.Value, error) {
			return types.DecimalNeg(v), nil
		})), nil
	}
	return nil, c.bad()
}

func bindTemporalArith(c *callSite, op string, a, b Expr, rt types.Type) (Expr, error) {
	ta, tb := a.Type(), b.Type()
	isIv := func(t types.Type) bool { return t.Kind == types.IntervalYearMonth || t.Kind == types.IntervalDayTime }
	sign := int64(1)
	if op == "-" {
		sign = -1
	}
	switch {
	case isIv(ta) && isIv(tb) && (op == "+" || op == "-"):
		return c.make(rt, strict2(a, b, func(x, y types.Value) (types.Value, error) {
			return types.IntValue(x.I + sign*y.I), nil
		})), nil
	case isIv(ta) && tb.IsNumeric() || ta.IsNumeric() && isIv(tb):
		iv, n := a, b
		if ta.IsNumeric() {
			iv, n = b, a
		}
		nf := toFloatFn(n.Type())
		integral := n.Type().IsIntegral()
		div := op == "/"
		return c.make(rt, strict2(iv, n, func(x, y types.Value) (types.Value, error) {
			if integral {
				if div {
					if y.I == 0 {
						return types.NullValue, ErrDivisionByZero
					}
					return types.IntValue(x.I / y.I), nil
				}
				return types.IntValue(x.I * y.I), nil
			}
			f := nf(y)
			if div {
				return types.IntValue(int64(math.Round(float64(x.I) / f))), nil
			}
			return types.IntValue(int64(math.Round(float64(x.I) * f))), nil
		})), nil
	}
	// temporal ± interval (or interval + temporal)
	tm, iv := a, b
	if isIv(ta) {
		tm, iv = b, a
	}
	months := iv.Type().Kind == types.IntervalYearMonth
	var f func(t, d types.Value) (types.Value, error)
	switch tm.Type().Kind {
	case types.Timestamp, types.TimestampLTZ:
		if months {
			f = func(t, d types.Value) (types.Value, error) { return addMonthsTimestamp(t, sign*d.I), nil }
		} else {
			f = func(t, d types.Value) (types.Value, error) {
				return types.TimestampValue(t.I+sign*d.I, t.N), nil
			}
		}
	case types.Date:
		if months {
			f = func(t, d types.Value) (types.Value, error) { return types.DateValue(addMonthsDays(t.I, sign*d.I)), nil }
		} else {
			f = func(t, d types.Value) (types.Value, error) {
				return types.DateValue(t.I + floorDiv(sign*d.I, millisPerDay)), nil
			}
		}
	case types.Time:
		f = func(t, d types.Value) (types.Value, error) {
			return types.TimeValue(floorMod(t.I+sign*d.I*1_000_000, nanosPerDay)), nil
		}
	default:
		return nil, c.bad()
	}
	return c.make(rt, strict2(tm, iv, f)), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
