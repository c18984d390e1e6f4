package expr

import "github.com/sluicesql/sluice/types"

// CallParts reports whether x is a deterministic built-in call (not a UDF, not RAND or CURRENT_TIMESTAMP)
// and returns its printed name ("+", "MOD", "IS NULL", "FIELD") and arguments, for compilers of
// expressions (exec's vectorized Calc).
func CallParts(x Expr) (name string, args []Expr, ok bool) {
	c, isCall := x.(*callExpr)
	if !isCall || c.volatile {
		return "", nil, false
	}
	return c.name, c.args, true
}

// LiteralOf reports whether x is a constant literal and returns its value.
func LiteralOf(x Expr) (types.Value, bool) {
	if l, ok := x.(*literalExpr); ok {
		return l.v, true
	}
	return types.NullValue, false
}

// CastParts reports whether x is a CAST (or TRY_CAST) and returns its operand; overflowNull says a number
// too large for a DECIMAL target is NULL rather than an error. The target is x.Type().
func CastParts(x Expr) (operand Expr, try, overflowNull, ok bool) {
	if c, isCast := x.(*castExpr); isCast {
		return c.x, c.try, c.overflowNull, true
	}
	return nil, false, false, false
}

// CaseParts reports whether x is a searched CASE and returns its conditions, results and ELSE (nil: NULL).
func CaseParts(x Expr) (conds, results []Expr, els Expr, ok bool) {
	if c, isCase := x.(*caseExpr); isCase {
		return c.conds, c.results, c.els, true
	}
	return nil, nil, nil, false
}
