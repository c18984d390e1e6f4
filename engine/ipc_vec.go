package engine

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Columnar batches ↔ Arrow arrays for intermediate result files (issue 14: Arrow at the edges). The Arrow
// mapping is the one of ipc_arrow.go; a vec column converts a column at a time for the flat types (integers,
// DATE, TIME, intervals, FLOAT/DOUBLE, DECIMAL held as int64 or 128 bits, BOOLEAN, strings and bytes, TIMESTAMP as the
// millis/nanos struct) and value by value through the row appender and getter for the others. The changelog
// kind is the '$row_kind' column, as for rows.

// appendVecColumn appends rows [from, to) of b's selection from column c (of type t) to bld, the builder of
// exchangeArrowType(t); app is the row appender of the same builder, for the types without a column path.
func appendVecColumn(b *vec.Batch, from, to int, c *vec.Col, t types.Type, bld array.Builder, app arrowAppender) error {
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
		for k := from; k < to; k++ {
			if err := app(c.Value(b.Row(k))); err != nil {
				return err
			}
		}
	}
	return nil
}

// PushColumns writes a columnar batch a column at a time (AcceptsColumns: producers that have columns
// need not convert them to rows for the file).
func (w *ipcWriter) PushColumns(b *vec.Batch) error {
	if w.f == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	if len(b.Cols) != len(w.types) {
		return w.fail(fmt.Errorf("a batch of %d columns for a file of %d", len(b.Cols), len(w.types)))
	}
	n := b.Len()
	for from := 0; from < n; {
		to := min(n, from+ipcBatchRows-w.pending)
		for k := from; k < to; k++ {
			w.kind.Append(int8(b.Kind(b.Row(k))))
		}
		for j, c := range b.Cols {
			if c == nil {
				return w.fail(fmt.Errorf("column %d is missing from a columnar batch", j+1))
			}
			if err := appendVecColumn(b, from, to, c, w.types[j], w.rb.Field(j+1), w.apps[j]); err != nil {
				return w.fail(fmt.Errorf("column %d: %w", j+1, err))
			}
		}
		w.pending += to - from
		from = to
		if w.pending == ipcBatchRows {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	w.rows += int64(n)
	return nil
}

func (w *ipcWriter) AcceptsColumns() bool { return true }

var _ vec.Output = (*ipcWriter)(nil)

// arrowVecReader converts record batches of an intermediate result file into columnar batches, reusing
// its columns (byte arenas follow vec.Col.Reset: a new one once values of the last were handed out).
type arrowVecReader struct {
	types []types.Type
	gets  []arrowGetter // for the columns read value by value
	batch vec.Batch
}

func newArrowVecReader(ts []types.Type) *arrowVecReader {
	r := &arrowVecReader{types: ts, gets: make([]arrowGetter, len(ts))}
	r.batch.Cols = make([]*vec.Col, len(ts))
	for j, t := range ts {
		c := vec.ColFor(t)
		if c.Kind == vec.Struct || !vec.Exact(t) && t.Kind != types.Row {
			c = &vec.Col{Kind: vec.Values}
		}
		if c.Kind == vec.Values {
			r.gets[j] = compileArrowGetter(t)
		}
		r.batch.Cols[j] = c
	}
	return r
}

// read converts rec (its first column the row kinds); the batch is valid until the next call.
func (r *arrowVecReader) read(rec arrow.RecordBatch) (*vec.Batch, error) {
	n := int(rec.NumRows())
	b := &r.batch
	b.N, b.Sel, b.Kinds = n, nil, b.Kinds[:0]
	kinds := rec.Column(0).(*array.Int8).Int8Values()
	insertsOnly := true
	for _, k := range kinds {
		insertsOnly = insertsOnly && changelog.Kind(k) == changelog.Insert
	}
	if insertsOnly {
		b.Kinds = nil
	} else {
		for _, k := range kinds {
			b.Kinds = append(b.Kinds, changelog.Kind(k))
		}
	}
	for j, c := range b.Cols {
		if err := r.fill(c, j, rec.Column(j+1), n); err != nil {
			return nil, fmt.Errorf("column %d: %w", j+1, err)
		}
	}
	return b, nil
}

// arrowNulls sets c's NULL bitmap from arr's validity, reusing its storage.
func arrowNulls(c *vec.Col, arr arrow.Array, n int) {
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

func (r *arrowVecReader) fill(c *vec.Col, j int, arr arrow.Array, n int) error {
	nulls := c.Nulls
	c.Nulls = nil // may be reused below; Reset must not see an aliased bitmap
	c.Reset(n)
	c.Nulls = nulls[:0]
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
			return r.byValue(c, j, arr, n)
		}
		c.F64 = append(c.F64, a.Float64Values()...)
	case *array.Boolean:
		if c.Kind != vec.Bool {
			return r.byValue(c, j, arr, n)
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
			return r.byValue(c, j, arr, n)
		}
		for i, v := range a.Values() {
			lo := int64(v.LowBits())
			if a.IsValid(i) && v.HighBits() != lo>>63 { // beyond int64: the column cannot hold it
				c.I64 = c.I64[:0]
				return r.byValue(c, j, arr, n)
			}
			c.I64 = append(c.I64, lo)
		}
	case *array.String:
		appendArrowBytes(c, a.ValueOffsets(), a.ValueBytes(), n)
	case *array.Binary:
		appendArrowBytes(c, a.ValueOffsets(), a.ValueBytes(), n)
	case *array.Struct:
		if c.Kind != vec.Int64 || c.Tag != types.TagTimestamp {
			return r.byValue(c, j, arr, n)
		}
		ms, ns := a.Field(0).(*array.Int64).Int64Values(), a.Field(1).(*array.Int32).Int32Values()
		for i := 0; i < n; i++ {
			c.AppendTimestamp(ms[i], ns[i])
		}
	default:
		return r.byValue(c, j, arr, n)
	}
	if c.Kind == vec.Values || c.Len() != n {
		return r.byValue(c, j, arr, n)
	}
	arrowNulls(c, arr, n)
	return nil
}

// appendArrowBytes copies the values of a string or binary array into c's arena (one copy; the record
// batch's buffers are recycled by the reader).
func appendArrowBytes(c *vec.Col, offs []int32, data []byte, n int) {
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

// byValue reads a column element by element through the getter into a Values column (the types without
// a column form, and values a typed column cannot hold).
func (r *arrowVecReader) byValue(c *vec.Col, j int, arr arrow.Array, n int) error {
	if c.Kind != vec.Values {
		*c = vec.Col{Kind: vec.Values}
		r.batch.Cols[j] = c
	}
	if r.gets[j] == nil {
		r.gets[j] = compileArrowGetter(r.types[j])
	}
	c.Reset(n)
	c.Nulls = nil
	for i := 0; i < n; i++ {
		if arr.IsNull(i) {
			c.AppendNull(i)
		} else {
			c.Vals = append(c.Vals, r.gets[j](arr, i))
		}
	}
	return nil
}

// readIPCColumns reads an intermediate result file as columnar batches, for an output that takes columns.
func readIPCColumns(ctx context.Context, rd *ipc.FileReader, ts []types.Type, out changelog.Output, fail func(error) error) error {
	r := newArrowVecReader(ts)
	var conv vec.RowConv
	for i := 0; i < rd.NumRecords(); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := rd.RecordBatch(i)
		if err != nil {
			return fail(err)
		}
		b, err := r.read(rec)
		if err != nil {
			return fail(err)
		}
		if err := vec.Push(out, b, &conv); err != nil {
			return err
		}
	}
	return nil
}
