// Package arrowconv converts vec columns to and from Arrow arrays a column at a time: the shared edge
// between columnar batches and the Arrow-based formats (intermediate result files, Parquet). It covers the
// flat types (integers, DATE, TIME, intervals, FLOAT/DOUBLE, DECIMAL held as int64 or 128 bits, BOOLEAN, strings and
// bytes, TIMESTAMP as the millis/nanos struct of the exchange mapping); callers convert the other types
// value by value and say so by the false results.
package arrowconv

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// AppendColumn appends rows [from, to) of b's selection from column c (of type t) to bld, the builder of
// t's Arrow type in the exchange mapping. It returns false, having appended nothing, when the column has
// no column path: the caller then appends value by value.
func AppendColumn(b *vec.Batch, from, to int, c *vec.Col, t types.Type, bld array.Builder) bool {
	bld.Reserve(to - from)
	switch {
	case c.Kind == vec.Int64 && c.Tag == types.TagInt && t.Kind == types.BigInt:
		bb := bld.(*array.Int64Builder)
		for k := from; k < to; k++ {
			if i := b.Row(k); c.Nulls.Get(i) {
				bb.AppendNull()
			} else {
				bb.UnsafeAppend(c.I64[i])
			}
		}
	case c.Kind == vec.Int64 && c.Tag == types.TagInt && t.Kind == types.Int:
		bb := bld.(*array.Int32Builder)
		for k := from; k < to; k++ {
			if i := b.Row(k); c.Nulls.Get(i) {
				bb.AppendNull()
			} else {
				bb.UnsafeAppend(int32(c.I64[i]))
			}
		}
	case c.Kind == vec.Int64 && c.Tag == types.TagDecimal && t.Kind == types.Decimal && int(c.Scale) == t.Scale:
		bb := bld.(*array.Decimal128Builder)
		for k := from; k < to; k++ {
			if i := b.Row(k); c.Nulls.Get(i) {
				bb.AppendNull()
			} else {
				bb.UnsafeAppend(decimal128.FromI64(c.I64[i]))
			}
		}
	case c.Kind == vec.Dec128 && t.Kind == types.Decimal && int(c.Scale) == t.Scale:
		bb := bld.(*array.Decimal128Builder)
		for k := from; k < to; k++ {
			if i := b.Row(k); c.Nulls.Get(i) {
				bb.AppendNull()
			} else {
				bb.UnsafeAppend(decimal128.New(c.D128[i].Hi, c.D128[i].Lo))
			}
		}
	case c.Kind == vec.Float64 && (t.Kind == types.Double || t.Kind == types.Float):
		bb := bld.(*array.Float64Builder)
		for k := from; k < to; k++ {
			if i := b.Row(k); c.Nulls.Get(i) {
				bb.AppendNull()
			} else {
				bb.UnsafeAppend(c.F64[i])
			}
		}
	case c.Kind == vec.Bytes && c.Tag == types.TagString && t.IsString():
		bb := bld.(*array.StringBuilder)
		for k := from; k < to; k++ {
			if i := b.Row(k); c.Nulls.Get(i) {
				bb.AppendNull()
			} else {
				bb.Append(c.Str(i))
			}
		}
	case c.Kind == vec.Bytes && c.Tag == types.TagBytes && t.IsBinary():
		bb := bld.(*array.BinaryBuilder)
		for k := from; k < to; k++ {
			if i := b.Row(k); c.Nulls.Get(i) {
				bb.AppendNull()
			} else {
				bb.Append(c.Data[c.Off[i]:c.Off[i+1]])
			}
		}
	case c.Kind == vec.Int64 && c.Tag == types.TagTimestamp && t.IsTimestamp():
		sb := bld.(*array.StructBuilder)
		ms, ns := sb.FieldBuilder(0).(*array.Int64Builder), sb.FieldBuilder(1).(*array.Int32Builder)
		for k := from; k < to; k++ {
			if i := b.Row(k); c.Nulls.Get(i) {
				sb.AppendNull()
			} else {
				sb.Append(true)
				ms.Append(c.I64[i])
				var n int32
				if c.Nanos != nil {
					n = c.Nanos[i]
				}
				ns.Append(n)
			}
		}
	default:
		return false
	}
	return true
}

