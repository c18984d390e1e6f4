package planner

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Sentinel errors of the planner.
var (
	ErrValidation  = errors.New("validation error")
	ErrUnsupported = errors.New("unsupported")
)

// aggregate function names handled by the group aggregate operator.
var aggFuncs = map[string]bool{
	"COUNT": true, "SUM": true, "SUM0": true, "MIN": true, "MAX": true, "AVG": true,
	"FIRST_VALUE": true, "LAST_VALUE": true, "LISTAGG": true, "BOOL_AND": true, "BOOL_OR": true,
	"STDDEV_POP": true, "STDDEV_SAMP": true, "STDDEV": true, "VAR_POP": true, "VAR_SAMP": true, "VARIANCE": true,
	"COLLECT": true,
}

// AggregateFunctionNames lists the built-in aggregate functions and the grouping functions (GROUPING,
// GROUPING_ID, GROUP_ID), sorted: for SHOW FUNCTIONS and for refusing user functions that could never be
// called.
func AggregateFunctionNames() []string {
	names := []string{"GROUPING", "GROUPING_ID", "GROUP_ID"}
	for n := range aggFuncs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func isAggCall(e sql.Expr) (*sql.FuncCall, bool) {
	f, ok := e.(*sql.FuncCall)
	if !ok || f.Over != nil || !aggFuncs[f.Name] {
		return nil, false
	}
	return f, true
}

// aggMap describes the output of an aggregate for binding SELECT items and HAVING above it.
type aggMap struct {
	in        *scope     // the aggregate's input, where GROUP BY expressions were bound
	groupExpr []sql.Expr // each GROUP BY expression
	groupText []string   // FormatExpr of each GROUP BY expression
	groupType []types.Type
	groupName []string
	aggText   []string // FormatExpr of each aggregate call
	aggType   []types.Type
	aggName   []string
	sets      []uint64 // grouping sets (grouping_sets.go); nil without GROUPING SETS, ROLLUP or CUBE
	gid       int      // the aggregate output column of the grouping id $e; -1 when none
}

// binder binds expressions.
type binder struct {
	env    *expr.Env
	params []types.Value
}

func wrapErr(p sql.Pos, err error) error {
	if err == nil {
		return nil
	}
	if _, _, _, ok := sql.Position(err); ok {
		return err
	}
	return sql.Errorf(p, ErrValidation, "%s", err.Error())
}

// expr binds a scalar expression in scope sc.
func (b *binder) expr(e sql.Expr, sc *scope) (expr.Expr, error) {
	if sc.agg != nil {
		text := sql.FormatExpr(e)
		for i, g := range sc.agg.groupText {
			if g == text {
				return expr.Column(i, sc.agg.groupName[i], sc.agg.groupType[i]), nil
			}
		}
		if f, ok := isGroupingCall(e); ok {
			return b.grouping(f, sc.agg)
		}
		if _, ok := isAggCall(e); ok {
			for i, a := range sc.agg.aggText {
				if a == text {
					k := sc.agg.aggBase()
					return expr.Column(k+i, sc.agg.aggName[i], sc.agg.aggType[i]), nil
				}
			}
		}
		if ref, ok := e.(*sql.ColumnRef); ok {
			// The same column or field written differently (t.a and a, t.person.id and person.id).
			if i, ok := sc.agg.groupRef(ref); ok {
				return expr.Column(i, sc.agg.groupName[i], sc.agg.groupType[i]), nil
			}
			return nil, sql.Errorf(ref.P, ErrValidation, "Expression '%s' is not being grouped; add it to GROUP BY or use it inside an aggregate function", sql.JoinIdents(ref.Parts))
		}
	}
	switch e := e.(type) {
	case *sql.Paren:
		return b.expr(e.X, sc)
	case *sql.Literal:
		return b.literal(e)
	case *sql.IntervalLit:
		return intervalLiteral(e)
	case *sql.ColumnRef:
		i, fields, err := sc.resolvePath(e)
		if err != nil {
			return nil, err
		}
		x := expr.Column(i, sc.cols[i].name, sc.cols[i].typ)
		if len(fields) == 0 {
			return x, nil
		}
		return b.fieldPath(e.P, x, sql.JoinIdents(e.Parts), fields)
	case *sql.Param:
		if e.Index < 1 || e.Index > len(b.params) {
			return nil, sql.Errorf(e.P, ErrValidation, "parameter %d has no value bound (%d given)", e.Index, len(b.params))
		}
		v := b.params[e.Index-1]
		return expr.Literal(v, paramType(v)), nil
	case *sql.Unary:
		x, err := b.expr(e.X, sc)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case "+":
			return x, nil
		case "-":
			return b.call(e.P, "NEG", x)
		default:
			return b.call(e.P, "NOT", x)
		}
	case *sql.Binary:
		l, err := b.expr(e.L, sc)
		if err != nil {
			return nil, err
		}
		r, err := b.expr(e.R, sc)
		if err != nil {
			return nil, err
		}
		return b.call(e.P, e.Op, l, r)
	case *sql.FuncCall:
		if _, ok := isAggCall(e); ok {
			return nil, sql.Errorf(e.P, ErrValidation, "aggregate function %s is not allowed here (only in SELECT and HAVING of an aggregating query)", e.Name)
		}
		if _, ok := isGroupingCall(e); ok {
			return nil, sql.Errorf(e.P, ErrValidation, "%s operator may only occur in the SELECT list or HAVING of an aggregating query (with GROUP BY); to order by it, select it with an alias", e.Name)
		}
		if e.Over != nil {
			return nil, sql.Errorf(e.P, ErrUnsupported, "OVER windows (%s ... OVER) are not supported yet", e.Name)
		}
		if isOffsetFunc(e.Name) { // over_offset.go
			return nil, sql.Errorf(e.P, ErrValidation, "OVER clause is necessary for window functions: %s(...) OVER (PARTITION BY ... ORDER BY ...)", e.Name)
		}
		var args []expr.Expr
		for _, a := range e.Args {
			x, err := b.expr(a, sc)
			if err != nil {
				return nil, err
			}
			args = append(args, x)
		}
		return b.call(e.P, e.Name, args...)
	case *sql.Case:
		var conds, results []expr.Expr
		var operand expr.Expr
		if e.Operand != nil {
			x, err := b.expr(e.Operand, sc)
			if err != nil {
				return nil, err
			}
			operand = x
		}
		for _, w := range e.Whens {
			c, err := b.expr(w.Cond, sc)
			if err != nil {
				return nil, err
			}
			if operand != nil {
				if c, err = b.call(w.Cond.Position(), "=", operand, c); err != nil {
					return nil, err
				}
			}
			r, err := b.expr(w.Result, sc)
			if err != nil {
				return nil, err
			}
			conds, results = append(conds, c), append(results, r)
		}
		var els expr.Expr
		if e.Else != nil {
			x, err := b.expr(e.Else, sc)
			if err != nil {
				return nil, err
			}
			els = x
		}
		x, err := expr.CaseWhen(conds, results, els)
		return x, wrapErr(e.P, err)
	case *sql.Cast:
		x, err := b.expr(e.X, sc)
		if err != nil {
			return nil, err
		}
		c, err := expr.Cast(b.env, x, e.Type, e.Try)
		return c, wrapErr(e.TypePos, err)
	case *sql.Between:
		x, err := b.expr(e.X, sc)
		if err != nil {
			return nil, err
		}
		lo, err := b.expr(e.Lo, sc)
		if err != nil {
			return nil, err
		}
		hi, err := b.expr(e.Hi, sc)
		if err != nil {
			return nil, err
		}
		ge, err := b.call(e.P, ">=", x, lo)
		if err != nil {
			return nil, err
		}
		le, err := b.call(e.P, "<=", x, hi)
		if err != nil {
			return nil, err
		}
		and, err := b.call(e.P, "AND", ge, le)
		if err != nil {
			return nil, err
		}
		if e.Symmetric {
			ge2, _ := b.call(e.P, ">=", x, hi)
			le2, _ := b.call(e.P, "<=", x, lo)
			and2, err := b.call(e.P, "AND", ge2, le2)
			if err != nil {
				return nil, err
			}
			if and, err = b.call(e.P, "OR", and, and2); err != nil {
				return nil, err
			}
		}
		if e.Not {
			return b.call(e.P, "NOT", and)
		}
		return and, nil
	case *sql.In:
		if e.Query != nil {
			return nil, sql.Errorf(e.P, ErrUnsupported, "IN (subquery) is not supported here yet; it is in WHERE and in the SELECT list of a query that does not aggregate")
		}
		x, err := b.expr(e.X, sc)
		if err != nil {
			return nil, err
		}
		var list []expr.Expr
		for _, a := range e.List {
			y, err := b.expr(a, sc)
			if err != nil {
				return nil, err
			}
			list = append(list, y)
		}
		in, err := expr.In(x, list, e.Not)
		return in, wrapErr(e.P, err)
	case *sql.Like:
		x, err := b.expr(e.X, sc)
		if err != nil {
			return nil, err
		}
		p, err := b.expr(e.Pattern, sc)
		if err != nil {
			return nil, err
		}
		args := []expr.Expr{x, p}
		if e.Escape != nil {
			esc, err := b.expr(e.Escape, sc)
			if err != nil {
				return nil, err
			}
			args = append(args, esc)
		}
		name := "LIKE"
		if e.Similar {
			name = "SIMILAR TO"
		}
		l, err := b.call(e.P, name, args...)
		if err != nil || !e.Not {
			return l, err
		}
		return b.call(e.P, "NOT", l)
	case *sql.IsTest:
		x, err := b.expr(e.X, sc)
		if err != nil {
			return nil, err
		}
		what := e.What
		if what == "UNKNOWN" {
			what = "NULL"
		}
		name := "IS " + what
		if e.Not {
			name = "IS NOT " + what
		}
		return b.call(e.P, name, x)
	case *sql.Constructor:
		var args []expr.Expr
		for _, a := range e.Elems {
			x, err := b.expr(a, sc)
			if err != nil {
				return nil, err
			}
			args = append(args, x)
		}
		return b.call(e.P, e.Kind, args...)
	case *sql.Index:
		x, err := b.expr(e.X, sc)
		if err != nil {
			return nil, err
		}
		i, err := b.expr(e.Index, sc)
		if err != nil {
			return nil, err
		}
		return b.call(e.P, "ITEM", x, i)
	case *sql.FieldAccess:
		x, err := b.expr(e.X, sc)
		if err != nil {
			return nil, err
		}
		return b.fieldPath(e.P, x, sql.FormatExpr(e), []string{e.Field})
	case *sql.Exists:
		return nil, sql.Errorf(e.P, ErrUnsupported, "EXISTS (subquery) is not supported here yet; it is in WHERE and in the SELECT list of a query that does not aggregate")
	case *sql.SubqueryExpr:
		return nil, sql.Errorf(e.P, ErrUnsupported, "scalar subqueries are not supported yet; join with the subquery instead")
	case *sql.NamedArg:
		return nil, sql.Errorf(e.P, ErrValidation, "named arguments (%s => ...) are only supported by the window table functions TUMBLE, HOP, CUMULATE and SESSION; pass the arguments by position", e.Name)
	}
	return nil, sql.Errorf(e.Position(), ErrUnsupported, "expression %s is not supported here", sql.FormatExpr(e))
}

