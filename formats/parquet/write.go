package parquet

import (
	"fmt"
	"io"
	"math"
	"math/big"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sluicesql/sluice/types"
)

// Writer writes rows of one ROW type into a Parquet file. Rows are appended to Arrow builders; every
// BatchRows rows become one record batch that is written into the current row group, which is closed when
// it reaches the block size. Close flushes and writes the footer (it does not close w).
type Writer struct {
	cfg     Config
	schema  *arrow.Schema
	rb      *array.RecordBuilder
	fw      *pqarrow.FileWriter
	apps    []appender
	types   []types.Type // by column
	pending int
	rows    int64
}

type appender func(b array.Builder, v types.Value) error

// NewWriter starts a Parquet file of row on w.
func NewWriter(w io.Writer, row types.Type, cfg Config) (*Writer, error) {
	sc, err := ArrowSchema(row)
	if err != nil {
		return nil, err
	}
	if cfg.BatchRows <= 0 {
		cfg.BatchRows = 8192
	}
	wr := &Writer{cfg: cfg, schema: sc}
	for _, f := range row.Fields {
		wr.apps = append(wr.apps, compileAppender(f.Type, cfg.UTC))
		wr.types = append(wr.types, f.Type)
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(cfg.Codec), parquet.WithDictionaryDefault(cfg.Dictionary),
		parquet.WithDataPageSize(cfg.PageSize), parquet.WithMaxRowGroupLength(math.MaxInt32),
		parquet.WithCreatedBy("sluice"))
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithDeprecatedInt96Timestamps(true), pqarrow.WithStoreSchema())
	fw, err := pqarrow.NewFileWriter(sc, w, props, aprops)
	if err != nil {
		return nil, err
	}
	wr.fw = fw
	wr.rb = array.NewRecordBuilder(memory.DefaultAllocator, sc)
	return wr, nil
}

// Write appends one row (len = number of columns).
func (w *Writer) Write(row []types.Value) error {
	for i, app := range w.apps {
		if err := app(w.rb.Field(i), row[i]); err != nil {
			return fmt.Errorf("column '%s': %w", w.schema.Field(i).Name, err)
		}
	}
	w.pending++
	w.rows++
	if w.pending >= w.cfg.BatchRows {
		return w.flushBatch()
	}
	return nil
}

// Rows is the number of rows written so far.
func (w *Writer) Rows() int64 { return w.rows }

// Size estimates the bytes of the file so far: encoded row groups plus the buffered batch (not yet encoded,
// counted as its Arrow size).
func (w *Writer) Size() int64 {
	return w.fw.TotalCompressedBytes() + w.fw.RowGroupTotalCompressedBytes() + int64(w.pending)*8*int64(len(w.apps))
}

func (w *Writer) flushBatch() error {
	if w.pending == 0 {
		return nil
	}
	rec := w.rb.NewRecordBatch()
	defer rec.Release()
	w.pending = 0
	if err := w.fw.WriteBuffered(rec); err != nil {
		return err
	}
	if w.fw.RowGroupTotalCompressedBytes() >= w.cfg.BlockSize {
		return w.fw.NewBufferedRowGroupChecked()
	}
	return nil
}

// Close writes the buffered rows and the file footer.
func (w *Writer) Close() error {
	err := w.flushBatch()
	if cerr := w.fw.Close(); err == nil {
		err = cerr
	}
	w.rb.Release()
	return err
}

