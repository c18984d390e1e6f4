package exec

import (
	"errors"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Vectorized evaluation (issue 14): expressions compile into kernels over whole columns. A kernel that meets
// a row it cannot compute exactly as the row path would (a division by zero, which the row path reports as
// an error; an int64 overflow inside DECIMAL arithmetic, which the row path computes with big integers)
// bails: the operator then processes the whole batch with the row path, which gives the same results and
// the same errors as before. Bail checks look only at selected rows.

// errBail makes the caller fall back to the row path for the batch.
var errBail = errors.New("vectorized evaluation bails")

// vexpr is a compiled expression. eval computes it for the rows of b (at least the selected ones) into a
// column of b.N slots that is valid until the next eval; it must not modify b's columns.
type vexpr interface {
	eval(b *vec.Batch) (*vec.Col, error)
}

// vcompiler compiles expressions and records which input columns they read, with their types.
type vcompiler struct {
	inTypes []types.Type // by input column index (Invalid where not read)

	// Common subexpressions (calc_vec_memo.go); shared is nil where nothing is shared.
	shared      map[string]int    // keys of subexpressions that occur more than once
	memos       map[string]*vmemo // their kernels (nil: no vector form)
	compiling   string            // the key whose own kernel is being compiled
	run         *uint64           // the Calc's run counter
	memoKernels int               // shared kernels compiled (for tests)

	// pinX compiles into pinK while set: an operand read by several kernels that are compiled from
	// expressions (the equalities of IN, calc_vec_inlist.go) evaluated once.
	pinX expr.Expr
	pinK vexpr

	// udfs allows calls of user functions (a Calc, whose row path replays their results: calc_vec_udf.go);
	// udfKernels are their kernels by call node.
	udfs       bool
	udfKernels map[expr.Expr]*vudf
}

func (c *vcompiler) use(i int, t types.Type) {
	for len(c.inTypes) <= i {
		c.inTypes = append(c.inTypes, types.Type{})
	}
	c.inTypes[i] = t
}

// reads lists the input columns read.
func (c *vcompiler) reads() []int {
	var out []int
	for i, t := range c.inTypes {
		if t.Kind != types.Invalid {
			out = append(out, i)
		}
	}
	return out
}

// intLike reports types held as Int64 columns whose order is the int64 order.
func intLike(t types.Type) bool {
	switch t.Kind {
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Date, types.Time,
		types.IntervalYearMonth, types.IntervalDayTime:
		return true
	}
	return false
}

func isFloat(t types.Type) bool { return t.Kind == types.Float || t.Kind == types.Double }

func intWidth(k types.Kind) uint {
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

// compile returns the kernel of x, or nil when x (or a part of it) has no vector form.
func (c *vcompiler) compile(x expr.Expr) vexpr {
	if c.pinX != nil && x == c.pinX {
		return c.pinK
	}
	if k, ok := c.memoized(x); ok {
		return k
	}
	if i, ok := expr.ColumnIndex(x); ok {
		if vec.ColFor(x.Type()).Kind == vec.Values {
			return nil
		}
		c.use(i, x.Type())
		return &vcol{idx: i}
	}
	if v, ok := expr.LiteralOf(x); ok {
		col := vec.ColFor(x.Type())
		if col.Kind == vec.Values {
			return &vvalsLit{v: v} // calc_vec_nested.go
		}
		if col.Kind == vec.Struct || !col.Append(0, v) {
			return nil
		}
		return &vlit{v: v, typ: x.Type(), one: col}
	}
	if in, try, overflowNull, ok := expr.CastParts(x); ok {
		if isNested(in.Type()) || isNested(x.Type()) {
			return c.compileNestedCast(x, in)
		}
		loc, _ := expr.SessionZone(x)
		if k := c.compileZoneCast(in, x.Type(), loc); k != nil {
			return k
		}
		if k := c.compileCast(in, x.Type()); k != nil {
			return k
		}
		if k := c.compileNumCast(in, x.Type(), try, overflowNull); k != nil || !in.Type().IsString() {
			return k
		}
		return c.compileStrCast(in, x.Type(), try, overflowNull, loc)
	}
	if conds, results, els, ok := expr.CaseParts(x); ok {
		return c.compileCase(x.Type(), conds, results, els)
	}
	if operand, ok := expr.InOperand(x); ok && isNested(operand.Type()) && operand.Type().Kind != types.Row {
		return c.compilePerRow(x) // IN over ARRAY, MAP or MULTISET values (calc_vec_nested.go)
	}
	if k := c.compileIn(x); k != nil {
		return k
	}
	if k := c.compileInKeyed(x); k != nil {
		return k
	}
	if k, ok := c.compileInRow(x); ok {
		return k
	}
	if operand, list, not, ok := expr.InListParts(x); ok {
		return c.compileInList(operand, list, not)
	}
	if unit, operand, ok := expr.ExtractParts(x); ok {
		return c.compileExtract(x, unit, operand)
	}
	if div, mod, operand, ok := expr.ExtractIntervalParts(x); ok {
		return c.compileExtractInterval(div, mod, operand)
	}
	if unit, ceil, operand, ok := expr.FloorCeilParts(x); ok {
		return c.compileFloorCeil(x, unit, ceil, operand)
	}
	name, args, ok := expr.CallParts(x)
	if !ok {
		if c.udfs && expr.IsUDFCall(x) {
			return c.compileUDF(x) // calc_vec_udf.go: called once per row, replayed by a retry
		}
		return c.compileVolatile(x)
	}
	rt := x.Type()
	switch name {
	case "UPPER", "LOWER", "CHAR_LENGTH", "CHARACTER_LENGTH", "POSITION", "SUBSTRING", "SUBSTR", "CONCAT", "||",
		"TRIM", "LTRIM", "RTRIM", "LIKE", "SPLIT_INDEX", "REGEXP_EXTRACT":
		if k := c.compileString(x, name, args); k != nil {
			return k
		}
		return c.compilePatternDyn(name, args)
	case "REGEXP":
		return c.compilePatternDyn(name, args)
	case "REGEXP_REPLACE":
		return c.compileRegexpReplace(args)
	case "COALESCE", "IFNULL", "IF", "NULLIF":
		return c.compileCond(x, name, args)
	case "REPLACE", "CONCAT_WS":
		return c.compileStrFn(name, args)
	case "LPAD", "RPAD":
		return c.compilePad(name == "LPAD", args)
	case "TIMESTAMPADD", "TIMESTAMPDIFF":
		return c.compileTimeUnit(x, name == "TIMESTAMPADD")
	case "GREATEST", "LEAST":
		return c.compileGreatest(rt, name == "GREATEST", args)
	case "ROUND", "TRUNCATE", "FLOOR", "CEIL", "CEILING":
		return c.compileRound(x, roundModes[name], args)
	case "TO_TIMESTAMP_LTZ":
		return c.compileToTimestampLTZ(args)
	case "DATE_FORMAT":
		return c.compileDateFormat(x, args)
	case "TO_TIMESTAMP", "UNIX_TIMESTAMP":
		return c.compileParseTs(x, name == "UNIX_TIMESTAMP", args)
	case "FROM_UNIXTIME":
		return c.compileFromUnixtime(x, args)

	case "ITEM":
		return c.compileItem(x, args)
	case "CARDINALITY":
		return c.compileCardinality(args)
	case "ARRAY", "MAP":
		return c.compilePerRow(x)
	case "ROW":
		return c.compileRowOperand(x)
	case "FIELD":
		row, idx, ok := expr.FieldAccess(x)
		if !ok {
			return nil
		}
		if k := vec.ColFor(rt).Kind; k == vec.Values {
			return nil
		}
		in := c.compile(row)
		if in == nil {
			return nil
		}
		return &vfield{x: in, idx: idx}
	case "AND", "OR":
		var ks []vexpr
		for _, a := range args {
			k := c.compile(a)
			if k == nil {
				return nil
			}
			ks = append(ks, k)
		}
		return &vlogic{and: name == "AND", args: ks}
	case "NOT":
		if k := c.compile(args[0]); k != nil {
			return &vnot{x: k}
		}
		return nil
	case "IS NULL", "IS NOT NULL":
		if k := c.compile(args[0]); k != nil {
			return &visnull{x: k, not: name == "IS NOT NULL"}
		}
		return nil
	case "=", "<>", "<", "<=", ">", ">=":
		return c.compileCompare(name, args[0], args[1])
	case "ABS":
		if len(args) == 1 {
			return c.compileNegAbs(true, args[0])
		}
		return nil
	case "+", "-", "*", "/", "%", "MOD":
		if name == "-" && len(args) == 1 {
			return c.compileNegAbs(false, args[0])
		}
		if len(args) != 2 {
			return nil
		}
		op := name[0]
		if name == "MOD" {
			op = '%'
		}
		return c.compileArith(op, rt, args[0], args[1])
	}
	return nil
}

// operands compiles two operands; a literal right operand is kept as a constant for the kernel, and a
// literal left operand of a commutative operator (+ * = <>) is moved to the right.
func (c *vcompiler) operands(a, b expr.Expr, commutes bool) (ka, kb vexpr, ok bool) {
	ka, kb = c.compile(a), c.compile(b)
	if _, isLit := ka.(*vlit); isLit && commutes {
		if _, both := kb.(*vlit); !both {
			ka, kb = kb, ka
		}
	}
	return ka, kb, ka != nil && kb != nil
}

func (c *vcompiler) compileCompare(op string, a, b expr.Expr) vexpr {
	ta, tb := a.Type(), b.Type()
	if ta.Kind == types.Row || tb.Kind == types.Row {
		return c.compileRowCompare(op, a, b)
	}
	var kind cmpKind
	if ta.Kind == types.Decimal && tb.Kind == types.Decimal && (isWideDec(ta) || isWideDec(tb)) {
		ka, kb := c.compile(a), c.compile(b)
		if ka == nil || kb == nil {
			return nil
		}
		return &vwideCmp{op: op, a: ka, b: kb, sa: ta.Scale, sb: tb.Scale}
	}
	if k, ok := c.compileDecCompare(op, a, b); ok {
		return k
	}
	switch {
	case ta.Kind == types.Null || tb.Kind == types.Null:
		return nil
	case intLike(ta) && intLike(tb) && (ta.IsIntegral() == tb.IsIntegral()) && (ta.IsIntegral() || ta.Kind == tb.Kind):
		kind = cmpInt
	case ta.Kind == types.Timestamp && tb.Kind == types.Timestamp, ta.Kind == types.TimestampLTZ && tb.Kind == types.TimestampLTZ:
		kind = cmpTimestamp
	case ta.Kind == types.Decimal && tb.Kind == types.Decimal && ta.Scale == tb.Scale:
		kind = cmpInt
	case (isFloat(ta) || ta.IsIntegral()) && (isFloat(tb) || tb.IsIntegral()) && (isFloat(ta) || isFloat(tb)):
		kind = cmpFloat
	case ta.IsString() && tb.IsString(), ta.IsBinary() && tb.IsBinary():
		kind = cmpBytes
	case ta.Kind == types.Boolean && tb.Kind == types.Boolean:
		kind = cmpBool
	default:
		return nil
	}
	ka, kb, ok := c.operands(a, b, op == "=" || op == "<>")
	if !ok {
		return nil
	}
	return &vcompare{op: op, kind: kind, a: ka, b: kb}
}

func (c *vcompiler) compileArith(op byte, rt types.Type, a, b expr.Expr) vexpr {
	ta, tb := a.Type(), b.Type()
	if ta.Kind == types.Null || tb.Kind == types.Null {
		return nil
	}
	if rt.Kind == types.Decimal && (isWideDec(rt) || isWideDec(ta) || isWideDec(tb)) {
		if op == '%' {
			return c.compileWideMod(rt, a, b)
		}
		return c.compileWideArith(op, rt, a, b)
	}
	switch {
	case rt.IsIntegral() && ta.IsIntegral() && tb.IsIntegral():
		ka, kb, ok := c.operands(a, b, op == '+' || op == '*')
		if !ok {
			return nil
		}
		return &vintArith{op: op, a: ka, b: kb, sh: 64 - intWidth(rt.Kind)}
	case isFloat(rt) && (ta.IsNumeric() && tb.IsNumeric()) && ta.Kind != types.Decimal && tb.Kind != types.Decimal && op != '%':
		ka, kb, ok := c.operands(a, b, op == '+' || op == '*')
		if !ok {
			return nil
		}
		return &vfloatArith{op: op, a: ka, b: kb, single: rt.Kind == types.Float}
	case isFloat(rt) && (ta.IsNumeric() && tb.IsNumeric()) && op != '%':
		return c.compileDecFloatArith(op, rt, a, b)
	case rt.Kind == types.Decimal && (op == '+' || op == '-' || op == '*'):
		sa, oka := decScale(ta)
		sb, okb := decScale(tb)
		if !oka || !okb {
			return nil
		}
		if op == '*' && sa+sb != rt.Scale || op != '*' && (sa > rt.Scale || sb > rt.Scale) {
			return nil
		}
		ka, kb, ok := c.operands(a, b, op == '*')
		if !ok {
			return nil
		}
		k := &vdecArith{op: op, a: ka, b: kb, prec: rt.Precision, scale: int32(rt.Scale)}
		if op != '*' {
			k.upA, k.upB = pow10(rt.Scale-sa), pow10(rt.Scale-sb)
		}
		return k
	case rt.Kind == types.Decimal && op == '/':
		return c.compileDecDiv(rt, a, b)
	case rt.Kind == types.Decimal && op == '%':
		return c.compileDecMod(rt, a, b)
	case (ta.Kind == types.Timestamp || ta.Kind == types.TimestampLTZ) && tb.Kind == types.IntervalDayTime && (op == '+' || op == '-'):
		ka, kb, ok := c.operands(a, b, false)
		if !ok {
			return nil
		}
		return &vtsArith{neg: op == '-', a: ka, b: kb}
	}
	return nil
}

// decScale is the scale of an exact numeric type as a DECIMAL (integers have scale 0).
func decScale(t types.Type) (int, bool) {
	if t.IsIntegral() {
		return 0, true
	}
	if t.Kind == types.Decimal {
		return t.Scale, true
	}
	return 0, false
}

func pow10(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

// compileCast compiles the casts whose results need no rounding decision of their own: integer widening,
// integer to FLOAT/DOUBLE, FLOAT to DOUBLE, integer to DECIMAL (a value that does not fit bails: the row
// path decides between NULL and an error), and casts that only change nullability or widen a TIMESTAMP.
func (c *vcompiler) compileCast(x expr.Expr, to types.Type) vexpr {
	from := x.Type()
	if to.Kind == types.Decimal && (from.Kind == types.Decimal || from.IsIntegral()) && (isWideDec(from) || isWideDec(to)) &&
		!(isWideDec(from) && from.Scale == to.Scale && from.Precision <= to.Precision) {
		return c.compileWideCast(x, to)
	}
	if isWideDec(from) && (to.IsIntegral() || isFloat(to)) {
		return c.compileWideTo(x, to, false)
	}
	switch {
	case from.IsIntegral() && to.IsIntegral() && intWidth(to.Kind) >= intWidth(from.Kind),
		from.Kind == types.Float && to.Kind == types.Double,
		from.Kind == to.Kind && (intLike(from) || isFloat(from) || from.Kind == types.Boolean),
		from.Kind == to.Kind && from.IsTimestamp() && to.Precision >= from.Precision,
		from.Kind == types.Decimal && to.Kind == types.Decimal && from.Scale == to.Scale && from.Precision <= to.Precision:
		return c.compile(x)
	case from.IsString() && to.Kind == types.VarChar && to.Length >= from.Length,
		from.IsBinary() && to.Kind == types.VarBinary && to.Length >= from.Length:
		return c.compile(x)
	case (to.Kind == types.VarChar || to.Kind == types.Char) && (from.IsIntegral() || from.Kind == types.Boolean || from.Kind == types.Decimal ||
		from.Kind == types.Date || isFloat(from) || from.Kind == types.Timestamp || from.Kind == types.Time):
		if k := c.compile(x); k != nil {
			return &vtoString{x: k, from: from, to: to}
		}
	case from.IsIntegral() && isFloat(to):
		if k := c.compile(x); k != nil {
			return &vtoFloat{x: k, single: to.Kind == types.Float}
		}
	case from.IsIntegral() && to.Kind == types.Decimal && to.Scale <= 18:
		if k := c.compile(x); k != nil {
			return &vdecArith{op: 'c', a: k, prec: to.Precision, scale: int32(to.Scale), upA: pow10(to.Scale)}
		}
	}
	return nil
}

func (c *vcompiler) compileCase(rt types.Type, conds, results []expr.Expr, els expr.Expr) vexpr {
	k := &vcase{typ: rt}
	for i := range conds {
		kc, kr := c.compile(conds[i]), c.compileOperand(results[i])
		if kc == nil || kr == nil || results[i].Type().Kind != rt.Kind || rt.Kind == types.Decimal && results[i].Type().Scale != rt.Scale {
			return nil
		}
		k.conds, k.results = append(k.conds, kc), append(k.results, kr)
	}
	if els != nil {
		if k.els = c.compileOperand(els); k.els == nil || els.Type().Kind != rt.Kind || rt.Kind == types.Decimal && els.Type().Scale != rt.Scale {
			return nil
		}
	}
	return k
}
