package parquet

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
	"github.com/sluicesql/sluice/vec/arrowconv"
)

// Columnar reading (issue 14: Arrow at the edges): NextColumns converts each record batch into vec columns
// a column at a time — integer, floating-point, BOOLEAN, DECIMAL (up to 18 digits, the file's scale),
// string, binary and DATE columns through vec/arrowconv, TIME and TIMESTAMP (INT96 nanoseconds, the session
// zone as the row path) by a loop over the values — and the other types (ARRAY, MAP, ROW, a DECIMAL whose
// scale or size the column cannot hold) value by value into a Values column, with the row path's getters.
// The values are those Next returns.

// vecReader holds NextColumns' reused batch.
type vecReader struct {
	batch vec.Batch
	cols  []*vec.Col // by output column
	gets  []getter   // by output column, compiled on first use
	read  []bool     // by output column: read from the file (else NULL)
	typed []bool     // by output column: the type has a typed column (else a Values column)
}

// NextColumns returns the next record batch as columns (one per field of the ROW type; the fields outside
// the projection or missing from the file are NULL), valid until the next call, or nil at the end of the
// file.
func (r *Reader) NextColumns() (b *vec.Batch, err error) {
	defer func() {
		if p := recover(); p != nil {
			if debugPanics {
				panic(p)
			}
			b, err = nil, fmt.Errorf("%w: %v", ErrCorrupt, p)
		}
	}()
	rec, n, err := r.nextRecord()
	if err != nil || n == 0 {
		return nil, err
	}
	if r.vr == nil {
		r.vr = newVecReader(r)
	}
	vr := r.vr
	b = &vr.batch
	b.N, b.Sel, b.Kinds = n, nil, nil
	for _, c := range r.cols {
		if c.src < 0 {
			continue
		}
		col, err := vr.fill(c, rec.Column(c.src), n)
		if err != nil {
			return nil, fmt.Errorf("column '%s': %w", c.name, err)
		}
		b.Cols[c.out] = col
	}
	for j := range b.Cols {
		if !vr.read[j] {
			b.Cols[j] = vr.nullCol(j, r.row.Fields[j].Type, n)
		}
	}
	return b, nil
}

func newVecReader(r *Reader) *vecReader {
	vr := &vecReader{cols: make([]*vec.Col, r.width), gets: make([]getter, r.width), read: make([]bool, r.width), typed: make([]bool, r.width)}
	vr.batch.Cols = make([]*vec.Col, r.width)
	for _, c := range r.cols {
		vr.read[c.out] = c.src >= 0
	}
	for j, f := range r.row.Fields {
		k := vec.ColFor(f.Type).Kind
		vr.typed[j] = k != vec.Struct && k != vec.Values
	}
	return vr
}

// nullCol returns a column of n NULLs for output column j.
func (vr *vecReader) nullCol(j int, t types.Type, n int) *vec.Col {
	c := vr.cols[j]
	if c == nil {
		c = &vec.Col{Kind: vec.Values}
		if vr.typed[j] {
			c = vec.ColFor(t)
		}
		vr.cols[j] = c
	}
	if c.Len() != n || !allNull(c.Nulls, n) {
		c.Nulls = nil
		c.Reset(n)
		c.PadNulls(n)
	}
	return c
}

func allNull(b vec.Bitmap, n int) bool {
	for i := 0; i < n; i++ {
		if !b.Get(i) {
			return false
		}
	}
	return true
}

// columnar reports whether arrow type at converts through arrowconv.Fill into a column of type t with the
// values the row path reads.
func columnar(at arrow.DataType, t types.Type) bool {
	switch at.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
		return t.IsIntegral()
	case arrow.FLOAT64:
		return t.Kind == types.Double || t.Kind == types.Float
	case arrow.BOOL:
		return t.Kind == types.Boolean
	case arrow.DECIMAL128:
		dt := at.(*arrow.Decimal128Type)
		return t.Kind == types.Decimal && t.Precision <= 18 && int(dt.Scale) == t.Scale
	case arrow.STRING, arrow.BINARY:
		return t.IsString() || t.IsBinary()
	case arrow.DATE32:
		return t.Kind == types.Date
	}
	return false
}

// fill converts one Arrow column into output column c.out.
func (vr *vecReader) fill(c readCol, arr arrow.Array, n int) (*vec.Col, error) {
	col := vr.cols[c.out]
	if col == nil || col.Kind == vec.Values && vr.typed[c.out] { // a Values column after a DECIMAL too large
		col = &vec.Col{Kind: vec.Values}
		if vr.typed[c.out] {
			col = vec.ColFor(c.typ)
		}
		vr.cols[c.out] = col
	}
	nulls := col.Nulls
	col.Nulls = nil // reused below; Reset must not see an aliased bitmap
	col.Reset(n)
	col.Nulls = nulls[:0]
	switch {
	case col.Kind == vec.Values:
	case columnar(c.at, c.typ):
		if arrowconv.Fill(col, arr, n) {
			return col, nil
		}
		col.Reset(n)
		col.Nulls = nil
	case (c.typ.Kind == types.Float || c.typ.Kind == types.Double) && c.at.ID() == arrow.FLOAT32:
		for _, v := range arr.(*array.Float32).Float32Values() {
			col.F64 = append(col.F64, float64(v))
		}
		arrowconv.Nulls(col, arr, n)
		return col, nil
	case c.typ.Kind == types.Time, c.typ.IsTimestamp():
		if vr.gets[c.out] == nil {
			g, err := compileGet(c.at, c.typ, c.localInt96)
			if err != nil {
				return nil, err
			}
			vr.gets[c.out] = g
		}
		get := vr.gets[c.out]
		for i := 0; i < n; i++ {
			if arr.IsNull(i) {
				col.I64 = append(col.I64, 0)
				if col.Nanos != nil {
					col.Nanos = append(col.Nanos, 0)
				}
				continue
			}
			v, err := get(arr, i)
			if err != nil {
				return nil, err
			}
			if v.T == types.TagTimestamp {
				col.AppendTimestamp(v.I, v.N)
			} else {
				col.I64 = append(col.I64, v.I)
				if col.Nanos != nil {
					col.Nanos = append(col.Nanos, 0)
				}
			}
		}
		arrowconv.Nulls(col, arr, n)
		return col, nil
	}
	return vr.byValue(c, arr, n)
}

// byValue reads a column value by value into a Values column (the row path's getters).
func (vr *vecReader) byValue(c readCol, arr arrow.Array, n int) (*vec.Col, error) {
	col := vr.cols[c.out]
	if col.Kind != vec.Values {
		col = &vec.Col{Kind: vec.Values}
		vr.cols[c.out] = col
	}
	if vr.gets[c.out] == nil {
		g, err := compileGet(c.at, c.typ, c.localInt96)
		if err != nil {
			return nil, err
		}
		vr.gets[c.out] = g
	}
	get := vr.gets[c.out]
	col.Nulls = nil
	col.Reset(n)
	for i := 0; i < n; i++ {
		if arr.IsNull(i) {
			col.AppendNull(i)
			continue
		}
		v, err := get(arr, i)
		if err != nil {
			return nil, err
		}
		col.Vals = append(col.Vals, v)
	}
	return col, nil
}
