package engine

import (
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicesql/sluice/types"
)

// Rows ↔ Arrow for the intermediate results of batch stages (batch_exchange.go). The mapping must round-trip
// every value the engine holds exactly, which Flink's Parquet mapping in formats/parquet does not (it writes
// TIMESTAMP as INT96 nanoseconds, bounded to 1677..2262, converts local time, narrows FLOAT, and refuses
// INTERVAL, MULTISET, NULL and NULL map keys); hence a mapping of its own:
//
//	BOOLEAN → bool; TINYINT..BIGINT → int8..int64; FLOAT, DOUBLE → float64; DECIMAL(p, s) → decimal128(p, s);
//	CHAR, VARCHAR → utf8; BINARY, VARBINARY → binary; DATE → date32; TIME → time64[ns];
//	TIMESTAMP, TIMESTAMP_LTZ → struct<epoch_millis: int64, nano_of_milli: int32> (Flink's TimestampData);
//	INTERVAL YEAR TO MONTH → month_interval; INTERVAL DAY TO SECOND → duration[ms]; NULL → null;
//	ARRAY, MULTISET → list; MAP → list<struct<key, value>> (keys may be NULL); ROW → struct.
//
// Every column is nullable; a record batch also carries the row kind in a first int8 column '$row_kind'.

// exchangeArrowType is the Arrow type of values of t in an intermediate result.
func exchangeArrowType(t types.Type) (arrow.DataType, error) {
	switch t.Kind {
	case types.Null:
		return arrow.Null, nil
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
	case types.Float, types.Double:
		return arrow.PrimitiveTypes.Float64, nil
	case types.Decimal:
		if t.Precision > types.MaxDecimalPrecision {
			return nil, fmt.Errorf("DECIMAL(%d, %d) exceeds the maximum precision %d", t.Precision, t.Scale, types.MaxDecimalPrecision)
		}
		return &arrow.Decimal128Type{Precision: int32(max(t.Precision, 1)), Scale: int32(t.Scale)}, nil
	case types.Char, types.VarChar:
		return arrow.BinaryTypes.String, nil
	case types.Binary, types.VarBinary:
		return arrow.BinaryTypes.Binary, nil
	case types.Date:
		return arrow.FixedWidthTypes.Date32, nil
	case types.Time:
		return arrow.FixedWidthTypes.Time64ns, nil
	case types.Timestamp, types.TimestampLTZ:
		return timestampStruct, nil
	case types.IntervalYearMonth:
		return arrow.FixedWidthTypes.MonthInterval, nil
	case types.IntervalDayTime:
		return arrow.FixedWidthTypes.Duration_ms, nil
	case types.Array, types.Multiset:
		et, err := exchangeArrowType(*t.Elem)
		if err != nil {
			return nil, err
		}
		return arrow.ListOfField(arrow.Field{Name: "element", Type: et, Nullable: true}), nil
	case types.Map:
		kt, err := exchangeArrowType(*t.Key)
		if err != nil {
			return nil, err
		}
		vt, err := exchangeArrowType(*t.Elem)
		if err != nil {
			return nil, err
		}
		return arrow.ListOfField(arrow.Field{Name: "entries", Nullable: false, Type: arrow.StructOf(
			arrow.Field{Name: "key", Type: kt, Nullable: true}, arrow.Field{Name: "value", Type: vt, Nullable: true})}), nil
	case types.Row:
		fs := make([]arrow.Field, len(t.Fields))
		for i, f := range t.Fields {
			ft, err := exchangeArrowType(f.Type)
			if err != nil {
				return nil, fmt.Errorf("field '%s': %w", f.Name, err)
			}
			fs[i] = arrow.Field{Name: f.Name, Type: ft, Nullable: true}
		}
		return arrow.StructOf(fs...), nil
	}
	return nil, fmt.Errorf("type %s has no Arrow mapping", t)
}

var timestampStruct = arrow.StructOf(
	arrow.Field{Name: "epoch_millis", Type: arrow.PrimitiveTypes.Int64},
	arrow.Field{Name: "nano_of_milli", Type: arrow.PrimitiveTypes.Int32})

// exchangeSchema is the Arrow schema of an intermediate result with columns of the given types.
func exchangeSchema(ts []types.Type) (*arrow.Schema, error) {
	fs := make([]arrow.Field, 0, len(ts)+1)
	fs = append(fs, arrow.Field{Name: "$row_kind", Type: arrow.PrimitiveTypes.Int8})
	for i, t := range ts {
		at, err := exchangeArrowType(t)
		if err != nil {
			return nil, fmt.Errorf("column %d: %w", i+1, err)
		}
		fs = append(fs, arrow.Field{Name: fmt.Sprintf("f%d", i), Type: at, Nullable: true})
	}
	return arrow.NewSchema(fs, nil), nil
}

