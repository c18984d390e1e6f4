package expr

import (
	"regexp"
	"strings"
	"time"

	"github.com/sluicesql/sluice/types"
)

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

// SessionZone returns the session time zone (table.local-time-zone) with which the CAST or built-in call
// x converts TIMESTAMP_LTZ values (UTC when none was set); ok is false for other expressions.
func SessionZone(x Expr) (loc *time.Location, ok bool) {
	switch e := x.(type) {
	case *castExpr:
		loc, ok = e.loc, true
	case *callExpr:
		if e.site != nil && e.site.env != nil {
			loc, ok = e.site.env.Location, true
		}
	}
	if ok && loc == nil {
		loc = time.UTC
	}
	return loc, ok
}

// ExtractParts reports whether x is EXTRACT(unit FROM operand) or a date-part function (YEAR(operand),
// HOUR(operand), ...) of a DATE, TIME, TIMESTAMP or TIMESTAMP_LTZ operand, and returns the unit (as
// ExtractField takes it) and the operand.
func ExtractParts(x Expr) (unit string, operand Expr, ok bool) {
	c, isCall := x.(*callExpr)
	if !isCall || c.volatile || len(c.args) != 1 || c.site == nil {
		return "", nil, false
	}
	switch k := c.args[0].Type().Kind; k {
	case types.Date, types.Time, types.Timestamp, types.TimestampLTZ:
	default:
		return "", nil, false
	}
	if c.site.name == "EXTRACT" {
		if len(c.site.args) != 2 {
			return "", nil, false
		}
		u, okc := strLiteral(c.site.args[0])
		return strings.ToUpper(u), c.args[0], okc
	}
	unit, ok = datePartUnits[c.site.name]
	return unit, c.args[0], ok
}

// ExtractField is EXTRACT(unit FROM wall) of a wall clock as a TIMESTAMP value (a DATE at midnight, a TIME
// on 1970-01-01, a TIMESTAMP_LTZ in the session zone), as the row path computes it.
func ExtractField(unit string, wall types.Value) (int64, bool) { return extractField(unit, wall) }

// FloorCeilParts reports whether x is FLOOR(operand TO unit) or CEIL(operand TO unit) of a DATE, TIMESTAMP or
// TIMESTAMP_LTZ and returns the unit (as RoundTemporal takes it), whether it is CEIL and the operand.
func FloorCeilParts(x Expr) (unit string, ceil bool, operand Expr, ok bool) {
	c, isCall := x.(*callExpr)
	if !isCall || c.volatile || len(c.args) != 1 || c.site == nil || len(c.site.args) != 2 {
		return "", false, nil, false
	}
	switch c.site.name {
	case "FLOOR":
	case "CEIL", "CEILING":
		ceil = true
	default:
		return "", false, nil, false
	}
	u, okc := strLiteral(c.site.args[1])
	return strings.ToUpper(u), ceil, c.args[0], okc
}

// RoundTemporal is FLOOR/CEIL(... TO unit) of the wall-clock millis ms plus nanos, as the row path computes it.
func RoundTemporal(ms int64, nanos int32, unit string, ceil bool) int64 {
	return roundTemporal(ms, nanos, unit, ceil)
}

// CaseParts reports whether x is a searched CASE and returns its conditions, results and ELSE (nil: NULL).
func CaseParts(x Expr) (conds, results []Expr, els Expr, ok bool) {
	if c, isCase := x.(*caseExpr); isCase {
		return c.conds, c.results, c.els, true
	}
	return nil, nil, nil, false
}

// InSetParts reports whether x is [NOT] IN over a list of constants that the row path looks up in a set
// of int64 values (integers, BOOLEAN, DATE, TIME, intervals) or of strings (CHAR, VARCHAR, BINARY,
// VARBINARY), and returns the tested operand (in the list's common type), the set (one of ints and strs
// is non-nil), whether the list holds a NULL and whether it is NOT IN. The maps are shared: read only.
func InSetParts(x Expr) (operand Expr, ints map[int64]struct{}, strs map[string]struct{}, listNull, not, ok bool) {
	e, isIn := x.(*inExpr)
	if !isIn || e.keyed || e.ints == nil && e.strs == nil {
		return nil, nil, nil, false, false, false
	}
	return e.x, e.ints, e.strs, e.listNull, e.not, true
}

