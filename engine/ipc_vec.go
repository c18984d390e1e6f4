package engine

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
	"github.com/sluicesql/sluice/vec/arrowconv"
)

// Columnar batches ↔ Arrow arrays for intermediate result files (issue 14: Arrow at the edges). The Arrow
// mapping is the one of ipc_arrow.go; a vec column converts a column at a time for the flat types (integers,
// DATE, TIME, intervals, FLOAT/DOUBLE, DECIMAL held as int64, BOOLEAN, strings and bytes, TIMESTAMP as the
// millis/nanos struct) and value by value through the row appender and getter for the others. The changelog
// kind is the '$row_kind' column, as for rows.

// appendVecColumn appends rows [from, to) of b's selection from column c (of type t) to bld, the builder of
// exchangeArrowType(t); app is the row appender of the same builder, for the types without a column path.
func appendVecColumn(b *vec.Batch, from, to int, c *vec.Col, t types.Type, bld array.Builder, app arrowAppender) error {
	if arrowconv.AppendColumn(b, from, to, c, t, bld) {
		return nil
	}
	for k := from; k < to; k++ {
		if err := app(c.Value(b.Row(k))); err != nil {
			return err
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
		to := min(n, from+w.maxRows-w.pending)
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
		if w.pending == w.maxRows {
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

func (r *arrowVecReader) fill(c *vec.Col, j int, arr arrow.Array, n int) error {
	nulls := c.Nulls
	c.Nulls = nil // may be reused below; Reset must not see an aliased bitmap
	c.Reset(n)
	c.Nulls = nulls[:0]
	if !arrowconv.Fill(c, arr, n) {
		return r.byValue(c, j, arr, n)
	}
	return nil
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