func (b *binder) call(p sql.Pos, name string, args ...expr.Expr) (expr.Expr, error) {
	x, err := expr.Call(b.env, name, args...)
	return x, wrapErr(p, err)
}

func paramType(v types.Value) types.Type {
	switch v.T {
	case types.TagBool:
		return types.BooleanType()
	case types.TagInt:
		return types.BigIntType()
	case types.TagFloat:
		return types.DoubleType()
	case types.TagString:
		return types.StringType()
	case types.TagBytes:
		return types.BytesType()
	case types.TagDecimal:
		return types.DecimalType(38, v.DecimalScale())
	case types.TagDate:
		return types.DateType()
	case types.TagTime:
		return types.TimeType(9)
	case types.TagTimestamp:
		return types.TimestampType(9)
	}
	return types.NullType()
}

func (b *binder) literal(l *sql.Literal) (expr.Expr, error) {
	nn := func(t types.Type) types.Type { return t.WithNullable(false) }
	switch l.Kind {
	case sql.LitNull:
		return expr.Literal(types.NullValue, types.NullType()), nil
	case sql.LitBool:
		return expr.Literal(types.BoolValue(l.Bool), nn(types.BooleanType())), nil
	case sql.LitInteger:
		if i, err := strconv.ParseInt(l.Text, 10, 64); err == nil {
			if i >= -1<<31 && i < 1<<31 {
				return expr.Literal(types.IntValue(i), nn(types.IntType())), nil
			}
			return expr.Literal(types.IntValue(i), nn(types.BigIntType())), nil
		}
		bi, ok := new(big.Int).SetString(l.Text, 10)
		if !ok || len(l.Text) > 38 {
			return nil, sql.Errorf(l.P, ErrValidation, "numeric literal '%s' out of range", l.Text)
		}
		return expr.Literal(types.BigDecimalValue(bi, 0), nn(types.DecimalType(len(l.Text), 0))), nil
	case sql.LitDecimal:
		v, err := types.ParseDecimal(l.Text)
		if err != nil {
			return nil, sql.Errorf(l.P, ErrValidation, "invalid decimal literal '%s': %v", l.Text, err)
		}
		digits := strings.TrimLeft(strings.ReplaceAll(strings.TrimPrefix(l.Text, "-"), ".", ""), "0")
		scale := v.DecimalScale()
		p := max(len(digits), scale, 1)
		if p > 38 {
			return nil, sql.Errorf(l.P, ErrValidation, "decimal literal '%s' has more than 38 digits", l.Text)
		}
		return expr.Literal(v, nn(types.DecimalType(p, scale))), nil
	case sql.LitFloat:
		f, err := strconv.ParseFloat(l.Text, 64)
		if err != nil {
			return nil, sql.Errorf(l.P, ErrValidation, "invalid numeric literal '%s'", l.Text)
		}
		return expr.Literal(types.FloatValue(f), nn(types.DoubleType())), nil
	case sql.LitString:
		n := len([]rune(l.Text))
		if n == 0 {
			return expr.Literal(types.StringValue(""), nn(types.VarCharType(0))), nil
		}
		return expr.Literal(types.StringValue(l.Text), nn(types.CharType(n))), nil
	case sql.LitBinary:
		return expr.Literal(types.Value{T: types.TagBytes, S: l.Text}, nn(types.Type{Kind: types.Binary, Length: max(1, len(l.Text))})), nil
	case sql.LitDate:
		v, err := types.ParseDate(l.Text)
		if err != nil {
			return nil, sql.Errorf(l.P, ErrValidation, "invalid DATE literal '%s': %v", l.Text, err)
		}
		return expr.Literal(v, nn(types.DateType())), nil
	case sql.LitTime:
		v, err := types.ParseTime(l.Text)
		if err != nil {
			return nil, sql.Errorf(l.P, ErrValidation, "invalid TIME literal '%s': %v", l.Text, err)
		}
		return expr.Literal(v, nn(types.TimeType(fracDigits(l.Text)))), nil
	case sql.LitTimestamp, sql.LitTimestampLTZ:
		p := max(fracDigits(l.Text), 0)
		v, err := types.ParseTimestamp(l.Text, 9)
		if err != nil {
			return nil, sql.Errorf(l.P, ErrValidation, "invalid TIMESTAMP literal '%s': %v", l.Text, err)
		}
		if l.Kind == sql.LitTimestampLTZ {
			t, err := types.Cast(v, types.TimestampType(9), types.TimestampLTZType(9), b.env.Location)
			if err != nil {
				return nil, sql.Errorf(l.P, ErrValidation, "invalid TIMESTAMP_LTZ literal '%s': %v", l.Text, err)
			}
			return expr.Literal(t, nn(types.TimestampLTZType(p))), nil
		}
		return expr.Literal(v, nn(types.TimestampType(p))), nil
	}
	return nil, sql.Errorf(l.P, ErrUnsupported, "unsupported literal")
}

