package types

import (
	"fmt"
	"strings"
)

// Kind is the root of a logical type.
type Kind uint8

const (
	Invalid Kind = iota
	Null         // the type of an untyped NULL literal
	Boolean
	TinyInt
	SmallInt
	Int
	BigInt
	Float
	Double
	Decimal
	Char
	VarChar
	Binary
	VarBinary
	Date
	Time
	Timestamp    // TIMESTAMP(p) WITHOUT TIME ZONE
	TimestampLTZ // TIMESTAMP_LTZ(p), TIMESTAMP(p) WITH LOCAL TIME ZONE
	IntervalYearMonth
	IntervalDayTime
	Array
	Map
	Multiset
	Row
)

// MaxLength is the length of STRING (VARCHAR(2147483647)) and BYTES.
const MaxLength = 2147483647

// Type is a logical SQL type. The zero value of NotNull means nullable, as in Flink.
//
// Length is used by CHAR/VARCHAR/BINARY/VARBINARY; Precision by DECIMAL, TIME, TIMESTAMP, TIMESTAMP_LTZ
// (fractional seconds digits); Scale by DECIMAL. Elem is the element of ARRAY/MULTISET and the value of MAP;
// Key is the key of MAP; Fields are the fields of ROW.
type Type struct {
	Kind      Kind
	NotNull   bool
	Length    int
	Precision int
	Scale     int
	Elem      *Type
	Key       *Type
	Fields    []Field
}

// Field is a named field of a ROW type.
type Field struct {
	Name        string
	Type        Type
	Description string
}

// Constructors for the common types (all nullable).
func BooleanType() Type            { return Type{Kind: Boolean} }
func TinyIntType() Type            { return Type{Kind: TinyInt} }
func SmallIntType() Type           { return Type{Kind: SmallInt} }
func IntType() Type                { return Type{Kind: Int} }
func BigIntType() Type             { return Type{Kind: BigInt} }
func FloatType() Type              { return Type{Kind: Float} }
func DoubleType() Type             { return Type{Kind: Double} }
func StringType() Type             { return Type{Kind: VarChar, Length: MaxLength} }
func BytesType() Type              { return Type{Kind: VarBinary, Length: MaxLength} }
func DateType() Type               { return Type{Kind: Date} }
func NullType() Type               { return Type{Kind: Null} }
func CharType(n int) Type          { return Type{Kind: Char, Length: n} }
func VarCharType(n int) Type       { return Type{Kind: VarChar, Length: n} }
func DecimalType(p, s int) Type    { return Type{Kind: Decimal, Precision: p, Scale: s} }
func TimeType(p int) Type          { return Type{Kind: Time, Precision: p} }
func TimestampType(p int) Type     { return Type{Kind: Timestamp, Precision: p} }
func TimestampLTZType(p int) Type  { return Type{Kind: TimestampLTZ, Precision: p} }
func ArrayType(elem Type) Type     { return Type{Kind: Array, Elem: &elem} }
func MultisetType(elem Type) Type  { return Type{Kind: Multiset, Elem: &elem} }
func MapType(k, v Type) Type       { return Type{Kind: Map, Key: &k, Elem: &v} }
func RowType(fields ...Field) Type { return Type{Kind: Row, Fields: fields} }

// WithNullable returns t with its nullability set.
func (t Type) WithNullable(nullable bool) Type { t.NotNull = !nullable; return t }

// Nullable reports whether the type admits NULL.
func (t Type) Nullable() bool { return !t.NotNull }

// IsNumeric reports exact and approximate numeric types.
func (t Type) IsNumeric() bool {
	switch t.Kind {
	case TinyInt, SmallInt, Int, BigInt, Float, Double, Decimal:
		return true
	}
	return false
}

// IsIntegral reports TINYINT..BIGINT.
func (t Type) IsIntegral() bool {
	switch t.Kind {
	case TinyInt, SmallInt, Int, BigInt:
		return true
	}
	return false
}

