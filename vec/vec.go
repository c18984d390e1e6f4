// Package vec holds typed column vectors and columnar batches: the representation operators use when they
// can process a batch a column at a time instead of a row at a time (issue 14, vectorized execution).
//
// A Col stores one column of a batch in typed Go slices without per-value pointers: int64 (also for DATE,
// TIME, TIMESTAMP milliseconds, intervals and DECIMAL(p <= 18) unscaled values), 128-bit two's complement
// words for DECIMAL(19..38) (dec128.go), float64, bool, strings and bytes in one byte arena with offsets,
// nested ROWs as child columns, and a NULL bitmap. A Batch is columns plus the
// changelog kind of every row and an optional selection vector (the rows a filter kept).
//
// Ownership: a Batch pushed to an Output belongs to the caller and is valid only during the call, as
// changelog batches are. The byte arena of a Bytes column is never written again once the batch is pushed
// (rows converted from it refer to it without copying), so producers start a new arena for every batch.
package vec

import (
	"math"
	"math/bits"
	"unsafe"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// Kind is the physical representation of a column.
type Kind uint8

const (
	Int64   Kind = iota // I64: integers, DATE days, TIME nanos, TIMESTAMP millis (+ Nanos), intervals, DECIMAL unscaled
	Float64             // F64: FLOAT, DOUBLE
	Bool                // B
	Bytes               // Off/Data: CHAR, VARCHAR, BINARY, VARBINARY
	Struct              // Fields: ROW, NULL where the row is NULL
	Values              // Vals: any other type, as row values
	Dec128              // D128: DECIMAL of precision 19..38, 128-bit unscaled values (dec128.go)
)

// Col is one column of a batch. Slices are indexed by physical row. Tag is the types.Tag of the column's
// non-NULL values (TagInt, TagDecimal, TagTimestamp, ...), so that values convert back exactly.
type Col struct {
	Kind  Kind
	Tag   types.Tag
	Scale int32 // DECIMAL scale

	I64   []int64
	Nanos []int32 // TIMESTAMP nanoseconds within the millisecond; nil when all are zero
	F64   []float64
	B     []bool
	Off   []int32 // Bytes: value i is Data[Off[i]:Off[i+1]]; len(Off) = rows + 1
	Data  []byte
	// Fields are a Struct's child columns, one slot per row of the batch (zero where the ROW is NULL).
	Fields []*Col
	Vals   []types.Value
	D128   []Int128 // Dec128: unscaled values

	// Nulls has bit i set when row i is NULL; nil means no row is NULL.
	Nulls Bitmap

	// arena records whether strings of Data were handed out as row values (shared by shallow copies).
	arena *arenaState
}

// arenaState says whether a Bytes column's arena was exported: values made by Value refer to it, so Reset
// must start a new one; an arena that was only read by kernels is reused.
type arenaState struct{ exported bool }

// Bitmap is a bit per row, 64 rows a word.
type Bitmap []uint64

// Get reports bit i (false beyond the bitmap, so a nil bitmap has no bit set).
func (b Bitmap) Get(i int) bool { return i>>6 < len(b) && b[i>>6]&(1<<(uint(i)&63)) != 0 }

// Set sets bit i; the bitmap must have room (see Grow).
func (b Bitmap) Set(i int) { b[i>>6] |= 1 << (uint(i) & 63) }

// Words is the number of words for n bits.
func Words(n int) int { return (n + 63) >> 6 }

// ResetBitmap returns b emptied to n bits (all clear), reusing its storage.
func ResetBitmap(b Bitmap, n int) Bitmap {
	w := Words(n)
	if cap(b) < w {
		return make(Bitmap, w)
	}
	b = b[:w]
	clear(b)
	return b
}

// Any reports whether any bit is set.
func (b Bitmap) Any() bool {
	for _, w := range b {
		if w != 0 {
			return true
		}
	}
	return false
}

// Count is the number of set bits.
func (b Bitmap) Count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// IsNull reports whether row i is NULL.
func (c *Col) IsNull(i int) bool { return c.Nulls.Get(i) }

// Str returns value i of a Bytes column as a string sharing the arena (valid as long as the arena, which is
// never rewritten once pushed).
func (c *Col) Str(i int) string {
	lo, hi := c.Off[i], c.Off[i+1]
	if lo == hi {
		return ""
	}
	return unsafe.String(&c.Data[lo], int(hi-lo))
}

// Value returns row i as a types.Value. Strings share the arena; a ROW allocates its field values.
func (c *Col) Value(i int) types.Value {
	if c.Nulls.Get(i) {
		return types.NullValue
	}
	switch c.Kind {
	case Int64:
		v := types.Value{T: c.Tag, I: c.I64[i]}
		switch c.Tag {
		case types.TagDecimal:
			v.N = c.Scale
		case types.TagTimestamp:
			if c.Nanos != nil {
				v.N = c.Nanos[i]
			}
		}
		return v
	case Float64:
		return types.Value{T: types.TagFloat, I: int64(math.Float64bits(c.F64[i]))}
	case Bool:
		return types.BoolValue(c.B[i])
	case Bytes:
		if c.arena != nil {
			c.arena.exported = true
		}
		return types.Value{T: c.Tag, S: c.Str(i)}
	case Dec128:
		return DecimalValue(c.D128[i], c.Scale)
	case Struct:
		fs := make([]types.Value, len(c.Fields))
		for j, f := range c.Fields {
			fs[j] = f.Value(i)
		}
		return types.RowValue(fs)
	}
	return c.Vals[i]
}

// Batch is a columnar batch: N physical rows, their changelog kinds, the selected rows and the columns.
type Batch struct {
	N int
	// Kinds holds each physical row's kind; nil means every row is an insert (+I).
	Kinds []changelog.Kind
	// Sel lists the physical rows that are part of the batch, ascending; nil means all N rows.
	Sel  []int32
	Cols []*Col
}

// Len is the number of selected rows.
func (b *Batch) Len() int {
	if b.Sel != nil {
		return len(b.Sel)
	}
	return b.N
}

// Kind is the changelog kind of physical row i.
func (b *Batch) Kind(i int) changelog.Kind {
	if b.Kinds == nil {
		return changelog.Insert
	}
	return b.Kinds[i]
}

// Row returns the physical index of the k-th selected row.
func (b *Batch) Row(k int) int {
	if b.Sel != nil {
		return int(b.Sel[k])
	}
	return k
}

// Reset empties the column, keeping slices' storage. A Bytes arena is reused only when no value of it was
// handed out as a row value (Value): rows made from a pushed batch may still refer to it.
func (c *Col) Reset(n int) {
	c.I64 = c.I64[:0]
	c.Nanos = nil
	c.F64 = c.F64[:0]
	c.B = c.B[:0]
	c.D128 = c.D128[:0]
	c.Off = append(c.Off[:0], 0)
	if c.Kind == Bytes {
		if c.arena == nil {
			c.arena = &arenaState{}
		}
		if c.arena.exported {
			c.Data = make([]byte, 0, cap(c.Data))
			c.arena.exported = false
		} else {
			c.Data = c.Data[:0]
		}
	}
	clear(c.Vals)
	c.Vals = c.Vals[:0]
	c.Nulls = c.Nulls[:0]
	for _, f := range c.Fields {
		f.Reset(n)
	}
}

// AppendNull appends a NULL (a zero slot, and the NULL bit; Struct children get zero slots).
func (c *Col) AppendNull(row int) {
	if len(c.Nulls) < Words(row+1) {
		c.Nulls = append(c.Nulls, make(Bitmap, Words(row+1)-len(c.Nulls))...)
	}
	c.Nulls.Set(row)
	c.appendZero()
}

func (c *Col) appendZero() {
	switch c.Kind {
	case Int64:
		c.I64 = append(c.I64, 0)
		if c.Nanos != nil {
			c.Nanos = append(c.Nanos, 0)
		}
	case Float64:
		c.F64 = append(c.F64, 0)
	case Bool:
		c.B = append(c.B, false)
	case Dec128:
		c.D128 = append(c.D128, Int128{})
	case Bytes:
		c.Off = append(c.Off, int32(len(c.Data)))
	case Struct:
		for _, f := range c.Fields {
			f.appendZero()
		}
	default:
		c.Vals = append(c.Vals, types.NullValue)
	}
}

// AppendString appends a string to a Bytes column.
func (c *Col) AppendString(s string) {
	c.Data = append(c.Data, s...)
	c.Off = append(c.Off, int32(len(c.Data)))
}

// AppendTimestamp appends a TIMESTAMP to an Int64 column.
func (c *Col) AppendTimestamp(millis int64, nanos int32) {
	if nanos != 0 && c.Nanos == nil {
		c.Nanos = make([]int32, len(c.I64), cap(c.I64))
	}
	c.I64 = append(c.I64, millis)
	if c.Nanos != nil {
		c.Nanos = append(c.Nanos, nanos)
	}
}

// Len is the number of rows appended to the column.
func (c *Col) Len() int {
	switch c.Kind {
	case Int64:
		return len(c.I64)
	case Float64:
		return len(c.F64)
	case Bool:
		return len(c.B)
	case Dec128:
		return len(c.D128)
	case Bytes:
		return max(len(c.Off)-1, 0)
	case Struct:
		if len(c.Fields) > 0 {
			return c.Fields[0].Len()
		}
		return 0
	}
	return len(c.Vals)
}

// PadNulls appends NULLs until the column has n rows (a producer filling a sparse column, such as a ROW
// that only some rows have, appends its values and pads the rows in between in bulk).
func (c *Col) PadNulls(n int) {
	cur := c.Len()
	if cur >= n {
		return
	}
	if w := Words(n); len(c.Nulls) < w {
		c.Nulls = append(c.Nulls, make(Bitmap, w-len(c.Nulls))...)
	}
	for i := cur; i < n; i++ {
		c.Nulls.Set(i)
	}
	c.appendZeros(n - cur)
}

func (c *Col) appendZeros(k int) {
	switch c.Kind {
	case Int64:
		c.I64 = append(c.I64, make([]int64, k)...)
		if c.Nanos != nil {
			c.Nanos = append(c.Nanos, make([]int32, k)...)
		}
	case Float64:
		c.F64 = append(c.F64, make([]float64, k)...)
	case Bool:
		c.B = append(c.B, make([]bool, k)...)
	case Dec128:
		c.D128 = append(c.D128, make([]Int128, k)...)
	case Bytes:
		end := int32(len(c.Data))
		for ; k > 0; k-- {
			c.Off = append(c.Off, end)
		}
	case Struct:
		for _, f := range c.Fields {
			f.appendZeros(k)
		}
	default:
		c.Vals = append(c.Vals, make([]types.Value, k)...)
	}
}