func fracDigits(s string) int {
	if i := strings.LastIndexByte(s, '.'); i >= 0 && strings.ContainsAny(s, ":") {
		return len(strings.TrimSpace(s[i+1:]))
	}
	return 0
}

// intervalLiteral turns INTERVAL '5' SECOND into a day-time interval (milliseconds) or a year-month interval
// (months).
func intervalLiteral(l *sql.IntervalLit) (expr.Expr, error) {
	bad := func() error {
		return sql.Errorf(l.P, ErrValidation, "invalid interval literal '%s' %s%s", l.Value, l.Unit, map[bool]string{true: " TO " + l.ToUnit, false: ""}[l.ToUnit != ""])
	}
	val := strings.TrimSpace(l.Value)
	neg := l.Negative
	if strings.HasPrefix(val, "-") {
		neg = !neg
		val = strings.TrimSpace(val[1:])
	}
	sign := int64(1)
	if neg {
		sign = -1
	}
	unitMillis := map[string]int64{"DAY": 86400000, "HOUR": 3600000, "MINUTE": 60000, "SECOND": 1000}
	switch {
	case l.ToUnit == "" && (l.Unit == "YEAR" || l.Unit == "MONTH"):
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return nil, bad()
		}
		if l.Unit == "YEAR" {
			n *= 12
		}
		return expr.Literal(types.IntValue(sign*n), types.Type{Kind: types.IntervalYearMonth, NotNull: true}), nil
	case l.Unit == "YEAR" && l.ToUnit == "MONTH":
		parts := strings.Split(val, "-")
		if len(parts) != 2 {
			return nil, bad()
		}
		y, err1 := strconv.ParseInt(parts[0], 10, 64)
		m, err2 := strconv.ParseInt(parts[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, bad()
		}
		return expr.Literal(types.IntValue(sign*(y*12+m)), types.Type{Kind: types.IntervalYearMonth, NotNull: true}), nil
	case l.ToUnit == "":
		m, ok := unitMillis[l.Unit]
		if !ok {
			return nil, bad()
		}
		d, err := types.ParseDecimal(val)
		if err != nil {
			return nil, bad()
		}
		ms := types.DecimalRescale(types.DecimalMul(d, types.DecimalFromInt(m)), 0)
		n, ok := ms.DecimalSmall()
		if !ok {
			return nil, bad()
		}
		return expr.Literal(types.IntValue(sign*n), types.Type{Kind: types.IntervalDayTime, NotNull: true, Precision: 3}), nil
	default:
		// DAY TO HOUR '1 10', DAY TO SECOND '1 10:20:30.5', HOUR TO MINUTE '10:20', MINUTE TO SECOND '20:30'
		fields := strings.FieldsFunc(val, func(r rune) bool { return r == ' ' || r == ':' })
		order := []string{"DAY", "HOUR", "MINUTE", "SECOND"}
		start := -1
		for i, u := range order {
			if u == l.Unit {
				start = i
			}
		}
		if start < 0 || start+len(fields) > len(order) || len(fields) == 0 {
			return nil, bad()
		}
		var total int64
		for i, f := range fields {
			d, err := types.ParseDecimal(f)
			if err != nil {
				return nil, bad()
			}
			ms := types.DecimalRescale(types.DecimalMul(d, types.DecimalFromInt(unitMillis[order[start+i]])), 0)
			n, _ := ms.DecimalSmall()
			total += n
		}
		return expr.Literal(types.IntValue(sign*total), types.Type{Kind: types.IntervalDayTime, NotNull: true, Precision: 3}), nil
	}
}

