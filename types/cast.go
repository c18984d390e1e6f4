package types

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ParseBool parses a boolean as Flink's CAST(string AS BOOLEAN): case-insensitive, trimmed; true for
// 't', 'true', 'y', 'yes', '1'; false for 'f', 'false', 'n', 'no', '0'. ok is false otherwise.
func ParseBool(s string) (value bool, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) > 5 {
		return false, false
	}
	switch strings.ToLower(s) {
	case "t", "true", "y", "yes", "1":
		return true, true
	case "f", "false", "n", "no", "0":
		return false, true
	}
	return false, false
}

// intRange returns the bounds of an integral kind.
func intRange(k Kind) (int64, int64) {
	switch k {
	case TinyInt:
		return math.MinInt8, math.MaxInt8
	case SmallInt:
		return math.MinInt16, math.MaxInt16
	case Int:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

func outOfRange(text string, to Type) error {
	return fmt.Errorf("value %s is out of range for %s", text, to.WithNullable(true))
}

// ErrDecimalOverflow is in the chain of Cast's error for a number that does not fit DECIMAL(p, s). SQL's
// CAST turns it into NULL, as Flink's castToDecimal does.
var ErrDecimalOverflow = errors.New("decimal overflow")

// DecimalOutOfRange is the error of a value (as text) that does not fit the DECIMAL type to; it wraps
// ErrDecimalOverflow.
func DecimalOutOfRange(text string, to Type) error {
	return fmt.Errorf("value %s is out of range for %s%w", text, to.WithNullable(true), decimalOverflow{})
}

// decimalOverflow adds nothing to the message and unwraps to ErrDecimalOverflow.
type decimalOverflow struct{}

func (decimalOverflow) Error() string { return "" }
func (decimalOverflow) Unwrap() error { return ErrDecimalOverflow }

func invalidCast(v Value, from, to Type, loc *time.Location) error {
	return fmt.Errorf("cannot cast '%s' of type %s to %s", AppendSQL(nil, v, from, loc), from.WithNullable(true), to.WithNullable(true))
}

// Cast converts v from type from to type to, following Flink's (1.15+) CAST rules. A NULL value casts to
// NULL. Errors (the caller turns them into NULL for TRY_CAST):
//
//   - numeric overflow: integer narrowing (BIGINT 300 → TINYINT), FLOAT/DOUBLE/DECIMAL → integer out of
//     range or NaN, and a value exceeding DECIMAL(p, s) fail with "value … is out of range for …". (Flink
//     itself wraps integers like Java casts; Sluice reports an error.) The decimal overflow error wraps
//     ErrDecimalOverflow: SQL's CAST returns NULL for it, as Flink does.
//   - text that does not parse as the target type (surrounding spaces are trimmed).
//   - a cast CastSupported rejects.
//
// Conversions: to DECIMAL rounds HALF_UP; DECIMAL/FLOAT/DOUBLE → integer truncates toward zero; BOOLEAN ↔
// numeric is 1/0 and non-zero; anything → CHAR/VARCHAR is AppendSQL, then CHAR(n) pads with spaces or
// truncates and VARCHAR(n) truncates (counting characters); BINARY(n) pads with zero bytes, VARBINARY(n)
// truncates; STRING ↔ BYTES is UTF-8; TIMESTAMP ↔ TIMESTAMP_LTZ goes through loc (UTC when nil); lower
// TIMESTAMP/TIME precision truncates; TIMESTAMP → DATE/TIME takes the date/time of day, DATE → TIMESTAMP is
// midnight; ARRAY, MULTISET, MAP and ROW cast element by element (ROW by position).
func Cast(v Value, from, to Type, loc *time.Location) (Value, error) {
	if v.T == TagNull {
		return NullValue, nil
	}
	if loc == nil {
		loc = time.UTC
	}
	switch to.Kind {
	case Char, VarChar:
		return castToString(v, from, to, loc), nil
	case Binary, VarBinary:
		var b string
		switch {
		case v.T == TagBytes || v.T == TagString:
			b = v.S
		default:
			return NullValue, invalidCast(v, from, to, loc)
		}
		return Value{T: TagBytes, S: fitBinary(b, to)}, nil
	case Boolean:
		switch v.T {
		case TagBool:
			return v, nil
		case TagInt:
			return BoolValue(v.I != 0), nil
		case TagFloat:
			return BoolValue(v.Float() != 0), nil
		case TagDecimal:
			return BoolValue(decSign(v) != 0), nil
		case TagString:
			b, ok := ParseBool(v.S)
			if !ok {
				return NullValue, fmt.Errorf("cannot parse '%s' as BOOLEAN", v.S)
			}
			return BoolValue(b), nil
		}
	case TinyInt, SmallInt, Int, BigInt:
		return castToInt(v, from, to, loc)
	case Float, Double:
		var f float64
		switch v.T {
		case TagFloat:
			f = v.Float()
		case TagInt, TagBool:
			f = float64(v.I)
		case TagDecimal:
			f = DecimalToFloat(v)
		case TagString:
			var err error
			f, err = parseJavaDouble(v.S)
			if err != nil {
				return NullValue, fmt.Errorf("cannot parse '%s' as %s", v.S, to.WithNullable(true))
			}
		default:
			return NullValue, invalidCast(v, from, to, loc)
		}
		if to.Kind == Float {
			f = float64(float32(f))
		}
		return FloatValue(f), nil
	case Decimal:
		return castToDecimal(v, from, to)
	case Date:
		switch v.T {
		case TagDate:
			return v, nil
		case TagTimestamp:
			if from.Kind == TimestampLTZ {
				v = TimestampToLocal(v, loc)
			}
			return TimestampDate(v), nil
		case TagString:
			d, err := ParseDate(v.S)
			if err != nil {
				ts, err2 := ParseTimestamp(v.S, 9)
				if err2 != nil {
					return NullValue, err
				}
				return TimestampDate(ts), nil
			}
			return d, nil
		}
	case Time:
		switch v.T {
		case TagTime:
			return TruncateTime(v, to.Precision), nil
		case TagTimestamp:
			if from.Kind == TimestampLTZ {
				v = TimestampToLocal(v, loc)
			}
			return TruncateTime(TimestampTime(v), to.Precision), nil
		case TagString:
			t, err := ParseTime(v.S)
			if err != nil {
				ts, err2 := ParseTimestamp(v.S, 9)
				if err2 != nil {
					return NullValue, err
				}
				t = TimestampTime(ts)
			}
			return TruncateTime(t, to.Precision), nil
		}
	case Timestamp, TimestampLTZ:
		var wall Value // the value as a wall clock (TIMESTAMP) or instant (TIMESTAMP_LTZ source)
		isInstant := false
		switch v.T {
		case TagTimestamp:
			wall = v
			isInstant = from.Kind == TimestampLTZ
		case TagDate:
			wall = TimestampValue(v.I*millisPerDay, 0)
		case TagString:
			ts, err := ParseTimestamp(v.S, 9)
			if err != nil {
				return NullValue, err
			}
			wall = ts
		default:
			return NullValue, invalidCast(v, from, to, loc)
		}
		switch {
		case to.Kind == Timestamp && isInstant:
			wall = TimestampToLocal(wall, loc)
		case to.Kind == TimestampLTZ && !isInstant:
			wall = TimestampFromLocal(wall, loc)
		}
		return TruncateTimestamp(wall, to.Precision), nil
	case IntervalYearMonth, IntervalDayTime:
		if v.T == TagInt && from.Kind == to.Kind {
			return v, nil
		}
	case Array, Multiset:
		if v.T != TagArray || (from.Kind != Array && from.Kind != Multiset) {
			break
		}
		fe, te := elemType(from), elemType(to)
		src := v.Array()
		out := make([]Value, len(src))
		for i, e := range src {
			c, err := Cast(e, fe, te, loc)
			if err != nil {
				return NullValue, err
			}
			out[i] = c
		}
		return ArrayValue(out), nil
	case Map:
		if v.T != TagMap {
			break
		}
		m := v.Map()
		if m == nil {
			return v, nil
		}
		out := &MapValue{Keys: make([]Value, len(m.Keys)), Vals: make([]Value, len(m.Vals))}
		for i := range m.Keys {
			k, err := Cast(m.Keys[i], keyType(from), keyType(to), loc)
			if err != nil {
				return NullValue, err
			}
			x, err := Cast(m.Vals[i], elemType(from), elemType(to), loc)
			if err != nil {
				return NullValue, err
			}
			out.Keys[i], out.Vals[i] = k, x
		}
		return MapOf(out), nil
	case Row:
		if v.T != TagRow {
			break
		}
		src := v.Fields()
		if len(src) != len(to.Fields) {
			break
		}
		out := make([]Value, len(src))
		for i, f := range src {
			var ft Type
			if i < len(from.Fields) {
				ft = from.Fields[i].Type
			}
			c, err := Cast(f, ft, to.Fields[i].Type, loc)
			if err != nil {
				return NullValue, err
			}
			out[i] = c
		}
		return RowValue(out), nil
	case Null:
		return NullValue, nil
	}
	return NullValue, invalidCast(v, from, to, loc)
}

// parseJavaDouble parses text as Java's Double.parseDouble: trimmed, optional trailing d/D/f/F, NaN,
// [+-]Infinity, decimal and hexadecimal floats.
func parseJavaDouble(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if n := len(t); n > 1 && strings.ContainsRune("dDfF", rune(t[n-1])) && t[n-2] != 'n' && t[n-2] != 'N' {
		t = t[:n-1]
	}
	switch t {
	case "NaN":
		return math.NaN(), nil
	case "Infinity", "+Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	if t == "" || strings.ContainsAny(t, "_iInN") { // Go accepts "inf", "nan" and underscores; Java does not
		return 0, strconv.ErrSyntax
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, nil // ±Inf or 0, as Java
		}
		return 0, err
	}
	return f, nil
}

func castToInt(v Value, from, to Type, loc *time.Location) (Value, error) {
	lo, hi := intRange(to.Kind)
	var x int64
	switch v.T {
	case TagInt, TagBool:
		x = v.I
	case TagFloat:
		f := math.Trunc(v.Float())
		if f != f || f < float64(lo) || f >= -float64(lo) {
			return NullValue, outOfRange(string(AppendJavaDouble(nil, v.Float())), to)
		}
		x = int64(f)
	case TagDecimal:
		var ok bool
		x, ok = DecimalToInt(v)
		if !ok {
			return NullValue, outOfRange(DecimalString(v), to)
		}
	case TagString:
		var err error
		x, err = parseJavaLong(v.S)
		if err == strconv.ErrRange {
			return NullValue, outOfRange(strings.TrimSpace(v.S), to)
		}
		if err != nil {
			return NullValue, fmt.Errorf("cannot parse '%s' as %s", v.S, to.WithNullable(true))
		}
	default:
		return NullValue, invalidCast(v, from, to, loc)
	}
	if x < lo || x > hi {
		return NullValue, outOfRange(strconv.FormatInt(x, 10), to)
	}
	return IntValue(x), nil
}

// parseJavaLong parses an integer as Flink's BinaryStringDataUtil.toLong: trimmed, optional sign, digits,
// and an optional fraction that is ignored ('1.9' → 1).
func parseJavaLong(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	neg := false
	if i < len(t) && (t[i] == '+' || t[i] == '-') {
		neg = t[i] == '-'
		i++
	}
	start := i
	var u uint64
	for ; i < len(t) && t[i] >= '0' && t[i] <= '9'; i++ {
		d := uint64(t[i] - '0')
		if u > (math.MaxUint64-d)/10 {
			return 0, strconv.ErrRange
		}
		u = u*10 + d
	}
	if i == start {
		return 0, strconv.ErrSyntax
	}
	if i < len(t) && t[i] == '.' {
		i++
		for ; i < len(t) && t[i] >= '0' && t[i] <= '9'; i++ {
		}
	}
	if i != len(t) {
		return 0, strconv.ErrSyntax
	}
	if neg {
		if u > 1<<63 {
			return 0, strconv.ErrRange
		}
		return int64(-u), nil
	}
	if u > math.MaxInt64 {
		return 0, strconv.ErrRange
	}
	return int64(u), nil
}

func castToDecimal(v Value, from, to Type) (Value, error) {
	var d Value
	switch v.T {
	case TagDecimal:
		d = v
	case TagInt, TagBool:
		d = DecimalFromInt(v.I)
	case TagFloat:
		var err error
		if from.Kind == Float {
			d, err = decimalFromFloat32(float32(v.Float()), to.Scale)
		} else {
			d, err = DecimalFromFloat(v.Float(), to.Scale)
		}
		if err != nil {
			return NullValue, outOfRange(string(AppendJavaDouble(nil, v.Float())), to)
		}
	case TagString:
		var err error
		d, err = ParseDecimal(v.S)
		if err != nil {
			return NullValue, fmt.Errorf("cannot parse '%s' as %s", v.S, to.WithNullable(true))
		}
	default:
		return NullValue, invalidCast(v, from, to, time.UTC)
	}
	r := DecimalRescale(d, to.Scale)
	if !DecimalFits(r, to.Precision, to.Scale) {
		return NullValue, DecimalOutOfRange(DecimalString(d), to)
	}
	return r, nil
}

func castToString(v Value, from, to Type, loc *time.Location) Value {
	var s string
	if v.T == TagString {
		s = v.S
	} else {
		s = string(AppendSQL(nil, v, from, loc))
	}
	return StringValue(fitString(s, to))
}

// fitString applies CHAR(n) padding/truncation and VARCHAR(n) truncation, counting characters.
func fitString(s string, to Type) string {
	n := to.Length
	if n <= 0 || n >= MaxLength {
		return s
	}
	if len(s) > n { // may be longer than n characters
		i, c := 0, 0
		for i < len(s) && c < n {
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
			c++
		}
		s = s[:i]
	}
	if to.Kind == Char {
		if c := utf8.RuneCountInString(s); c < n {
			s += strings.Repeat(" ", n-c)
		}
	}
	return s
}

// fitBinary applies BINARY(n) zero padding/truncation and VARBINARY(n) truncation.
func fitBinary(b string, to Type) string {
	n := to.Length
	if n <= 0 || n >= MaxLength {
		return b
	}
	if len(b) > n {
		b = b[:n]
	}
	if to.Kind == Binary && len(b) < n {
		b += strings.Repeat("\x00", n-len(b))
	}
	return b
}

// CastSupported reports whether CAST(x AS to) is allowed for x of type from (Flink's explicit casts):
// NULL to anything; anything to CHAR/VARCHAR; CHAR/VARCHAR to BOOLEAN, numerics, DATE, TIME, TIMESTAMP,
// TIMESTAMP_LTZ and BINARY/VARBINARY; BOOLEAN ↔ numerics; numerics among themselves; BINARY ↔ BINARY;
// DATE ↔ TIMESTAMP/TIMESTAMP_LTZ; TIMESTAMP/TIMESTAMP_LTZ → TIME; TIME → TIME; timestamps among
// themselves; an interval to itself; ARRAY/MULTISET, MAP and ROW (same arity) when their elements cast.
func CastSupported(from, to Type) bool {
	if from.Kind == Null || from.EqualIgnoringNull(to) {
		return true
	}
	switch to.Kind {
	case Char, VarChar:
		return from.Kind != Invalid
	case Binary, VarBinary:
		return from.IsBinary() || from.IsString()
	case Boolean:
		return from.Kind == Boolean || from.IsNumeric() || from.IsString()
	case TinyInt, SmallInt, Int, BigInt, Float, Double, Decimal:
		return from.IsNumeric() || from.Kind == Boolean || from.IsString()
	case Date:
		return from.Kind == Date || from.IsTimestamp() || from.IsString()
	case Time:
		return from.Kind == Time || from.IsTimestamp() || from.IsString()
	case Timestamp, TimestampLTZ:
		return from.IsTimestamp() || from.Kind == Date || from.IsString()
	case IntervalYearMonth, IntervalDayTime:
		return from.Kind == to.Kind
	case Array, Multiset:
		return (from.Kind == Array || from.Kind == Multiset) && from.Kind == to.Kind &&
			CastSupported(elemType(from), elemType(to))
	case Map:
		return from.Kind == Map && CastSupported(keyType(from), keyType(to)) &&
			CastSupported(elemType(from), elemType(to))
	case Row:
		if from.Kind != Row || len(from.Fields) != len(to.Fields) {
			return false
		}
		for i := range from.Fields {
			if !CastSupported(from.Fields[i].Type, to.Fields[i].Type) {
				return false
			}
		}
		return true
	}
	return false
}

// ImplicitCastSupported reports whether a value of type from may be used where to is expected without an
// explicit CAST (INSERT INTO sink columns, function arguments), following Flink's LogicalTypeCasts implicit
// rules plus DATE → TIMESTAMP: identical types ignoring nullability (NOT NULL is enforced at runtime by the
// sink); NULL to anything; integer widening (TINYINT → SMALLINT → INT → BIGINT); any numeric → DECIMAL of
// any precision (values are checked when cast) and → DOUBLE; integers/DECIMAL/FLOAT → FLOAT; CHAR → CHAR;
// CHAR/VARCHAR → VARCHAR; BINARY → BINARY; BINARY/VARBINARY → VARBINARY; TIMESTAMP/DATE → TIMESTAMP(any
// precision); TIMESTAMP_LTZ → TIMESTAMP_LTZ; TIMESTAMP → DATE; TIME/TIMESTAMP → TIME; and element-wise for
// ARRAY, MULTISET, MAP and ROW. Narrowing (BIGINT → INT, DOUBLE → INT) and parsing (STRING → INT) are not
// implicit.
func ImplicitCastSupported(from, to Type) bool {
	if from.Kind == Null || from.EqualIgnoringNull(to) {
		return true
	}
	switch to.Kind {
	case TinyInt, SmallInt, Int, BigInt:
		return from.IsIntegral() && intRank(from.Kind) <= intRank(to.Kind)
	case Decimal, Double:
		return from.IsNumeric()
	case Float:
		return from.IsIntegral() || from.Kind == Decimal || from.Kind == Float
	case Char:
		return from.Kind == Char
	case VarChar:
		return from.IsString()
	case Binary:
		return from.Kind == Binary
	case VarBinary:
		return from.IsBinary()
	case Timestamp:
		return from.Kind == Timestamp || from.Kind == Date
	case TimestampLTZ:
		return from.Kind == TimestampLTZ
	case Date:
		return from.Kind == Date || from.Kind == Timestamp
	case Time:
		return from.Kind == Time || from.Kind == Timestamp
	case Boolean, IntervalYearMonth, IntervalDayTime:
		return from.Kind == to.Kind
	case Array, Multiset:
		return from.Kind == to.Kind && ImplicitCastSupported(elemType(from), elemType(to))
	case Map:
		return from.Kind == Map && ImplicitCastSupported(keyType(from), keyType(to)) &&
			ImplicitCastSupported(elemType(from), elemType(to))
	case Row:
		if from.Kind != Row || len(from.Fields) != len(to.Fields) {
			return false
		}
		for i := range from.Fields {
			if !ImplicitCastSupported(from.Fields[i].Type, to.Fields[i].Type) {
				return false
			}
		}
		return true
	}
	return false
}

// CommonType returns the least restrictive type of ts (UNION, CASE, COALESCE, IN, VALUES): NULL types are
// ignored; integers widen; integer with DECIMAL is a DECIMAL with max integer digits and max scale (capped
// at 38); anything numeric with DOUBLE is DOUBLE, with FLOAT is FLOAT (DOUBLE with a DECIMAL); CHAR(n) of
// equal n stays CHAR(n), otherwise strings are VARCHAR(max length); BINARY likewise; TIMESTAMP and DATE
// give TIMESTAMP of the max precision; TIMESTAMP with TIMESTAMP_LTZ gives TIMESTAMP_LTZ; ARRAY/MAP/ROW
// merge element-wise. The result is nullable if any input is (or is the NULL type). ok is false when the
// types are incompatible.
func CommonType(ts ...Type) (Type, bool) {
	var acc Type
	have := false
	nullable := false
	for _, t := range ts {
		if t.Kind == Null {
			nullable = true
			continue
		}
		if t.Nullable() {
			nullable = true
		}
		if !have {
			acc, have = t, true
			continue
		}
		r, ok := commonPair(acc, t)
		if !ok {
			return Type{}, false
		}
		acc = r
	}
	if !have {
		if len(ts) == 0 {
			return Type{}, false
		}
		return NullType(), true
	}
	return acc.WithNullable(nullable), true
}

func commonPair(a, b Type) (Type, bool) {
	if a.EqualIgnoringNull(b) {
		return a, true
	}
	switch {
	case a.IsNumeric() && b.IsNumeric():
		switch {
		case a.Kind == Double || b.Kind == Double:
			return DoubleType(), true
		case a.Kind == Float || b.Kind == Float:
			if a.Kind == Decimal || b.Kind == Decimal {
				return DoubleType(), true
			}
			return FloatType(), true
		case a.Kind == Decimal || b.Kind == Decimal:
			p1, s1 := asDecimal(a)
			p2, s2 := asDecimal(b)
			s := max(s1, s2)
			ip := max(p1-s1, p2-s2)
			p := min(ip+s, MaxDecimalPrecision)
			return DecimalType(p, min(s, p)), true
		}
		if intRank(a.Kind) >= intRank(b.Kind) {
			return a, true
		}
		return b, true
	case a.IsString() && b.IsString():
		if a.Kind == Char && b.Kind == Char && a.Length == b.Length {
			return CharType(a.Length), true
		}
		return VarCharType(max(a.Length, b.Length)), true
	case a.IsBinary() && b.IsBinary():
		if a.Kind == Binary && b.Kind == Binary && a.Length == b.Length {
			return Type{Kind: Binary, Length: a.Length}, true
		}
		return Type{Kind: VarBinary, Length: max(a.Length, b.Length)}, true
	case (a.IsTimestamp() || a.Kind == Date) && (b.IsTimestamp() || b.Kind == Date):
		if a.Kind == Date && b.Kind == Date {
			return DateType(), true
		}
		p := 0
		kind := Timestamp
		for _, t := range []Type{a, b} {
			if t.IsTimestamp() {
				p = max(p, t.Precision)
			}
			if t.Kind == TimestampLTZ {
				kind = TimestampLTZ
			}
		}
		return Type{Kind: kind, Precision: p}, true
	case a.Kind == Time && b.Kind == Time:
		return TimeType(max(a.Precision, b.Precision)), true
	case a.Kind == b.Kind && (a.Kind == Array || a.Kind == Multiset):
		e, ok := CommonType(elemType(a), elemType(b))
		if !ok {
			return Type{}, false
		}
		return Type{Kind: a.Kind, Elem: &e}, true
	case a.Kind == Map && b.Kind == Map:
		k, ok1 := CommonType(keyType(a), keyType(b))
		v, ok2 := CommonType(elemType(a), elemType(b))
		if !ok1 || !ok2 {
			return Type{}, false
		}
		return MapType(k, v), true
	case a.Kind == Row && b.Kind == Row && len(a.Fields) == len(b.Fields):
		fs := make([]Field, len(a.Fields))
		for i := range a.Fields {
			ft, ok := CommonType(a.Fields[i].Type, b.Fields[i].Type)
			if !ok {
				return Type{}, false
			}
			fs[i] = Field{Name: a.Fields[i].Name, Type: ft, Description: a.Fields[i].Description}
		}
		return RowType(fs...), true
	case a.Kind == b.Kind:
		return a, true
	}
	return Type{}, false
}
