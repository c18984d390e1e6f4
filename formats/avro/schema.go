package avro

import (
	"fmt"
	"strconv"
	"strings"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// RecordName is the name of the top-level record of a derived schema, as in Flink. Nested records are named
// after their parent and field: record_address, record_address_geo.
const RecordName = "record"

// DeriveOptions tunes DeriveSchema.
type DeriveOptions struct {
	// LocalTimestamps maps TIMESTAMP to local-timestamp-millis/-micros and TIMESTAMP_LTZ to
	// timestamp-millis/-micros, as Flink does with 'avro.timestamp_mapping.legacy' = 'false'. When false (the
	// default, Flink's legacy mapping) both map to timestamp-millis/-micros.
	LocalTimestamps bool
}

// DeriveSchema returns the Avro schema (JSON text, fields in table order) of a ROW type, following Flink's
// AvroSchemaConverter: the record is named "record", nullable types become ["null", T] unions with default
// null, DECIMAL is bytes with the decimal logical type, TIMESTAMP(p≤3) is timestamp-millis and TIMESTAMP(p≤6)
// timestamp-micros. Types Avro cannot represent are an error naming the field.
func DeriveSchema(rowType types.Type, o DeriveOptions) (string, error) {
	if rowType.Kind != types.Row {
		return "", &options.Error{Msg: fmt.Sprintf("the avro format needs a ROW type, got %s", rowType)}
	}
	var b strings.Builder
	if err := deriveRecord(&b, rowType, RecordName, "", o); err != nil {
		return "", err
	}
	return b.String(), nil
}

func deriveRecord(b *strings.Builder, t types.Type, name, path string, o DeriveOptions) error {
	b.WriteString(`{"type":"record","name":`)
	b.WriteString(strconv.Quote(name))
	b.WriteString(`,"fields":[`)
	for i, f := range t.Fields {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := checkName(f.Name, joinPath(path, f.Name)); err != nil {
			return err
		}
		b.WriteString(`{"name":`)
		b.WriteString(strconv.Quote(f.Name))
		b.WriteString(`,"type":`)
		if err := deriveType(b, f.Type, name+"_"+f.Name, joinPath(path, f.Name), o); err != nil {
			return err
		}
		if f.Type.Nullable() {
			b.WriteString(`,"default":null`)
		}
		b.WriteByte('}')
	}
	b.WriteString(`]}`)
	return nil
}

// checkName rejects field names Avro does not allow ([A-Za-z_][A-Za-z0-9_]*).
func checkName(n, path string) error {
	ok := n != ""
	for i, c := range n {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			ok = false
		}
	}
	if !ok {
		return &options.Error{Msg: fmt.Sprintf("field '%s': the name is not a valid Avro name (letters, digits and '_', not starting with a digit)", path)}
	}
	return nil
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func deriveType(b *strings.Builder, t types.Type, name, path string, o DeriveOptions) error {
	if t.Nullable() {
		b.WriteString(`["null",`)
	}
	switch t.Kind {
	case types.Boolean:
		b.WriteString(`"boolean"`)
	case types.TinyInt, types.SmallInt, types.Int:
		b.WriteString(`"int"`)
	case types.BigInt:
		b.WriteString(`"long"`)
	case types.Float:
		b.WriteString(`"float"`)
	case types.Double:
		b.WriteString(`"double"`)
	case types.Char, types.VarChar:
		b.WriteString(`"string"`)
	case types.Binary, types.VarBinary:
		b.WriteString(`"bytes"`)
	case types.Decimal:
		fmt.Fprintf(b, `{"type":"bytes","logicalType":"decimal","precision":%d,"scale":%d}`, t.Precision, t.Scale)
	case types.Date:
		b.WriteString(`{"type":"int","logicalType":"date"}`)
	case types.Time:
		if t.Precision > 3 {
			return &options.Error{Msg: fmt.Sprintf("field '%s': Avro does not support TIME type with precision: %d, it only supports precision less than 3.", path, t.Precision)}
		}
		b.WriteString(`{"type":"int","logicalType":"time-millis"}`)
	case types.Timestamp, types.TimestampLTZ:
		if t.Precision > 6 {
			return &options.Error{Msg: fmt.Sprintf("field '%s': Avro does not support %s type with precision: %d, it only supports precision less than 6.", path, kindName(t), t.Precision)}
		}
		lt := "timestamp-"
		if o.LocalTimestamps && t.Kind == types.Timestamp {
			lt = "local-timestamp-"
		}
		if t.Precision <= 3 {
			lt += "millis"
		} else {
			lt += "micros"
		}
		fmt.Fprintf(b, `{"type":"long","logicalType":"%s"}`, lt)
	case types.Array:
		b.WriteString(`{"type":"array","items":`)
		if err := deriveType(b, *t.Elem, name, path+"[]", o); err != nil {
			return err
		}
		b.WriteByte('}')
	case types.Map:
		if !t.Key.IsString() {
			return &options.Error{Msg: fmt.Sprintf("field '%s': Avro format doesn't support non-string as key type of map. The type is: %s", path, t)}
		}
		b.WriteString(`{"type":"map","values":`)
		if err := deriveType(b, *t.Elem, name, path+"{}", o); err != nil {
			return err
		}
		b.WriteByte('}')
	case types.Row:
		if err := deriveRecord(b, t, name, path, o); err != nil {
			return err
		}
	default:
		return &options.Error{Msg: fmt.Sprintf("field '%s': the avro format does not support type %s", path, t)}
	}
	if t.Nullable() {
		b.WriteByte(']')
	}
	return nil
}

func kindName(t types.Type) string {
	if t.Kind == types.TimestampLTZ {
		return "TIMESTAMP_LTZ"
	}
	return "TIMESTAMP"
}

// ParseSchema parses an Avro schema with a fresh name cache, so that two versions of a schema that define the
// same record name differently never collide (hamba's Parse shares one process-wide cache).
func ParseSchema(text string) (hamba.Schema, error) {
	return hamba.ParseWithCache(text, "", &hamba.SchemaCache{})
}

// CanonicalForm is the Parsing Canonical Form of a parsed schema.
func CanonicalForm(s hamba.Schema) string { return s.String() }

// Writer-schema inspection shared by the decode and encode plans.

func deref(s hamba.Schema) hamba.Schema {
	if ref, ok := s.(*hamba.RefSchema); ok {
		return ref.Schema()
	}
	return s
}

func logical(s hamba.Schema) hamba.LogicalSchema {
	if ls, ok := s.(hamba.LogicalTypeSchema); ok {
		if l := ls.Logical(); l != nil {
			return l
		}
	}
	return nil
}

func logicalType(s hamba.Schema) hamba.LogicalType {
	if l := logical(s); l != nil {
		return l.Type()
	}
	return ""
}

// describe names a writer schema briefly for messages: "long", "long (timestamp-micros)", "record user".
func describe(s hamba.Schema) string {
	s = deref(s)
	switch t := s.(type) {
	case hamba.NamedSchema:
		return fmt.Sprintf("%s %s", s.Type(), t.FullName())
	case *hamba.UnionSchema:
		parts := make([]string, len(t.Types()))
		for i, b := range t.Types() {
			parts[i] = describe(b)
		}
		return "union [" + strings.Join(parts, ", ") + "]"
	}
	if lt := logicalType(s); lt != "" {
		return fmt.Sprintf("%s (%s)", s.Type(), lt)
	}
	return string(s.Type())
}