// exprName is the output name of a select item without alias: the column name for a column reference,
// EXPR$i otherwise (as Flink/Calcite name them).
func exprName(e sql.Expr, i int) string {
	for {
		p, ok := e.(*sql.Paren)
		if !ok {
			break
		}
		e = p.X
	}
	if c, ok := e.(*sql.ColumnRef); ok {
		return c.Parts[len(c.Parts)-1]
	}
	return fmt.Sprintf("EXPR$%d", i)
}

// collectAggs finds the aggregate calls of e (not nested in other aggregates), in order.
func collectAggs(e sql.Expr, out *[]*sql.FuncCall) {
	if e == nil {
		return
	}
	if f, ok := isAggCall(e); ok {
		*out = append(*out, f)
		return
	}
	switch e := e.(type) {
	case *sql.Paren:
		collectAggs(e.X, out)
	case *sql.Unary:
		collectAggs(e.X, out)
	case *sql.Binary:
		collectAggs(e.L, out)
		collectAggs(e.R, out)
	case *sql.FuncCall:
		for _, a := range e.Args {
			collectAggs(a, out)
		}
	case *sql.Case:
		collectAggs(e.Operand, out)
		for _, w := range e.Whens {
			collectAggs(w.Cond, out)
			collectAggs(w.Result, out)
		}
		collectAggs(e.Else, out)
	case *sql.Cast:
		collectAggs(e.X, out)
	case *sql.Between:
		collectAggs(e.X, out)
		collectAggs(e.Lo, out)
		collectAggs(e.Hi, out)
	case *sql.In:
		collectAggs(e.X, out)
		for _, a := range e.List {
			collectAggs(a, out)
		}
	case *sql.Like:
		collectAggs(e.X, out)
		collectAggs(e.Pattern, out)
	case *sql.IsTest:
		collectAggs(e.X, out)
	case *sql.Constructor:
		for _, a := range e.Elems {
			collectAggs(a, out)
		}
	case *sql.Index:
		collectAggs(e.X, out)
		collectAggs(e.Index, out)
	case *sql.FieldAccess:
		collectAggs(e.X, out)
	}
}

