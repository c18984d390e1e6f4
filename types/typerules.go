package types

import "fmt"

// minAdjustedScale is the scale Flink keeps at least when a decimal result exceeds 38 digits
// (LogicalTypeMerging.MINIMUM_ADJUSTED_SCALE).
const minAdjustedScale = 6

// adjustPrecisionScale caps a decimal result type at 38 digits as Flink's LogicalTypeMerging does: the
// integer digits are kept and the scale shrinks, but not below min(scale, 6).
func adjustPrecisionScale(precision, scale int) Type {
	if precision <= MaxDecimalPrecision {
		return DecimalType(precision, scale)
	}
	digitPart := precision - scale
	minScale := min(scale, minAdjustedScale)
	return DecimalType(MaxDecimalPrecision, max(MaxDecimalPrecision-digitPart, minScale))
}

// asDecimal returns the decimal view of an exact numeric type: integers become DECIMAL(3/5/10/19, 0).
func asDecimal(t Type) (p, s int) {
	switch t.Kind {
	case TinyInt:
		return 3, 0
	case SmallInt:
		return 5, 0
	case Int:
		return 10, 0
	case BigInt:
		return 19, 0
	case Decimal:
		return t.Precision, t.Scale
	}
	return MaxDecimalPrecision, 0
}

func nullableOf(t Type, ts ...Type) Type {
	n := false
	for _, x := range ts {
		n = n || x.Nullable()
	}
	return t.WithNullable(n)
}

// DecimalAddType is the type of a+b or a-b for exact numerics (at least one DECIMAL): scale max(s1, s2),
// precision max(p1-s1, p2-s2) + scale + 1, capped at 38 (Flink's findAdditionDecimalType).
func DecimalAddType(a, b Type) Type {
	p1, s1 := asDecimal(a)
	p2, s2 := asDecimal(b)
	s := max(s1, s2)
	return nullableOf(adjustPrecisionScale(max(p1-s1, p2-s2)+s+1, s), a, b)
}

// DecimalMulType is the type of a*b: DECIMAL(p1+p2+1, s1+s2), capped at 38 (findMultiplicationDecimalType).
func DecimalMulType(a, b Type) Type {
	p1, s1 := asDecimal(a)
	p2, s2 := asDecimal(b)
	return nullableOf(adjustPrecisionScale(p1+p2+1, s1+s2), a, b)
}

// DecimalDivType is the type of a/b: scale max(6, s1+p2+1), precision p1-s1+s2+scale, capped at 38
// (findDivisionDecimalType).
func DecimalDivType(a, b Type) Type {
	p1, s1 := asDecimal(a)
	p2, s2 := asDecimal(b)
	s := max(minAdjustedScale, s1+p2+1)
	return nullableOf(adjustPrecisionScale(p1-s1+s2+s, s), a, b)
}

// DecimalModType is the type of a%b: scale max(s1, s2), precision min(p1-s1, p2-s2) + scale
// (findModuloDecimalType).
func DecimalModType(a, b Type) Type {
	p1, s1 := asDecimal(a)
	p2, s2 := asDecimal(b)
	s := max(s1, s2)
	return nullableOf(adjustPrecisionScale(min(p1-s1, p2-s2)+s, s), a, b)
}

// SumResultType is the type of SUM(arg) in Flink: DECIMAL(p, s) → DECIMAL(38, s); every other numeric
// type is kept (SUM(INT) is INT, SUM(DOUBLE) is DOUBLE). Nullability follows the argument, as in Flink's
// findSumAggType; the planner makes it nullable where an empty group can occur.
func SumResultType(arg Type) Type {
	if arg.Kind == Decimal {
		return DecimalType(MaxDecimalPrecision, arg.Scale).WithNullable(arg.Nullable())
	}
	return arg
}

// AvgResultType is the type of AVG(arg) in Flink: DECIMAL(p, s) → DECIMAL(38, max(6, s)); every other type
// is kept, so AVG of an integer column is an integer (the division truncates).
func AvgResultType(arg Type) Type {
	if arg.Kind == Decimal {
		p1, s1 := MaxDecimalPrecision, arg.Scale
		s := max(minAdjustedScale, s1+20+1)
		return adjustPrecisionScale(p1-s1+s, s).WithNullable(arg.Nullable())
	}
	return arg
}

func intRank(k Kind) int {
	switch k {
	case TinyInt:
		return 1
	case SmallInt:
		return 2
	case Int:
		return 3
	case BigInt:
		return 4
	}
	return 0
}

