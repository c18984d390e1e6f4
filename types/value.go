package types

import (
	"math"
	"math/big"
)

// Tag says which representation a Value holds. It is independent of the logical type: several logical
// types share a representation (all integers are TagInt; TIMESTAMP and TIMESTAMP_LTZ are TagTimestamp).
type Tag uint8

const (
	TagNull Tag = iota
	TagBool
	TagInt       // TINYINT, SMALLINT, INT, BIGINT, and interval values (months or millis)
	TagFloat     // FLOAT, DOUBLE (bits in I)
	TagString    // CHAR, VARCHAR
	TagBytes     // BINARY, VARBINARY (bytes held in S, immutable)
	TagDecimal   // DECIMAL: unscaled in I (or X as *big.Int when it does not fit int64), scale in N
	TagDate      // days since 1970-01-01 in I
	TagTime      // nanoseconds of the day in I
	TagTimestamp // milliseconds since 1970-01-01T00:00:00 in I, nanoseconds within that millisecond in N
	TagArray     // []Value in X (also MULTISET, as a list of elements)
	TagMap       // *MapValue in X
	TagRow       // []Value in X
)

// Value is one SQL value. It is a small struct, passed by value; scalars never allocate.
//
// Contract: a Value is immutable once built. Composite values (X) may be shared between rows and must not
// be mutated. TIMESTAMP holds wall-clock time encoded as if it were UTC; TIMESTAMP_LTZ holds an instant.
type Value struct {
	T Tag
	N int32
	I int64
	S string
	X any
}

// MapValue is the value of a MAP: parallel key and value slices in insertion order.
type MapValue struct {
	Keys []Value
	Vals []Value
}

// NullValue is SQL NULL.
var NullValue = Value{}

func BoolValue(b bool) Value {
	if b {
		return Value{T: TagBool, I: 1}
	}
	return Value{T: TagBool}
}
func IntValue(i int64) Value      { return Value{T: TagInt, I: i} }
func FloatValue(f float64) Value  { return Value{T: TagFloat, I: int64(math.Float64bits(f))} }
func StringValue(s string) Value  { return Value{T: TagString, S: s} }
func BytesValue(b []byte) Value   { return Value{T: TagBytes, S: string(b)} }
func DateValue(days int64) Value  { return Value{T: TagDate, I: days} }
func TimeValue(nanos int64) Value { return Value{T: TagTime, I: nanos} }
func ArrayValue(v []Value) Value  { return Value{T: TagArray, X: v} }
func RowValue(v []Value) Value    { return Value{T: TagRow, X: v} }
func MapOf(m *MapValue) Value     { return Value{T: TagMap, X: m} }

// TimestampValue builds a timestamp from milliseconds since the epoch and nanoseconds within the millisecond.
func TimestampValue(millis int64, nanoOfMilli int32) Value {
	return Value{T: TagTimestamp, I: millis, N: nanoOfMilli}
}

// DecimalValue builds a decimal from an unscaled int64 and a scale.
func DecimalValue(unscaled int64, scale int) Value {
	return Value{T: TagDecimal, I: unscaled, N: int32(scale)}
}

// BigDecimalValue builds a decimal from an unscaled big integer; it normalizes to the int64 form when it fits.
func BigDecimalValue(unscaled *big.Int, scale int) Value {
	if unscaled.IsInt64() {
		return Value{T: TagDecimal, I: unscaled.Int64(), N: int32(scale)}
	}
	return Value{T: TagDecimal, X: unscaled, N: int32(scale)}
}

func (v Value) IsNull() bool       { return v.T == TagNull }
func (v Value) Bool() bool         { return v.I != 0 }
func (v Value) Int() int64         { return v.I }
func (v Value) Float() float64     { return math.Float64frombits(uint64(v.I)) }
func (v Value) Str() string        { return v.S }
func (v Value) Bytes() []byte      { return []byte(v.S) }
func (v Value) Array() []Value     { a, _ := v.X.([]Value); return a }
func (v Value) Fields() []Value    { a, _ := v.X.([]Value); return a }
func (v Value) Map() *MapValue     { m, _ := v.X.(*MapValue); return m }
func (v Value) Millis() int64      { return v.I }
func (v Value) NanoOfMilli() int32 { return v.N }

// DecimalScale is the scale of a TagDecimal value.
func (v Value) DecimalScale() int { return int(v.N) }

// DecimalBig returns the unscaled value of a decimal as a new big.Int.
func (v Value) DecimalBig() *big.Int {
	if b, ok := v.X.(*big.Int); ok {
		return new(big.Int).Set(b)
	}
	return big.NewInt(v.I)
}

// DecimalSmall returns the unscaled value when it fits in int64.
func (v Value) DecimalSmall() (int64, bool) {
	if v.X != nil {
		return 0, false
	}
	return v.I, true
}
