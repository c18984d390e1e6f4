package parquet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sluicesql/sluice/types"
)

// Reader reads the rows of one Parquet file as values of a ROW type. Columns are matched by name; a column
// the file lacks reads as NULL. Only the projected columns are decoded (projection pushdown): the others are
// never read from the file.
type Reader struct {
	pf      *file.Reader
	rr      pqarrow.RecordReader
	cols    []readCol // one per projected output column
	width   int
	slab    []types.Value
	rec     arrow.RecordBatch
	nextRow int
	row     types.Type
	vr      *vecReader // NextColumns' state (read_vec.go)
}

type readCol struct {
	out  int // position in the output row
	src  int // column of the record batch, -1 when the file lacks it
	fill func(arr arrow.Array, dst []types.Value, stride, col int) error
	name string
	// For NextColumns: the file's Arrow type, the column's type, and the value getter (read_vec.go).
	at         arrow.DataType
	typ        types.Type
	localInt96 bool
}

// ErrCorrupt wraps errors about files that are not valid Parquet.
var ErrCorrupt = errors.New("not a valid Parquet file")

// NewReader opens a Parquet file read from r. row is the table's ROW type; project lists the indexes of
// the fields of row to read (nil: all); the rows Next returns have len(row.Fields) values, the others NULL.
func NewReader(ctx context.Context, r pq.ReaderAtSeeker, row types.Type, project []int, cfg Config) (rd *Reader, err error) {
	defer func() {
		if p := recover(); p != nil { // arrow-go panics on some malformed footers
			rd, err = nil, fmt.Errorf("%w: %v", ErrCorrupt, p)
		}
	}()
	pf, err := file.NewParquetReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	batch := cfg.BatchRows
	if batch <= 0 {
		batch = 8192
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(batch)}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if project == nil {
		project = make([]int, len(row.Fields))
		for i := range project {
			project[i] = i
		}
	}
	byName := map[string]int{}
	for i, f := range fr.Manifest.Fields {
		byName[f.Field.Name] = i
	}
	rd = &Reader{pf: pf, width: len(row.Fields), row: row}
	var leaves []int
	var picked []int // top-level file fields, in file order after sorting below
	pickedSet := map[int]bool{}
	for _, p := range project {
		if fi, ok := byName[row.Fields[p].Name]; ok && !pickedSet[fi] {
			pickedSet[fi] = true
			picked = append(picked, fi)
		}
	}
	// The record reader returns the selected fields in file order.
	for i := range fr.Manifest.Fields {
		if pickedSet[i] {
			collectLeaves(&fr.Manifest.Fields[i], &leaves)
		}
	}
	srcOf := map[int]int{}
	n := 0
	for i := range fr.Manifest.Fields {
		if pickedSet[i] {
			srcOf[i] = n
			n++
		}
	}
	for _, p := range project {
		f := row.Fields[p]
		c := readCol{out: p, src: -1, name: f.Name}
		if fi, ok := byName[f.Name]; ok {
			c.src = srcOf[fi]
			sf := &fr.Manifest.Fields[fi]
			int96 := sf.IsLeaf() && pf.MetaData().Schema.Column(sf.ColIndex).PhysicalType() == pq.Types.Int96
			fill, err := compileFill(sf.Field.Type, f.Type, int96 && !cfg.UTC)
			if err != nil {
				pf.Close()
				return nil, fmt.Errorf("column '%s': %w", f.Name, err)
			}
			c.fill = fill
			c.at, c.localInt96 = sf.Field.Type, int96 && !cfg.UTC
		}
		c.typ = f.Type
		rd.cols = append(rd.cols, c)
	}
	if len(leaves) > 0 {
		rd.rr, err = fr.GetRecordReader(ctx, leaves, nil)
		if err != nil {
			pf.Close()
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	_ = picked
	return rd, nil
}

func collectLeaves(f *pqarrow.SchemaField, out *[]int) {
	if f.IsLeaf() {
		*out = append(*out, f.ColIndex)
		return
	}
	for i := range f.Children {
		collectLeaves(&f.Children[i], out)
	}
}

// NumRows is the number of rows of the file (from its footer).
func (r *Reader) NumRows() int64 { return r.pf.NumRows() }

// Next returns the next batch of rows (each a slice of the returned slab; valid until the next call), or
// nil at the end of the file.
func (r *Reader) Next() (rows [][]types.Value, err error) {
	defer func() {
		if p := recover(); p != nil {
			if debugPanics {
				panic(p)
			}
			rows, err = nil, fmt.Errorf("%w: %v", ErrCorrupt, p)
		}
	}()
	rec, nrows, err := r.nextRecord()
	if err != nil || nrows == 0 {
		return nil, err
	}
	need := nrows * r.width
	// A new slab per batch: rows handed downstream may be kept (values are immutable).
	r.slab = make([]types.Value, need)
	for _, c := range r.cols {
		if c.src < 0 {
			continue
		}
		if err := c.fill(rec.Column(c.src), r.slab, r.width, c.out); err != nil {
			return nil, fmt.Errorf("column '%s': %w", c.name, err)
		}
	}
	out := make([][]types.Value, nrows)
	for i := range out {
		out[i] = r.slab[i*r.width : (i+1)*r.width : (i+1)*r.width]
	}
	return out, nil
}

// nextRecord reads the next record batch (nil when no column of the projection is in the file: only the
// row count matters); nrows is 0 at the end of the file.
func (r *Reader) nextRecord() (rec arrow.RecordBatch, nrows int, err error) {
	if r.rr == nil {
		left := int(r.pf.NumRows()) - r.nextRow
		if left <= 0 {
			return nil, 0, nil
		}
		nrows = min(left, 8192)
		r.nextRow += nrows
		return nil, nrows, nil
	}
	for {
		if !r.rr.Next() {
			if err := r.rr.Err(); err != nil && !errors.Is(err, errEOF) {
				return nil, 0, fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
			return nil, 0, nil
		}
		rec = r.rr.RecordBatch()
		if nrows = int(rec.NumRows()); nrows > 0 {
			return rec, nrows, nil
		}
	}
}

var errEOF = errors.New("EOF")

// Close releases the file.
func (r *Reader) Close() error {
	if r.rr != nil {
		r.rr.Release()
	}
	return r.pf.Close()
}

// compileFill returns a function writing the values of an Arrow column into dst[row*stride+col].
func compileFill(at arrow.DataType, t types.Type, localInt96 bool) (func(arrow.Array, []types.Value, int, int) error, error) {
	switch t.Kind {
	case types.Char, types.VarChar, types.Binary, types.VarBinary:
		switch at.ID() {
		case arrow.STRING, arrow.BINARY:
			// One copy of the column's bytes per batch; the values are substrings of it.
			return func(arr arrow.Array, dst []types.Value, stride, col int) error {
				tag := types.TagString
				if t.IsBinary() {
					tag = types.TagBytes
				}
				var offs []int32
				var data []byte
				switch a := arr.(type) {
				case *array.String:
					offs, data = a.ValueOffsets(), a.ValueBytes()
				case *array.Binary:
					offs, data = a.ValueOffsets(), a.ValueBytes()
				}
				if len(offs) == 0 {
					return nil
				}
				base := offs[0]
				s := string(data[:offs[len(offs)-1]-base])
				for i := 0; i < arr.Len(); i++ {
					if arr.IsNull(i) {
						continue
					}
					dst[i*stride+col] = types.Value{T: tag, S: s[offs[i]-base : offs[i+1]-base]}
				}
				return nil
			}, nil
		}
	}
	if f := fastFill(at, t); f != nil {
		return f, nil
	}
	get, err := compileGet(at, t, localInt96)
	if err != nil {
		return nil, err
	}
	return func(arr arrow.Array, dst []types.Value, stride, col int) error {
		for i := 0; i < arr.Len(); i++ {
			if arr.IsNull(i) {
				continue
			}
			v, err := get(arr, i)
			if err != nil {
				return err
			}
			dst[i*stride+col] = v
		}
		return nil
	}, nil
}

type getter func(arr arrow.Array, i int) (types.Value, error)

func mismatch(at arrow.DataType, t types.Type) error {
	return fmt.Errorf("the file's type %s cannot be read as %s", at, t)
}

// compileGet returns a function reading element i (not null) of an Arrow array of type at as a value of t.
func compileGet(at arrow.DataType, t types.Type, localInt96 bool) (getter, error) {
	switch t.Kind {
	case types.Boolean:
		if at.ID() == arrow.BOOL {
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.BoolValue(a.(*array.Boolean).Value(i)), nil
			}, nil
		}
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
		switch at.ID() {
		case arrow.INT8:
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.IntValue(int64(a.(*array.Int8).Value(i))), nil
			}, nil
		case arrow.INT16:
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.IntValue(int64(a.(*array.Int16).Value(i))), nil
			}, nil
		case arrow.INT32:
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.IntValue(int64(a.(*array.Int32).Value(i))), nil
			}, nil
		case arrow.INT64:
			return func(a arrow.Array, i int) (types.Value, error) { return types.IntValue(a.(*array.Int64).Value(i)), nil }, nil
		case arrow.UINT8:
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.IntValue(int64(a.(*array.Uint8).Value(i))), nil
			}, nil
		case arrow.UINT16:
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.IntValue(int64(a.(*array.Uint16).Value(i))), nil
			}, nil
		case arrow.UINT32:
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.IntValue(int64(a.(*array.Uint32).Value(i))), nil
			}, nil
		}
	case types.Float, types.Double:
		switch at.ID() {
		case arrow.FLOAT32:
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.FloatValue(float64(a.(*array.Float32).Value(i))), nil
			}, nil
		case arrow.FLOAT64:
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.FloatValue(a.(*array.Float64).Value(i)), nil
			}, nil
		}
	case types.Decimal:
		if dt, ok := at.(*arrow.Decimal128Type); ok {
			from, to := int(dt.Scale), t.Scale
			return func(a arrow.Array, i int) (types.Value, error) {
				n := a.(*array.Decimal128).Value(i)
				if lo, hi := n.LowBits(), n.HighBits(); from == to && (hi == 0 && lo < 1<<63 || hi == -1 && lo >= 1<<63) {
					return types.DecimalValue(int64(lo), to), nil
				}
				b := n.BigInt()
				for s := from; s < to; s++ {
					b.Mul(b, ten)
				}
				for s := from; s > to; s-- {
					b.Quo(b, ten)
				}
				return types.BigDecimalValue(b, to), nil
			}, nil
		}
	case types.Char, types.VarChar, types.Binary, types.VarBinary:
		tag := types.TagString
		if t.IsBinary() {
			tag = types.TagBytes
		}
		switch at.ID() {
		case arrow.STRING:
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.Value{T: tag, S: strings.Clone(a.(*array.String).Value(i))}, nil
			}, nil
		case arrow.BINARY:
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.Value{T: tag, S: string(a.(*array.Binary).Value(i))}, nil
			}, nil
		case arrow.LARGE_STRING:
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.Value{T: tag, S: strings.Clone(a.(*array.LargeString).Value(i))}, nil
			}, nil
		case arrow.FIXED_SIZE_BINARY:
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.Value{T: tag, S: string(a.(*array.FixedSizeBinary).Value(i))}, nil
			}, nil
		}
	case types.Date:
		switch at.ID() {
		case arrow.DATE32:
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.DateValue(int64(a.(*array.Date32).Value(i))), nil
			}, nil
		case arrow.DATE64:
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.DateValue(floorDiv(int64(a.(*array.Date64).Value(i)), 86400000)), nil
			}, nil
		}
	case types.Time:
		switch dt := at.(type) {
		case *arrow.Time32Type:
			mul := int64(dt.Unit.Multiplier())
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.TruncateTime(types.TimeValue(int64(a.(*array.Time32).Value(i))*mul), t.Precision), nil
			}, nil
		case *arrow.Time64Type:
			mul := int64(dt.Unit.Multiplier())
			return func(a arrow.Array, i int) (types.Value, error) {
				return types.TruncateTime(types.TimeValue(int64(a.(*array.Time64).Value(i))*mul), t.Precision), nil
			}, nil
		}
	case types.Timestamp, types.TimestampLTZ:
		if dt, ok := at.(*arrow.TimestampType); ok {
			mul := int64(dt.Unit.Multiplier()) // nanoseconds per unit
			local := localInt96 && t.Kind == types.Timestamp
			return func(a arrow.Array, i int) (types.Value, error) {
				raw := int64(a.(*array.Timestamp).Value(i))
				var v types.Value
				if mul >= 1_000_000 {
					v = types.TimestampValue(raw*(mul/1_000_000), 0)
				} else {
					per := 1_000_000 / mul
					ms := floorDiv(raw, per)
					v = types.TimestampValue(ms, int32((raw-ms*per)*mul))
				}
				if local {
					v = types.TimestampToLocal(v, time.Local)
				}
				return types.TruncateTimestamp(v, t.Precision), nil
			}, nil
		}
	case types.Array:
		var elemType arrow.DataType
		switch dt := at.(type) {
		case *arrow.ListType:
			elemType = dt.Elem()
		case *arrow.LargeListType:
			elemType = dt.Elem()
		default:
			return nil, mismatch(at, t)
		}
		elem, err := compileGet(elemType, *t.Elem, localInt96)
		if err != nil {
			return nil, err
		}
		return func(a arrow.Array, i int) (types.Value, error) {
			la := a.(array.ListLike)
			start, end := la.ValueOffsets(i)
			vals := la.ListValues()
			out := make([]types.Value, 0, end-start)
			for j := int(start); j < int(end); j++ {
				if vals.IsNull(j) {
					out = append(out, types.NullValue)
					continue
				}
				v, err := elem(vals, j)
				if err != nil {
					return v, err
				}
				out = append(out, v)
			}
			return types.ArrayValue(out), nil
		}, nil
	case types.Map:
		dt, ok := at.(*arrow.MapType)
		if !ok {
			return nil, mismatch(at, t)
		}
		kg, err := compileGet(dt.KeyType(), *t.Key, localInt96)
		if err != nil {
			return nil, err
		}
		vg, err := compileGet(dt.ItemType(), *t.Elem, localInt96)
		if err != nil {
			return nil, err
		}
		return func(a arrow.Array, i int) (types.Value, error) {
			ma := a.(*array.Map)
			start, end := ma.ValueOffsets(i)
			ks, vs := ma.Keys(), ma.Items()
			m := &types.MapValue{}
			for j := int(start); j < int(end); j++ {
				k, err := kg(ks, j)
				if err != nil {
					return k, err
				}
				v := types.NullValue
				if !vs.IsNull(j) {
					if v, err = vg(vs, j); err != nil {
						return v, err
					}
				}
				m.Keys, m.Vals = append(m.Keys, k), append(m.Vals, v)
			}
			return types.MapOf(m), nil
		}, nil
	case types.Row:
		dt, ok := at.(*arrow.StructType)
		if !ok {
			return nil, mismatch(at, t)
		}
		idx := make([]int, len(t.Fields))
		gets := make([]getter, len(t.Fields))
		for k, f := range t.Fields {
			j, found := dt.FieldIdx(f.Name)
			if !found {
				idx[k] = -1
				continue
			}
			g, err := compileGet(dt.Field(j).Type, f.Type, localInt96)
			if err != nil {
				return nil, fmt.Errorf("field '%s': %w", f.Name, err)
			}
			idx[k], gets[k] = j, g
		}
		return func(a arrow.Array, i int) (types.Value, error) {
			sa := a.(*array.Struct)
			out := make([]types.Value, len(idx))
			for k, j := range idx {
				if j < 0 {
					continue
				}
				fa := sa.Field(j)
				if fa.IsNull(i) {
					continue
				}
				v, err := gets[k](fa, i)
				if err != nil {
					return v, err
				}
				out[k] = v
			}
			return types.RowValue(out), nil
		}, nil
	}
	return nil, mismatch(at, t)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