// arrowAppender appends one value to the builder it was compiled for.
type arrowAppender func(v types.Value) error

// compileArrowAppender returns the appender of values of t into b (built for exchangeArrowType(t)). The
// builder is bound once: a RecordBuilder keeps its builders across record batches.
func compileArrowAppender(t types.Type, b array.Builder) arrowAppender {
	var app arrowAppender
	switch t.Kind {
	case types.Null:
		return func(types.Value) error { b.AppendNull(); return nil }
	case types.Boolean:
		bb := b.(*array.BooleanBuilder)
		app = func(v types.Value) error { bb.Append(v.Bool()); return nil }
	case types.TinyInt:
		bb := b.(*array.Int8Builder)
		app = func(v types.Value) error { bb.Append(int8(v.I)); return nil }
	case types.SmallInt:
		bb := b.(*array.Int16Builder)
		app = func(v types.Value) error { bb.Append(int16(v.I)); return nil }
	case types.Int:
		bb := b.(*array.Int32Builder)
		app = func(v types.Value) error { bb.Append(int32(v.I)); return nil }
	case types.BigInt:
		bb := b.(*array.Int64Builder)
		app = func(v types.Value) error { bb.Append(v.I); return nil }
	case types.Float, types.Double:
		bb := b.(*array.Float64Builder)
		app = func(v types.Value) error { bb.Append(v.Float()); return nil }
	case types.Decimal:
		bb := b.(*array.Decimal128Builder)
		scale := t.Scale
		app = func(v types.Value) error {
			n, err := decimal128At(v, scale)
			if err != nil {
				return err
			}
			bb.Append(n)
			return nil
		}
	case types.Char, types.VarChar:
		bb := b.(*array.StringBuilder)
		app = func(v types.Value) error { bb.Append(v.S); return nil }
	case types.Binary, types.VarBinary:
		bb := b.(*array.BinaryBuilder)
		app = func(v types.Value) error { bb.AppendString(v.S); return nil }
	case types.Date:
		bb := b.(*array.Date32Builder)
		app = func(v types.Value) error { bb.Append(arrow.Date32(v.I)); return nil }
	case types.Time:
		bb := b.(*array.Time64Builder)
		app = func(v types.Value) error { bb.Append(arrow.Time64(v.I)); return nil }
	case types.Timestamp, types.TimestampLTZ:
		sb := b.(*array.StructBuilder)
		ms, ns := sb.FieldBuilder(0).(*array.Int64Builder), sb.FieldBuilder(1).(*array.Int32Builder)
		app = func(v types.Value) error {
			sb.Append(true)
			ms.Append(v.I)
			ns.Append(v.N)
			return nil
		}
	case types.IntervalYearMonth:
		bb := b.(*array.MonthIntervalBuilder)
		app = func(v types.Value) error { bb.Append(arrow.MonthInterval(v.I)); return nil }
	case types.IntervalDayTime:
		bb := b.(*array.DurationBuilder)
		app = func(v types.Value) error { bb.Append(arrow.Duration(v.I)); return nil }
	case types.Array, types.Multiset:
		lb := b.(*array.ListBuilder)
		elem := compileArrowAppender(*t.Elem, lb.ValueBuilder())
		app = func(v types.Value) error {
			lb.Append(true)
			for _, e := range v.Array() {
				if err := elem(e); err != nil {
					return err
				}
			}
			return nil
		}
	case types.Map:
		lb := b.(*array.ListBuilder)
		sb := lb.ValueBuilder().(*array.StructBuilder)
		key, val := compileArrowAppender(*t.Key, sb.FieldBuilder(0)), compileArrowAppender(*t.Elem, sb.FieldBuilder(1))
		app = func(v types.Value) error {
			lb.Append(true)
			m := v.Map()
			if m == nil {
				return nil
			}
			for i := range m.Keys {
				sb.Append(true)
				if err := key(m.Keys[i]); err != nil {
					return err
				}
				if err := val(m.Vals[i]); err != nil {
					return err
				}
			}
			return nil
		}
	case types.Row:
		sb := b.(*array.StructBuilder)
		fields := make([]arrowAppender, len(t.Fields))
		for i, f := range t.Fields {
			fields[i] = compileArrowAppender(f.Type, sb.FieldBuilder(i))
		}
		app = func(v types.Value) error {
			sb.Append(true)
			fv := v.Fields()
			for i, fa := range fields {
				x := types.NullValue
				if i < len(fv) {
					x = fv[i]
				}
				if err := fa(x); err != nil {
					return err
				}
			}
			return nil
		}
	default:
		return func(types.Value) error { return fmt.Errorf("type %s has no Arrow mapping", t) }
	}
	return func(v types.Value) error {
		if v.IsNull() {
			b.AppendNull()
			return nil
		}
		return app(v)
	}
}