func compileAppender(t types.Type, utc bool) appender {
	var app appender
	switch t.Kind {
	case types.Boolean:
		app = func(b array.Builder, v types.Value) error { b.(*array.BooleanBuilder).Append(v.Bool()); return nil }
	case types.TinyInt:
		app = func(b array.Builder, v types.Value) error { b.(*array.Int8Builder).Append(int8(v.I)); return nil }
	case types.SmallInt:
		app = func(b array.Builder, v types.Value) error { b.(*array.Int16Builder).Append(int16(v.I)); return nil }
	case types.Int:
		app = func(b array.Builder, v types.Value) error { b.(*array.Int32Builder).Append(int32(v.I)); return nil }
	case types.BigInt:
		app = func(b array.Builder, v types.Value) error { b.(*array.Int64Builder).Append(v.I); return nil }
	case types.Float:
		app = func(b array.Builder, v types.Value) error {
			b.(*array.Float32Builder).Append(float32(v.Float()))
			return nil
		}
	case types.Double:
		app = func(b array.Builder, v types.Value) error { b.(*array.Float64Builder).Append(v.Float()); return nil }
	case types.Decimal:
		scale := t.Scale
		app = func(b array.Builder, v types.Value) error {
			n, err := decimalAt(v, scale)
			if err != nil {
				return err
			}
			b.(*array.Decimal128Builder).Append(n)
			return nil
		}
	case types.Char, types.VarChar:
		app = func(b array.Builder, v types.Value) error { b.(*array.StringBuilder).Append(v.S); return nil }
	case types.Binary, types.VarBinary:
		app = func(b array.Builder, v types.Value) error { b.(*array.BinaryBuilder).AppendString(v.S); return nil }
	case types.Date:
		app = func(b array.Builder, v types.Value) error {
			b.(*array.Date32Builder).Append(arrow.Date32(v.I))
			return nil
		}
	case types.Time:
		app = func(b array.Builder, v types.Value) error {
			b.(*array.Time32Builder).Append(arrow.Time32(v.I / 1e6))
			return nil
		}
	case types.Timestamp, types.TimestampLTZ:
		local := t.Kind == types.Timestamp && !utc
		app = func(b array.Builder, v types.Value) error {
			if local {
				v = types.TimestampFromLocal(v, time.Local)
			}
			if v.I > math.MaxInt64/1_000_000-1 || v.I < math.MinInt64/1_000_000+1 {
				return fmt.Errorf("timestamp %s is outside the range Parquet INT96 nanoseconds can hold (1677-09-21 to 2262-04-11)", types.FormatTimestamp(nil, v, 9))
			}
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(v.I*1e6 + int64(v.N)))
			return nil
		}
	case types.Array:
		elem := compileAppender(*t.Elem, utc)
		app = func(b array.Builder, v types.Value) error {
			lb := b.(*array.ListBuilder)
			lb.Append(true)
			vb := lb.ValueBuilder()
			for _, e := range v.Array() {
				if err := elem(vb, e); err != nil {
					return err
				}
			}
			return nil
		}
	case types.Map:
		key, val := compileAppender(*t.Key, utc), compileAppender(*t.Elem, utc)
		app = func(b array.Builder, v types.Value) error {
			mb := b.(*array.MapBuilder)
			mb.Append(true)
			m := v.Map()
			if m == nil {
				return nil
			}
			kb, ib := mb.KeyBuilder(), mb.ItemBuilder()
			for i := range m.Keys {
				if m.Keys[i].IsNull() {
					return fmt.Errorf("MAP key is NULL: Parquet map keys must not be null")
				}
				if err := key(kb, m.Keys[i]); err != nil {
					return err
				}
				if err := val(ib, m.Vals[i]); err != nil {
					return err
				}
			}
			return nil
		}
	case types.Row:
		fields := make([]appender, len(t.Fields))
		for i, f := range t.Fields {
			fields[i] = compileAppender(f.Type, utc)
		}
		app = func(b array.Builder, v types.Value) error {
			sb := b.(*array.StructBuilder)
			sb.Append(true)
			fv := v.Fields()
			for i, fa := range fields {
				x := types.NullValue
				if i < len(fv) {
					x = fv[i]
				}
				if err := fa(sb.FieldBuilder(i), x); err != nil {
					return err
				}
			}
			return nil
		}
	default:
		return func(array.Builder, types.Value) error { return fmt.Errorf("type %s is not supported", t) }
	}
	return func(b array.Builder, v types.Value) error {
		if v.IsNull() {
			b.AppendNull()
			return nil
		}
		return app(b, v)
	}
}

var ten = big.NewInt(10)

// decimalAt returns v's unscaled value at scale.
func decimalAt(v types.Value, scale int) (decimal128.Num, error) {
	if small, ok := v.DecimalSmall(); ok && v.DecimalScale() == scale {
		return decimal128.FromI64(small), nil
	}
	n := v.DecimalBig()
	for s := v.DecimalScale(); s < scale; s++ {
		n.Mul(n, ten)
	}
	for s := v.DecimalScale(); s > scale; s-- {
		n.Quo(n, ten)
	}
	if n.BitLen() > 127 {
		return decimal128.Num{}, fmt.Errorf("decimal value does not fit 38 digits")
	}
	return decimal128.FromBigInt(n), nil
}
