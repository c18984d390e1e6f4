package expr

import (
	"strings"

	"github.com/sluicesql/sluice/types"
)

// InListParts opens x [NOT] IN (list) when the row path compares the operand with each element in turn
// (a list that is not all constants; not a constant set, see InSetParts): the operand and the elements as
// the row path compares them (numerics as they are, compared by value; other types cast to the common
// type). The row path's result is three-valued OR of operand = element over the list (NOT for NOT IN).
func InListParts(x Expr) (operand Expr, list []Expr, not, ok bool) {
	e, isIn := x.(*inExpr)
	if !isIn || e.ints != nil || e.strs != nil {
		return nil, nil, false, false
	}
	return e.x, e.list, e.not, true
}

// ExtractIntervalParts reports whether x is EXTRACT(unit FROM operand) of an INTERVAL and returns the
// row path's arithmetic on the interval's count (months or milliseconds): the count / div, then % mod
// when mod is not 0 (Go's truncating division, as the row path).
func ExtractIntervalParts(x Expr) (div, mod int64, operand Expr, ok bool) {
	c, isCall := x.(*callExpr)
	if !isCall || c.volatile || len(c.args) != 1 || c.site == nil || c.site.name != "EXTRACT" || len(c.site.args) != 2 {
		return 0, 0, nil, false
	}
	u, okc := strLiteral(c.site.args[0])
	if !okc {
		return 0, 0, nil, false
	}
	switch c.args[0].Type().Kind {
	case types.IntervalYearMonth:
		switch strings.ToUpper(u) {
		case "YEAR":
			return 12, 0, c.args[0], true
		case "MONTH":
			return 1, 12, c.args[0], true
		}
	case types.IntervalDayTime:
		switch strings.ToUpper(u) {
		case "DAY":
			return millisPerDay, 0, c.args[0], true
		case "HOUR":
			return 3_600_000, 24, c.args[0], true
		case "MINUTE":
			return 60_000, 60, c.args[0], true
		case "SECOND":
			return 1000, 60, c.args[0], true
		case "MILLISECOND":
			return 1, 60_000, c.args[0], true
		}
	}
	return 0, 0, nil, false
}