var bigTen = big.NewInt(10)

// decimal128At returns v's unscaled value at scale.
func decimal128At(v types.Value, scale int) (decimal128.Num, error) {
	if small, ok := v.DecimalSmall(); ok && v.DecimalScale() == scale {
		return decimal128.FromI64(small), nil
	}
	n := v.DecimalBig()
	for s := v.DecimalScale(); s < scale; s++ {
		n.Mul(n, bigTen)
	}
	for s := v.DecimalScale(); s > scale; s-- {
		n.Quo(n, bigTen)
	}
	if n.BitLen() > 127 {
		return decimal128.Num{}, fmt.Errorf("decimal value does not fit 38 digits")
	}
	return decimal128.FromBigInt(n), nil
}

// arrowGetter reads element i (not null) of an Arrow array as a value.
type arrowGetter func(arr arrow.Array, i int) types.Value

// compileArrowGetter returns the getter of values of t from arrays of exchangeArrowType(t).
func compileArrowGetter(t types.Type) arrowGetter {
	switch t.Kind {
	case types.Boolean:
		return func(arr arrow.Array, i int) types.Value { return types.BoolValue(arr.(*array.Boolean).Value(i)) }
	case types.TinyInt:
		return func(arr arrow.Array, i int) types.Value { return types.IntValue(int64(arr.(*array.Int8).Value(i))) }
	case types.SmallInt:
		return func(arr arrow.Array, i int) types.Value { return types.IntValue(int64(arr.(*array.Int16).Value(i))) }
	case types.Int:
		return func(arr arrow.Array, i int) types.Value { return types.IntValue(int64(arr.(*array.Int32).Value(i))) }
	case types.BigInt:
		return func(arr arrow.Array, i int) types.Value { return types.IntValue(arr.(*array.Int64).Value(i)) }
	case types.IntervalYearMonth:
		return func(arr arrow.Array, i int) types.Value {
			return types.IntValue(int64(arr.(*array.MonthInterval).Value(i)))
		}
	case types.IntervalDayTime:
		return func(arr arrow.Array, i int) types.Value { return types.IntValue(int64(arr.(*array.Duration).Value(i))) }
	case types.Float, types.Double:
		return func(arr arrow.Array, i int) types.Value { return types.FloatValue(arr.(*array.Float64).Value(i)) }
	case types.Decimal:
		scale := t.Scale
		return func(arr arrow.Array, i int) types.Value {
			return decimalFrom128(arr.(*array.Decimal128).Value(i), scale)
		}
	case types.Char, types.VarChar:
		// A copy: array.String's values alias the record batch's buffer, which the reader recycles.
		return func(arr arrow.Array, i int) types.Value {
			return types.StringValue(strings.Clone(arr.(*array.String).Value(i)))
		}
	case types.Binary, types.VarBinary:
		return func(arr arrow.Array, i int) types.Value {
			return types.Value{T: types.TagBytes, S: string(arr.(*array.Binary).Value(i))}
		}
	case types.Date:
		return func(arr arrow.Array, i int) types.Value { return types.DateValue(int64(arr.(*array.Date32).Value(i))) }
	case types.Time:
		return func(arr arrow.Array, i int) types.Value { return types.TimeValue(int64(arr.(*array.Time64).Value(i))) }
	case types.Timestamp, types.TimestampLTZ:
		return func(arr arrow.Array, i int) types.Value {
			s := arr.(*array.Struct)
			return types.TimestampValue(s.Field(0).(*array.Int64).Value(i), s.Field(1).(*array.Int32).Value(i))
		}
	case types.Array, types.Multiset:
		elem := compileArrowGetter(*t.Elem)
		return func(arr arrow.Array, i int) types.Value {
			l := arr.(*array.List)
			from, to := l.ValueOffsets(i)
			vals := l.ListValues()
			out := make([]types.Value, to-from)
			for j := from; j < to; j++ {
				if !vals.IsNull(int(j)) {
					out[j-from] = elem(vals, int(j))
				}
			}
			return types.ArrayValue(out)
		}
	case types.Map:
		key, val := compileArrowGetter(*t.Key), compileArrowGetter(*t.Elem)
		return func(arr arrow.Array, i int) types.Value {
			l := arr.(*array.List)
			from, to := l.ValueOffsets(i)
			s := l.ListValues().(*array.Struct)
			ks, vs := s.Field(0), s.Field(1)
			m := &types.MapValue{Keys: make([]types.Value, to-from), Vals: make([]types.Value, to-from)}
			for j := from; j < to; j++ {
				if !ks.IsNull(int(j)) {
					m.Keys[j-from] = key(ks, int(j))
				}
				if !vs.IsNull(int(j)) {
					m.Vals[j-from] = val(vs, int(j))
				}
			}
			return types.MapOf(m)
		}
	case types.Row:
		fields := make([]arrowGetter, len(t.Fields))
		for i, f := range t.Fields {
			fields[i] = compileArrowGetter(f.Type)
		}
		return func(arr arrow.Array, i int) types.Value {
			s := arr.(*array.Struct)
			out := make([]types.Value, len(fields))
			for k, get := range fields {
				if c := s.Field(k); !c.IsNull(i) {
					out[k] = get(c, i)
				}
			}
			return types.RowValue(out)
		}
	}
	return func(arrow.Array, int) types.Value { return types.NullValue }
}