// IsString reports CHAR and VARCHAR (including STRING).
func (t Type) IsString() bool { return t.Kind == Char || t.Kind == VarChar }

// IsBinary reports BINARY and VARBINARY (including BYTES).
func (t Type) IsBinary() bool { return t.Kind == Binary || t.Kind == VarBinary }

// IsTimestamp reports TIMESTAMP and TIMESTAMP_LTZ.
func (t Type) IsTimestamp() bool { return t.Kind == Timestamp || t.Kind == TimestampLTZ }

// Equal reports whether two types are identical, including nullability.
func (t Type) Equal(o Type) bool { return t.String() == o.String() }

// EqualIgnoringNull reports whether two types are identical apart from top-level nullability.
func (t Type) EqualIgnoringNull(o Type) bool {
	t.NotNull, o.NotNull = false, false
	return t.Equal(o)
}

// String prints the type as Flink's DESCRIBE does: BIGINT, STRING, DECIMAL(10, 2), TIMESTAMP(3),
// TIMESTAMP_LTZ(3), ARRAY<INT>, MAP<STRING, BYTES>, ROW<`a` INT, `b` STRING>, with " NOT NULL" when set.
func (t Type) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t Type) write(b *strings.Builder) {
	switch t.Kind {
	case Null:
		b.WriteString("NULL")
	case Boolean:
		b.WriteString("BOOLEAN")
	case TinyInt:
		b.WriteString("TINYINT")
	case SmallInt:
		b.WriteString("SMALLINT")
	case Int:
		b.WriteString("INT")
	case BigInt:
		b.WriteString("BIGINT")
	case Float:
		b.WriteString("FLOAT")
	case Double:
		b.WriteString("DOUBLE")
	case Decimal:
		fmt.Fprintf(b, "DECIMAL(%d, %d)", t.Precision, t.Scale)
	case Char:
		fmt.Fprintf(b, "CHAR(%d)", t.Length)
	case VarChar:
		if t.Length == MaxLength {
			b.WriteString("STRING")
		} else {
			fmt.Fprintf(b, "VARCHAR(%d)", t.Length)
		}
	case Binary:
		fmt.Fprintf(b, "BINARY(%d)", t.Length)
	case VarBinary:
		if t.Length == MaxLength {
			b.WriteString("BYTES")
		} else {
			fmt.Fprintf(b, "VARBINARY(%d)", t.Length)
		}
	case Date:
		b.WriteString("DATE")
	case Time:
		fmt.Fprintf(b, "TIME(%d)", t.Precision)
	case Timestamp:
		fmt.Fprintf(b, "TIMESTAMP(%d)", t.Precision)
	case TimestampLTZ:
		fmt.Fprintf(b, "TIMESTAMP_LTZ(%d)", t.Precision)
	case IntervalYearMonth:
		b.WriteString("INTERVAL YEAR TO MONTH")
	case IntervalDayTime:
		b.WriteString("INTERVAL DAY TO SECOND")
	case Array, Multiset:
		if t.Kind == Array {
			b.WriteString("ARRAY<")
		} else {
			b.WriteString("MULTISET<")
		}
		if t.Elem != nil {
			t.Elem.write(b)
		}
		b.WriteString(">")
	case Map:
		b.WriteString("MAP<")
		if t.Key != nil {
			t.Key.write(b)
		}
		b.WriteString(", ")
		if t.Elem != nil {
			t.Elem.write(b)
		}
		b.WriteString(">")
	case Row:
		b.WriteString("ROW<")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("`" + strings.ReplaceAll(f.Name, "`", "``") + "` ")
			f.Type.write(b)
		}
		b.WriteString(">")
	default:
		b.WriteString("INVALID")
	}
	if t.NotNull && t.Kind != Null {
		b.WriteString(" NOT NULL")
	}
}