// ArithmeticType is the result type of a binary arithmetic operator (op is one of + - * / %).
//
// Numerics: two integers widen to the larger (TINYINT < SMALLINT < INT < BIGINT; / is integer division,
// % has the type of the divisor as in Calcite); DOUBLE with anything numeric is DOUBLE; FLOAT with an
// integer or FLOAT is FLOAT, with DECIMAL it is DOUBLE; a DECIMAL with an integer treats the integer as
// DECIMAL(3/5/10/19, 0) and follows the Decimal*Type rules. % is not defined on FLOAT/DOUBLE.
//
// Temporal: TIMESTAMP/TIMESTAMP_LTZ/DATE/TIME ± interval keeps the temporal type (interval + temporal too);
// interval ± interval of the same kind is that interval; interval * numeric and interval / numeric is the
// interval. The result is nullable when any input is.
func ArithmeticType(op string, a, b Type) (Type, error) {
	bad := func() (Type, error) {
		return Type{}, fmt.Errorf("cannot apply '%s' to arguments of type '%s %s %s'", op, a, op, b)
	}
	switch op {
	case "+", "-", "*", "/", "%":
	default:
		return Type{}, fmt.Errorf("unknown arithmetic operator %q", op)
	}
	if a.Kind == Null && b.Kind == Null {
		return bad()
	}
	// An untyped NULL takes the other side's type.
	if a.Kind == Null {
		return ArithmeticType(op, b.WithNullable(true), b)
	}
	if b.Kind == Null {
		return ArithmeticType(op, a, a.WithNullable(true))
	}
	if a.IsNumeric() && b.IsNumeric() {
		return numericArithmeticType(op, a, b)
	}
	isIv := func(t Type) bool { return t.Kind == IntervalYearMonth || t.Kind == IntervalDayTime }
	isTemporal := func(t Type) bool {
		return t.Kind == Date || t.Kind == Time || t.Kind == Timestamp || t.Kind == TimestampLTZ
	}
	switch op {
	case "+", "-":
		if isTemporal(a) && isIv(b) {
			if a.Kind == Time && b.Kind == IntervalYearMonth {
				return bad()
			}
			return nullableOf(a, a, b), nil
		}
		if op == "+" && isIv(a) && isTemporal(b) {
			if b.Kind == Time && a.Kind == IntervalYearMonth {
				return bad()
			}
			return nullableOf(b, a, b), nil
		}
		if isIv(a) && a.Kind == b.Kind {
			return nullableOf(a, a, b), nil
		}
	case "*":
		if isIv(a) && b.IsNumeric() {
			return nullableOf(a, a, b), nil
		}
		if a.IsNumeric() && isIv(b) {
			return nullableOf(b, a, b), nil
		}
	case "/":
		if isIv(a) && b.IsNumeric() {
			return nullableOf(a, a, b), nil
		}
	}
	return bad()
}

func numericArithmeticType(op string, a, b Type) (Type, error) {
	approx := func(t Type) bool { return t.Kind == Float || t.Kind == Double }
	if approx(a) || approx(b) {
		if op == "%" {
			return Type{}, fmt.Errorf("cannot apply '%%' to arguments of type '%s %% %s'", a, b)
		}
		if a.Kind == Double || b.Kind == Double || a.Kind == Decimal || b.Kind == Decimal {
			return nullableOf(DoubleType(), a, b), nil
		}
		return nullableOf(FloatType(), a, b), nil
	}
	if a.Kind == Decimal || b.Kind == Decimal {
		switch op {
		case "+", "-":
			return DecimalAddType(a, b), nil
		case "*":
			return DecimalMulType(a, b), nil
		case "/":
			return DecimalDivType(a, b), nil
		default:
			return DecimalModType(a, b), nil
		}
	}
	if op == "%" {
		return nullableOf(b, a, b), nil
	}
	if intRank(a.Kind) >= intRank(b.Kind) {
		return nullableOf(a, a, b), nil
	}
	return nullableOf(b, a, b), nil
}

// RowTypeOf builds a ROW type from parallel slices of field names and types.
func RowTypeOf(names []string, ts []Type) Type {
	fs := make([]Field, len(ts))
	for i := range ts {
		name := fmt.Sprintf("EXPR$%d", i)
		if i < len(names) {
			name = names[i]
		}
		fs[i] = Field{Name: name, Type: ts[i]}
	}
	return RowType(fs...)
}

// Validate checks the parameters of a type: lengths ≥ 1, DECIMAL precision 1..38 and scale 0..precision,
// TIME/TIMESTAMP precision 0..9, and element types present and valid.
func (t Type) Validate() error {
	switch t.Kind {
	case Invalid:
		return fmt.Errorf("invalid type")
	case Char, VarChar, Binary, VarBinary:
		if t.Length < 1 {
			return fmt.Errorf("%s: length must be between 1 and %d", t, MaxLength)
		}
	case Decimal:
		if t.Precision < 1 || t.Precision > MaxDecimalPrecision {
			return fmt.Errorf("%s: precision must be between 1 and %d", t, MaxDecimalPrecision)
		}
		if t.Scale < 0 || t.Scale > t.Precision {
			return fmt.Errorf("%s: scale must be between 0 and the precision %d", t, t.Precision)
		}
	case Time, Timestamp, TimestampLTZ:
		if t.Precision < 0 || t.Precision > 9 {
			return fmt.Errorf("%s: precision must be between 0 and 9", t)
		}
	case Array, Multiset:
		if t.Elem == nil {
			return fmt.Errorf("%s: missing element type", t)
		}
		return t.Elem.Validate()
	case Map:
		if t.Key == nil || t.Elem == nil {
			return fmt.Errorf("%s: missing key or value type", t)
		}
		if err := t.Key.Validate(); err != nil {
			return err
		}
		return t.Elem.Validate()
	case Row:
		seen := make(map[string]bool, len(t.Fields))
		for _, f := range t.Fields {
			if seen[f.Name] {
				return fmt.Errorf("%s: duplicate field name %q", t, f.Name)
			}
			seen[f.Name] = true
			if err := f.Type.Validate(); err != nil {
				return fmt.Errorf("field %q: %w", f.Name, err)
			}
		}
	}
	return nil
}