// LikeMatcher is a compiled constant LIKE pattern, for compilers of expressions.
type LikeMatcher struct{ p *likePattern }

// CompileLike compiles a LIKE pattern with an escape character ("" for none) as the row path does.
func CompileLike(pattern, escape string) (*LikeMatcher, error) {
	var er rune
	if escape != "" {
		r, err := escapeRune(types.StringValue(escape))
		if err != nil {
			return nil, err
		}
		er = r
	}
	p, err := compileLike(pattern, er)
	if err != nil {
		return nil, err
	}
	return &LikeMatcher{p: p}, nil
}

// Match reports whether s matches the pattern.
func (m *LikeMatcher) Match(s string) bool { return m.p.match(s) }

// CompileRegexp compiles a constant regular expression as the row path's REGEXP functions do (Java
// spelling adapted to RE2), for compilers of expressions.
func CompileRegexp(src string) (*regexp.Regexp, error) { return regexp.Compile(javaRegexp(src)) }

// TrimMode reports whether x is a TRIM call and which ends it trims: TRIM(s) and TRIM(BOTH ...) both,
// TRIM(LEADING ...) the start, TRIM(TRAILING ...) the end (LTRIM and RTRIM are calls of their own names).
func TrimMode(x Expr) (leading, trailing, ok bool) {
	c, isCall := x.(*callExpr)
	if !isCall || c.site == nil || c.site.name != "TRIM" {
		return false, false, false
	}
	switch c.site.trimMode {
	case "LEADING":
		return true, false, true
	case "TRAILING":
		return false, true, true
	}
	return true, true, true
}

// TimeUnitParts reports whether x is TIMESTAMPADD(unit, n, t) or TIMESTAMPDIFF(unit, a, b) and returns
// the unit's length in milliseconds, or in months for YEAR, QUARTER and MONTH, and the two operands (n and
// t, or a and b).
func TimeUnitParts(x Expr) (millis, months int64, a, b Expr, ok bool) {
	c, isCall := x.(*callExpr)
	if !isCall || c.volatile || c.site == nil || len(c.site.args) != 3 || len(c.args) < 2 ||
		c.site.name != "TIMESTAMPADD" && c.site.name != "TIMESTAMPDIFF" {
		return 0, 0, nil, nil, false
	}
	u, okc := strLiteral(c.site.args[0])
	millis, months, ok = timeUnit(strings.ToUpper(u))
	if !okc || !ok {
		return 0, 0, nil, nil, false
	}
	return millis, months, c.args[len(c.args)-2], c.args[len(c.args)-1], true
}

// AddMonthsDays is the row path's date plus months (the day clamped to the month's length), in days.
func AddMonthsDays(days, months int64) int64 { return addMonthsDays(days, months) }

// SubtractMonthsTs is the row path's whole months from t1 to t0 (millis on one wall clock).
func SubtractMonthsTs(t0, t1 int64) int64 { return subtractMonthsTs(t0, t1) }

// DefaultDateTimeFormat is the pattern of FROM_UNIXTIME and UNIX_TIMESTAMP without one.
const DefaultDateTimeFormat = defaultDateTimeFormat

// WallParser compiles a constant java.time pattern as TO_TIMESTAMP and UNIX_TIMESTAMP parse with it and
// returns the row path's parser: the wall-clock millis and nanos of s, ok false when s does not match;
// zoned says s carried an offset (the result is then the UTC wall clock).
func WallParser(pattern string) (func(s string) (ms int64, nanos int32, ok, zoned bool), error) {
	f, err := compileDateFormat(pattern)
	if err != nil {
		return nil, err
	}
	return func(s string) (int64, int32, bool, bool) {
		p, okp := f.parse(s)
		if !okp {
			return 0, 0, false, false
		}
		ms, ns := p.wallMillis()
		if p.hasOffset {
			ms -= int64(p.offset) * 1000
		}
		return ms, ns, true, p.hasOffset
	}, nil
}