var debugPanics = false

// fastFill returns a loop over the values buffer for the common fixed-width columns read into integer,
// floating-point and date columns (no per-value call), or nil.
func fastFill(at arrow.DataType, t types.Type) func(arrow.Array, []types.Value, int, int) error {
	intCol := t.Kind == types.TinyInt || t.Kind == types.SmallInt || t.Kind == types.Int || t.Kind == types.BigInt
	switch {
	case intCol && at.ID() == arrow.INT64:
		return fillInts(func(a arrow.Array) []int64 { return a.(*array.Int64).Int64Values() }, types.TagInt)
	case intCol && at.ID() == arrow.INT32:
		return fillNarrow(func(a arrow.Array) []int32 { return a.(*array.Int32).Int32Values() }, types.TagInt)
	case t.Kind == types.Date && at.ID() == arrow.DATE32:
		return fillNarrow(func(a arrow.Array) []arrow.Date32 { return a.(*array.Date32).Date32Values() }, types.TagDate)
	case (t.Kind == types.Double || t.Kind == types.Float) && at.ID() == arrow.FLOAT64:
		return func(arr arrow.Array, dst []types.Value, stride, col int) error {
			vals := arr.(*array.Float64).Float64Values()
			nulls := arr.NullN() > 0
			for i, v := range vals {
				if nulls && arr.IsNull(i) {
					continue
				}
				dst[i*stride+col] = types.FloatValue(v)
			}
			return nil
		}
	}
	return nil
}

func fillInts(values func(arrow.Array) []int64, tag types.Tag) func(arrow.Array, []types.Value, int, int) error {
	return func(arr arrow.Array, dst []types.Value, stride, col int) error {
		vals := values(arr)
		nulls := arr.NullN() > 0
		for i, v := range vals {
			if nulls && arr.IsNull(i) {
				continue
			}
			dst[i*stride+col] = types.Value{T: tag, I: v}
		}
		return nil
	}
}

func fillNarrow[T int32 | arrow.Date32](values func(arrow.Array) []T, tag types.Tag) func(arrow.Array, []types.Value, int, int) error {
	return func(arr arrow.Array, dst []types.Value, stride, col int) error {
		vals := values(arr)
		nulls := arr.NullN() > 0
		for i, v := range vals {
			if nulls && arr.IsNull(i) {
				continue
			}
			dst[i*stride+col] = types.Value{T: tag, I: int64(v)}
		}
		return nil
	}
}
