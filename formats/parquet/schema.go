package parquet

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicesql/sluice/types"
)

// ArrowSchema returns the Arrow schema of a ROW type: Flink's Parquet mapping expressed in Arrow types, which
// pqarrow turns into Parquet columns (TIMESTAMP and TIMESTAMP_LTZ are nanosecond timestamps written as INT96).
func ArrowSchema(row types.Type) (*arrow.Schema, error) {
	fs := make([]arrow.Field, len(row.Fields))
	for i, f := range row.Fields {
		at, err := ArrowType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column '%s': %w", f.Name, err)
		}
		fs[i] = arrow.Field{Name: f.Name, Type: at, Nullable: f.Type.Nullable()}
	}
	return arrow.NewSchema(fs, nil), nil
}

// ArrowType maps one SQL type to its Arrow type. MULTISET, INTERVAL and NULL have no Parquet mapping in
// Flink and are refused.
func ArrowType(t types.Type) (arrow.DataType, error) {
	switch t.Kind {
	case types.Boolean:
		return arrow.FixedWidthTypes.Boolean, nil
	case types.TinyInt:
		return arrow.PrimitiveTypes.Int8, nil
	case types.SmallInt:
		return arrow.PrimitiveTypes.Int16, nil
	case types.Int:
		return arrow.PrimitiveTypes.Int32, nil
	case types.BigInt:
		return arrow.PrimitiveTypes.Int64, nil
	case types.Float:
		return arrow.PrimitiveTypes.Float32, nil
	case types.Double:
		return arrow.PrimitiveTypes.Float64, nil
	case types.Decimal:
		if t.Precision > 38 {
			return nil, fmt.Errorf("DECIMAL(%d, %d) exceeds Parquet's maximum precision 38", t.Precision, t.Scale)
		}
		return &arrow.Decimal128Type{Precision: int32(t.Precision), Scale: int32(t.Scale)}, nil
	case types.Char, types.VarChar:
		return arrow.BinaryTypes.String, nil
	case types.Binary, types.VarBinary:
		return arrow.BinaryTypes.Binary, nil
	case types.Date:
		return arrow.FixedWidthTypes.Date32, nil
	case types.Time:
		return arrow.FixedWidthTypes.Time32ms, nil
	case types.Timestamp:
		return &arrow.TimestampType{Unit: arrow.Nanosecond}, nil
	case types.TimestampLTZ:
		return &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, nil
	case types.Array:
		et, err := ArrowType(*t.Elem)
		if err != nil {
			return nil, fmt.Errorf("element: %w", err)
		}
		return arrow.ListOfField(arrow.Field{Name: "element", Type: et, Nullable: t.Elem.Nullable()}), nil
	case types.Map:
		kt, err := ArrowType(*t.Key)
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		vt, err := ArrowType(*t.Elem)
		if err != nil {
			return nil, fmt.Errorf("value: %w", err)
		}
		m := arrow.MapOf(kt, vt)
		m.SetItemNullable(t.Elem.Nullable())
		return m, nil
	case types.Row:
		fs := make([]arrow.Field, len(t.Fields))
		for i, f := range t.Fields {
			ft, err := ArrowType(f.Type)
			if err != nil {
				return nil, fmt.Errorf("field '%s': %w", f.Name, err)
			}
			fs[i] = arrow.Field{Name: f.Name, Type: ft, Nullable: f.Type.Nullable()}
		}
		return arrow.StructOf(fs...), nil
	}
	return nil, fmt.Errorf("type %s is not supported by the parquet format (supported: BOOLEAN, TINYINT to BIGINT, FLOAT, DOUBLE, DECIMAL, CHAR, VARCHAR, BINARY, VARBINARY, DATE, TIME, TIMESTAMP, TIMESTAMP_LTZ, ARRAY, MAP, ROW)", t)
}
