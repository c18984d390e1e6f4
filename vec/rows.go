package vec

import (
	"math"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// Output is implemented by an operator or sink that can take columnar batches as well as rows.
//
// Contract: PushColumns is Push for a columnar batch (same ordering, ownership and -U/+U adjacency rules).
// AcceptsColumns is a hint for producers: true when columns are processed as columns downstream, so that
// producing them pays; a producer may still push columns when it is false (they are converted to rows).
type Output interface {
	changelog.Output
	PushColumns(b *Batch) error
	AcceptsColumns() bool
}

// PositionedOutput is the columnar form of connectors.PositionedOutput: push and advance the source's
// position in one critical section.
type PositionedOutput interface {
	PushColumnsThen(b *Batch, advance func()) error
}

// Accepts reports whether out takes columnar batches natively.
func Accepts(out changelog.Output) bool {
	o, ok := out.(Output)
	return ok && o.AcceptsColumns()
}

// Push delivers b to out: as columns when out is an Output, else converted to rows with conv.
func Push(out changelog.Output, b *Batch, conv *RowConv) error {
	if o, ok := out.(Output); ok {
		return o.PushColumns(b)
	}
	return out.Push(conv.Rows(b))
}

// PushThen pushes b and then calls advance, inside the output's critical section when it has one.
func PushThen(out changelog.Output, b *Batch, conv *RowConv, advance func()) error {
	if p, ok := out.(PositionedOutput); ok {
		return p.PushColumnsThen(b, advance)
	}
	if b.Len() > 0 {
		if err := Push(out, b, conv); err != nil {
			return err
		}
	}
	advance()
	return nil
}

// RowConv converts columnar batches to rows, reusing its batch and value arena across calls.
type RowConv struct {
	batch changelog.Batch
	arena []types.Value
}

// Rows returns the selected rows of b as a changelog batch, valid until the next call. String values share
// b's byte arenas; ROW values are allocated (they may be kept downstream).
func (r *RowConv) Rows(b *Batch) *changelog.Batch {
	r.batch.Reset()
	w, n := len(b.Cols), b.Len()
	if n == 0 {
		return &r.batch // an empty selection: no column is read
	}
	if need := n * w; cap(r.arena) < need {
		r.arena = make([]types.Value, need)
	} else {
		r.arena = r.arena[:need]
	}
	// Column by column: one switch per column instead of one per value (Value's), typed loops.
	for j, c := range b.Cols {
		fillColumn(r.arena[j:], w, c, b.Sel, n)
	}
	for k := 0; k < n; k++ {
		r.batch.Append(b.Kind(b.Row(k)), r.arena[k*w:(k+1)*w:(k+1)*w])
	}
	return &r.batch
}

// fillColumn writes the n selected values of c into dst[0], dst[w], dst[2w], ... (the column's slot of each
// row in a row-major arena), as c.Value would.
func fillColumn(dst []types.Value, w int, c *Col, sel []int32, n int) {
	row := func(k int) int {
		if sel != nil {
			return int(sel[k])
		}
		return k
	}
	nulls := c.Nulls.Any()
	switch {
	case c.Kind == Int64 && (c.Tag != types.TagTimestamp || c.Nanos == nil):
		v := types.Value{T: c.Tag}
		if c.Tag == types.TagDecimal {
			v.N = c.Scale
		}
		for k := 0; k < n; k++ {
			i := row(k)
			if nulls && c.Nulls.Get(i) {
				dst[k*w] = types.NullValue
				continue
			}
			v.I = c.I64[i]
			dst[k*w] = v
		}
	case c.Kind == Float64:
		for k := 0; k < n; k++ {
			i := row(k)
			if nulls && c.Nulls.Get(i) {
				dst[k*w] = types.NullValue
				continue
			}
			dst[k*w] = types.Value{T: types.TagFloat, I: int64(math.Float64bits(c.F64[i]))}
		}
	case c.Kind == Bytes:
		if c.arena != nil && n > 0 {
			c.arena.exported = true
		}
		for k := 0; k < n; k++ {
			i := row(k)
			if nulls && c.Nulls.Get(i) {
				dst[k*w] = types.NullValue
				continue
			}
			dst[k*w] = types.Value{T: c.Tag, S: c.Str(i)}
		}
	default:
		for k := 0; k < n; k++ {
			dst[k*w] = c.Value(row(k))
		}
	}
}

// ColFor returns an empty column for values of type t: typed where the type has a vector form, else a
// Values column. Struct columns get child columns for the ROW's fields.
func ColFor(t types.Type) *Col {
	switch {
	case t.IsIntegral(), t.Kind == types.IntervalYearMonth, t.Kind == types.IntervalDayTime:
		return &Col{Kind: Int64, Tag: types.TagInt}
	case t.Kind == types.Date:
		return &Col{Kind: Int64, Tag: types.TagDate}
	case t.Kind == types.Time:
		return &Col{Kind: Int64, Tag: types.TagTime}
	case t.Kind == types.Timestamp || t.Kind == types.TimestampLTZ:
		return &Col{Kind: Int64, Tag: types.TagTimestamp}
	case t.Kind == types.Decimal && t.Precision > 18:
		return &Col{Kind: Dec128, Tag: types.TagDecimal, Scale: int32(t.Scale)}
	case t.Kind == types.Decimal:
		return &Col{Kind: Int64, Tag: types.TagDecimal, Scale: int32(t.Scale)}
	case t.Kind == types.Float || t.Kind == types.Double:
		return &Col{Kind: Float64, Tag: types.TagFloat}
	case t.Kind == types.Boolean:
		return &Col{Kind: Bool, Tag: types.TagBool}
	case t.IsString():
		return &Col{Kind: Bytes, Tag: types.TagString, Off: []int32{0}}
	case t.Kind == types.Binary || t.Kind == types.VarBinary:
		return &Col{Kind: Bytes, Tag: types.TagBytes, Off: []int32{0}}
	case t.Kind == types.Row:
		c := &Col{Kind: Struct, Tag: types.TagRow}
		for _, f := range t.Fields {
			c.Fields = append(c.Fields, ColFor(f.Type))
		}
		return c
	}
	return &Col{Kind: Values}
}

// Exact reports whether every value of type t has an exact form in ColFor(t)'s column (no ROW; a DECIMAL
// of precision 19..38 is a Dec128 column): a decoder that writes straight into columns takes only such
// types. A ROW is a Struct column only where a decoder fills its members itself (json, avro and csv
// DecodesColumns check them); Append takes a ROW value whose members match the children.
func Exact(t types.Type) bool {
	return t.Kind != types.Row
}

// ExactDeep is Exact for a decoder that fills struct columns itself: a ROW qualifies when it has members
// and each of them does (its struct column's children then hold them exactly).
func ExactDeep(t types.Type) bool {
	if t.Kind == types.Row {
		for _, f := range t.Fields {
			if !ExactDeep(f.Type) {
				return false
			}
		}
		return len(t.Fields) > 0
	}
	return Exact(t)
}

// Append appends v to the column. It reports false when v has no exact form in the column (a DECIMAL
// that does not fit int64 or has another scale, a value of an unexpected representation): the caller then
// keeps the rows.
func (c *Col) Append(row int, v types.Value) bool {
	if v.T == types.TagNull {
		c.AppendNull(row)
		return true
	}
	switch c.Kind {
	case Int64:
		if v.T != c.Tag || v.T == types.TagDecimal && (v.X != nil || v.N != c.Scale) {
			return false
		}
		if v.T == types.TagTimestamp {
			c.AppendTimestamp(v.I, v.N)
			return true
		}
		c.I64 = append(c.I64, v.I)
		if c.Nanos != nil {
			c.Nanos = append(c.Nanos, 0)
		}
	case Float64:
		if v.T != types.TagFloat {
			return false
		}
		c.F64 = append(c.F64, math.Float64frombits(uint64(v.I)))
	case Bool:
		if v.T != types.TagBool {
			return false
		}
		c.B = append(c.B, v.I != 0)
	case Dec128:
		if v.T != types.TagDecimal || v.N != c.Scale {
			return false
		}
		x, ok := DecimalOf(v)
		if !ok {
			return false
		}
		c.D128 = append(c.D128, x)
	case Bytes:
		if v.T != c.Tag {
			return false
		}
		c.AppendString(v.S)
	case Struct:
		fs, ok := v.X.([]types.Value)
		if !ok || v.T != types.TagRow || len(fs) != len(c.Fields) {
			return false
		}
		for j, f := range c.Fields {
			if !f.Append(row, fs[j]) {
				return false
			}
		}
	default:
		c.Vals = append(c.Vals, v)
	}
	return true
}

// FromRows fills dst with rows' columns cols (nil: all), typed by ts (the row type's field types), reusing
// dst's columns when it has them. Columns not in cols are left empty (nil). It reports false when a value
// has no exact columnar form; dst is then not usable.
func FromRows(dst *Batch, rows []changelog.Row, ts []types.Type, cols []int) bool {
	dst.N, dst.Sel = len(rows), nil
	dst.Kinds = nil
	for i, r := range rows {
		if r.Kind != changelog.Insert {
			dst.Kinds = make([]changelog.Kind, len(rows))
			for k := range rows[i:] {
				dst.Kinds[i+k] = rows[i+k].Kind
			}
			break
		}
	}
	if len(dst.Cols) != len(ts) {
		dst.Cols = make([]*Col, len(ts))
	}
	fill := func(j int) bool {
		c := dst.Cols[j]
		if c == nil {
			c = ColFor(ts[j])
			dst.Cols[j] = c
		}
		c.Reset(len(rows))
		for i, r := range rows {
			if !c.Append(i, r.Vals[j]) {
				return false
			}
		}
		return true
	}
	if cols == nil {
		for j := range ts {
			if !fill(j) {
				return false
			}
		}
		return true
	}
	for _, j := range cols {
		if !fill(j) {
			return false
		}
	}
	return true
}