// aggCallFor binds one aggregate call's arguments into the pre-aggregation projection.
func (b *binder) aggCallFor(f *sql.FuncCall, sc *scope, pre *[]expr.Expr, preNames *[]string) (exec.AggCall, error) {
	call := exec.AggCall{Func: f.Name, Distinct: f.Distinct, Filter: -1}
	if f.Name == "COUNT" && (f.Star || len(f.Args) == 0) {
		call.Args = nil
	} else {
		for _, a := range f.Args {
			var nested []*sql.FuncCall
			collectAggs(a, &nested)
			if len(nested) > 0 {
				return call, sql.Errorf(nested[0].P, ErrValidation, "aggregate function calls cannot be nested: %s inside %s", nested[0].Name, f.Name)
			}
			x, err := b.expr(a, sc)
			if err != nil {
				return call, err
			}
			call.Args = append(call.Args, len(*pre))
			call.ArgTypes = append(call.ArgTypes, x.Type())
			*pre = append(*pre, x)
			*preNames = append(*preNames, fmt.Sprintf("$f%d", len(*pre)-1))
		}
	}
	if f.Filter != nil {
		x, err := b.expr(f.Filter, sc)
		if err != nil {
			return call, err
		}
		if x.Type().Kind != types.Boolean {
			return call, sql.Errorf(f.Filter.Position(), ErrValidation, "FILTER condition must be BOOLEAN, got %s", x.Type())
		}
		call.Filter = len(*pre)
		*pre = append(*pre, x)
		*preNames = append(*preNames, fmt.Sprintf("$f%d", len(*pre)-1))
	}
	t, err := exec.AggResultType(f.Name, f.Distinct, call.ArgTypes)
	if err != nil {
		return call, sql.Errorf(f.P, ErrValidation, "%s", err.Error())
	}
	call.Type = t
	return call, nil
}
