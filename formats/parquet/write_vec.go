package parquet

import (
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
	"github.com/sluicesql/sluice/vec/arrowconv"
)

// Columnar writing (issue 14: Arrow at the edges): WriteColumns appends a batch's selected rows to the
// Arrow builders a column at a time — BIGINT, INT, DECIMAL, DOUBLE, strings and bytes through
// vec/arrowconv (the Arrow types of the exchange mapping and of Parquet's agree for these), the other
// flat types (TINYINT, SMALLINT, FLOAT, BOOLEAN, DATE, TIME, TIMESTAMP as INT96 nanoseconds) by a loop
// here, and the rest value by value through the row appenders. The file holds what Write would write.

// sharedArrow lists the kinds whose Parquet Arrow type is the exchange mapping's (arrowconv.AppendColumn).
func sharedArrow(k types.Kind) bool {
	switch k {
	case types.BigInt, types.Int, types.Decimal, types.Double, types.Char, types.VarChar, types.Binary, types.VarBinary:
		return true
	}
	return false
}

// WriteColumns appends the selected rows of b (one column per field of the ROW type). The changelog kinds
// are not written: the file holds insert-only rows, as with Write.
func (w *Writer) WriteColumns(b *vec.Batch) error {
	if len(b.Cols) != len(w.apps) {
		return fmt.Errorf("a batch of %d columns for a file of %d", len(b.Cols), len(w.apps))
	}
	n := b.Len()
	for from := 0; from < n; {
		to := min(n, from+w.cfg.BatchRows-w.pending)
		for j, c := range b.Cols {
			if c == nil {
				return fmt.Errorf("column '%s' is missing from a columnar batch", w.schema.Field(j).Name)
			}
			if err := w.appendColumn(b, from, to, j, c); err != nil {
				return fmt.Errorf("column '%s': %w", w.schema.Field(j).Name, err)
			}
		}
		w.pending += to - from
		w.rows += int64(to - from)
		from = to
		if w.pending >= w.cfg.BatchRows {
			if err := w.flushBatch(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *Writer) appendColumn(b *vec.Batch, from, to, j int, c *vec.Col) error {
	t := w.types[j]
	bld := w.rb.Field(j)
	if sharedArrow(t.Kind) && arrowconv.AppendColumn(b, from, to, c, t, bld) {
		return nil
	}
	if c.Kind == vec.Int64 || c.Kind == vec.Float64 || c.Kind == vec.Bool {
		if ok, err := w.appendFlat(b, from, to, c, t, bld); ok || err != nil {
			return err
		}
	}
	for k := from; k < to; k++ {
		if err := w.apps[j](bld, c.Value(b.Row(k))); err != nil {
			return err
		}
	}
	return nil
}

// appendFlat appends the flat columns arrowconv does not cover; false when c is not one of them.
func (w *Writer) appendFlat(b *vec.Batch, from, to int, c *vec.Col, t types.Type, bld array.Builder) (bool, error) {
	bld.Reserve(to - from)
	switch {
	case c.Kind == vec.Int64 && c.Tag == types.TagInt && t.Kind == types.TinyInt:
		bb := bld.(*array.Int8Builder)
		for k := from; k < to; k++ {
			if i := b.Row(k); c.Nulls.Get(i) {
				bb.AppendNull()
			} else {
				bb.UnsafeAppend(int8(c.I64[i]))
			}
		}
	case c.Kind == vec.Int64 && c.Tag == types.TagInt && t.Kind == types.SmallInt:
		bb := bld.(*array.Int16Builder)
		for k := from; k < to; k++ {
			if i := b.Row(k); c.Nulls.Get(i) {
				bb.AppendNull()
			} else {
				bb.UnsafeAppend(int16(c.I64[i]))
			}
		}
	case c.Kind == vec.Float64 && t.Kind == types.Float:
		bb := bld.(*array.Float32Builder)
		for k := from; k < to; k++ {
			if i := b.Row(k); c.Nulls.Get(i) {
				bb.AppendNull()
			} else {
				bb.UnsafeAppend(float32(c.F64[i]))
			}
		}
	case c.Kind == vec.Bool && t.Kind == types.Boolean:
		bb := bld.(*array.BooleanBuilder)
		for k := from; k < to; k++ {
			if i := b.Row(k); c.Nulls.Get(i) {
				bb.AppendNull()
			} else {
				bb.UnsafeAppend(c.B[i])
			}
		}
	case c.Kind == vec.Int64 && c.Tag == types.TagDate && t.Kind == types.Date:
		bb := bld.(*array.Date32Builder)
		for k := from; k < to; k++ {
			if i := b.Row(k); c.Nulls.Get(i) {
				bb.AppendNull()
			} else {
				bb.UnsafeAppend(arrow.Date32(c.I64[i]))
			}
		}
	case c.Kind == vec.Int64 && c.Tag == types.TagTime && t.Kind == types.Time:
		bb := bld.(*array.Time32Builder)
		for k := from; k < to; k++ {
			if i := b.Row(k); c.Nulls.Get(i) {
				bb.AppendNull()
			} else {
				bb.UnsafeAppend(arrow.Time32(c.I64[i] / 1e6))
			}
		}
	case c.Kind == vec.Int64 && c.Tag == types.TagTimestamp && t.IsTimestamp():
		bb := bld.(*array.TimestampBuilder)
		local := t.Kind == types.Timestamp && !w.cfg.UTC
		for k := from; k < to; k++ {
			i := b.Row(k)
			if c.Nulls.Get(i) {
				bb.AppendNull()
				continue
			}
			v := types.TimestampValue(c.I64[i], nanoAt(c, i))
			if local {
				v = types.TimestampFromLocal(v, time.Local)
			}
			if v.I > math.MaxInt64/1_000_000-1 || v.I < math.MinInt64/1_000_000+1 {
				return true, fmt.Errorf("timestamp %s is outside the range Parquet INT96 nanoseconds can hold (1677-09-21 to 2262-04-11)", types.FormatTimestamp(nil, v, 9))
			}
			bb.UnsafeAppend(arrow.Timestamp(v.I*1e6 + int64(v.N)))
		}
	default:
		return false, nil
	}
	return true, nil
}

func nanoAt(c *vec.Col, i int) int32 {
	if c.Nanos == nil {
		return 0
	}
	return c.Nanos[i]
}