// decimalFrom128 is the value of an unscaled decimal128 at scale, without allocating when it fits int64.
func decimalFrom128(n decimal128.Num, scale int) types.Value {
	hi, lo := n.HighBits(), n.LowBits()
	if hi == 0 && lo <= math.MaxInt64 || hi == -1 && lo > math.MaxInt64 {
		return types.DecimalValue(int64(lo), scale)
	}
	return types.BigDecimalValue(n.BigInt(), scale)
}

// arrowFill writes the values of an Arrow column into dst[row*stride+col] (nulls stay as they are: the
// caller clears dst).
type arrowFill func(arr arrow.Array, dst []types.Value, stride, col int)

// compileArrowFill returns the fill of a column of t: column-at-a-time for the flat types that dominate
// exchanges (integers, strings), element by element through a getter for the others.
func compileArrowFill(t types.Type) arrowFill {
	switch t.Kind {
	case types.BigInt:
		return func(arr arrow.Array, dst []types.Value, stride, col int) {
			a := arr.(*array.Int64)
			vs := a.Int64Values()
			for i, x := range vs {
				if a.IsValid(i) {
					dst[i*stride+col] = types.Value{T: types.TagInt, I: x}
				}
			}
		}
	case types.Int:
		return func(arr arrow.Array, dst []types.Value, stride, col int) {
			a := arr.(*array.Int32)
			vs := a.Int32Values()
			for i, x := range vs {
				if a.IsValid(i) {
					dst[i*stride+col] = types.Value{T: types.TagInt, I: int64(x)}
				}
			}
		}
	case types.Decimal:
		scale := t.Scale
		return func(arr arrow.Array, dst []types.Value, stride, col int) {
			a := arr.(*array.Decimal128)
			for i, x := range a.Values() {
				if a.IsValid(i) {
					dst[i*stride+col] = decimalFrom128(x, scale)
				}
			}
		}
	case types.Float, types.Double:
		return func(arr arrow.Array, dst []types.Value, stride, col int) {
			a := arr.(*array.Float64)
			for i, x := range a.Float64Values() {
				if a.IsValid(i) {
					dst[i*stride+col] = types.FloatValue(x)
				}
			}
		}
	case types.Char, types.VarChar, types.Binary, types.VarBinary:
		tag := types.TagString
		if t.IsBinary() {
			tag = types.TagBytes
		}
		return func(arr arrow.Array, dst []types.Value, stride, col int) {
			var offs []int32
			var data []byte
			switch a := arr.(type) {
			case *array.String:
				offs, data = a.ValueOffsets(), a.ValueBytes()
			case *array.Binary:
				offs, data = a.ValueOffsets(), a.ValueBytes()
			}
			if len(offs) == 0 {
				return
			}
			// One copy of the column's bytes per record batch; the values are substrings of it.
			base := offs[0]
			s := string(data[:offs[len(offs)-1]-base])
			for i := 0; i < arr.Len(); i++ {
				if arr.IsValid(i) {
					dst[i*stride+col] = types.Value{T: tag, S: s[offs[i]-base : offs[i+1]-base]}
				}
			}
		}
	}
	get := compileArrowGetter(t)
	return func(arr arrow.Array, dst []types.Value, stride, col int) {
		for i := 0; i < arr.Len(); i++ {
			if arr.IsValid(i) {
				dst[i*stride+col] = get(arr, i)
			}
		}
	}
}