// Nulls sets c's NULL bitmap from arr's validity, reusing its storage.
func Nulls(c *vec.Col, arr arrow.Array, n int) {
	buf := c.Nulls
	c.Nulls = nil
	if arr.NullN() == 0 {
		return
	}
	c.Nulls = vec.ResetBitmap(buf, n)
	for i := 0; i < n; i++ {
		if arr.IsNull(i) {
			c.Nulls.Set(i)
		}
	}
}

// Fill appends the n values of arr to c (reset by the caller, its NULL bitmap cleared) and sets c's NULL
// bitmap. It returns false when c cannot hold arr's values as a column (a type without a column path, a
// DECIMAL beyond int64): the caller then reads the array value by value.
func Fill(c *vec.Col, arr arrow.Array, n int) bool {
	switch a := arr.(type) {
	case *array.Int64:
		c.I64 = append(c.I64, a.Int64Values()...)
	case *array.Int32:
		for _, v := range a.Int32Values() {
			c.I64 = append(c.I64, int64(v))
		}
	case *array.Int16:
		for _, v := range a.Int16Values() {
			c.I64 = append(c.I64, int64(v))
		}
	case *array.Int8:
		for _, v := range a.Int8Values() {
			c.I64 = append(c.I64, int64(v))
		}
	case *array.Date32:
		for _, v := range a.Date32Values() {
			c.I64 = append(c.I64, int64(v))
		}
	case *array.Time64:
		for _, v := range a.Time64Values() {
			c.I64 = append(c.I64, int64(v))
		}
	case *array.Duration:
		for _, v := range a.DurationValues() {
			c.I64 = append(c.I64, int64(v))
		}
	case *array.MonthInterval:
		for _, v := range a.MonthIntervalValues() {
			c.I64 = append(c.I64, int64(v))
		}
	case *array.Float64:
		if c.Kind != vec.Float64 {
			return false
		}
		c.F64 = append(c.F64, a.Float64Values()...)
	case *array.Boolean:
		if c.Kind != vec.Bool {
			return false
		}
		for i := 0; i < n; i++ {
			c.B = append(c.B, a.Value(i))
		}
	case *array.Decimal128:
		if c.Kind == vec.Dec128 {
			for _, v := range a.Values() {
				c.D128 = append(c.D128, vec.Int128{Hi: v.HighBits(), Lo: v.LowBits()})
			}
			break
		}
		if c.Kind != vec.Int64 {
			return false
		}
		for i, v := range a.Values() {
			lo := int64(v.LowBits())
			if a.IsValid(i) && v.HighBits() != lo>>63 { // beyond int64: the column cannot hold it
				c.I64 = c.I64[:0]
				return false
			}
			c.I64 = append(c.I64, lo)
		}
	case *array.String:
		AppendBytes(c, a.ValueOffsets(), a.ValueBytes(), n)
	case *array.Binary:
		AppendBytes(c, a.ValueOffsets(), a.ValueBytes(), n)
	case *array.Struct:
		if c.Kind != vec.Int64 || c.Tag != types.TagTimestamp {
			return false
		}
		ms, ns := a.Field(0).(*array.Int64).Int64Values(), a.Field(1).(*array.Int32).Int32Values()
		for i := 0; i < n; i++ {
			c.AppendTimestamp(ms[i], ns[i])
		}
	default:
		return false
	}
	if c.Kind == vec.Values || c.Len() != n {
		return false
	}
	Nulls(c, arr, n)
	return true
}

// AppendBytes copies the values of a string or binary array into c's arena (one copy; the record batch's
// buffers are recycled by readers).
func AppendBytes(c *vec.Col, offs []int32, data []byte, n int) {
	if len(offs) == 0 {
		for i := 0; i < n; i++ {
			c.Off = append(c.Off, 0)
		}
		return
	}
	base := offs[0] // data starts at the first value (ValueBytes)
	c.Data = append(c.Data, data[:offs[n]-base]...)
	for i := 1; i <= n; i++ {
		c.Off = append(c.Off, offs[i]-base)
	}
}
