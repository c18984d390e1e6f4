package avro

import (
	"fmt"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Decoding straight into column vectors (issue 14): DecodeColumns walks the same compiled plan as Decode (so
// the schema resolution, the skips and the errors are Decode's) and appends scalars, strings and bytes to
// their typed columns without a types.Value or a string allocated per field. Nested records decode into the
// child columns of a struct column. Arrays, maps and the other scalars go through their values (no
// allocation for scalars).
//
// Projection (Project) makes a copy of the plan in which the fields a query does not read are skip nodes:
// they are read past by their encoding (varints, length-prefixed bytes, blocks of arrays and maps, the
// branch of a union, nested records) without being materialized or checked, and are NULL in the output.

// noColumnForm is the error for a value that has no exact form in its column. The values Decode makes for a
// reader type all have one in vec.ColFor's column for it (vec.Exact; decimals are range-checked first), so
// this is an internal error, not a data error.
func noColumnForm(path string) error {
	return &DecodeError{Field: path, Msg: "internal error: the decoded value has no form in its column; read the table into rows"}
}

// ColumnsSupported reports whether rows of type rowType decode into the columns vec.ColFor makes for its
// fields: every type but a ROW has an exact column (vec.Exact), and a ROW is a struct column whose members
// follow the same rule.
func ColumnsSupported(rowType types.Type) bool {
	for _, f := range rowType.Fields {
		if !vec.ExactDeep(f.Type) {
			return false
		}
	}
	return true
}

// Project returns a plan that reads what p needs and skips the rest (p nil: the plan itself). Fields not
// needed are NULL in Decode's and DecodeColumns's output.
func (p *DecodePlan) Project(proj *formats.Projection) *DecodePlan {
	if proj == nil {
		return p
	}
	return &DecodePlan{root: projectNode(p.root, proj)}
}

// projectNode returns a copy of a reader record node (or a union whose branches are) with the fields proj
// does not need turned into skips.
func projectNode(n *dnode, proj *formats.Projection) *dnode {
	if proj == nil {
		return n
	}
	switch n.op {
	case dUnion:
		out := *n
		out.branches = make([]*dnode, len(n.branches))
		for i, b := range n.branches {
			if b != nil {
				b = projectNode(b, proj)
			}
			out.branches[i] = b
		}
		return &out
	case dRecord:
	default:
		return n
	}
	if n.nreader < 0 {
		return n // a skip node
	}
	out := *n
	out.fields = make([]dfield, len(n.fields))
	out.defaults = nil
	for i, f := range n.fields {
		switch {
		case f.target < 0:
		case !proj.Needs(f.target):
			f = dfield{target: -1, node: skipOf(f.node)}
		case proj.Of(f.target) != nil:
			f.node = projectNode(f.node, proj.Of(f.target))
		}
		out.fields[i] = f
	}
	for _, d := range n.defaults {
		if proj.Needs(d.target) {
			out.defaults = append(out.defaults, d)
		}
	}
	// Fields read before the projection that are now skipped are set NULL (Decode fills dst by targets).
	for _, f := range n.fields {
		if f.target >= 0 && !proj.Needs(f.target) {
			out.defaults = append(out.defaults, dfault{target: f.target, val: types.NullValue})
		}
	}
	for _, d := range n.defaults {
		if !proj.Needs(d.target) {
			out.defaults = append(out.defaults, dfault{target: d.target, val: types.NullValue})
		}
	}
	return &out
}

// skipOf turns a decode node into one that reads past the same writer encoding.
func skipOf(n *dnode) *dnode {
	switch n.op {
	case dNull, sVarint, sFloat, sDouble, sBytes, sFixed:
		return n
	case dBool:
		return &dnode{op: sFixed, size: 1}
	case dInt, dIntFloat, dEnum, dDate, dTimeMillis, dTimeMicros, dTsMillis, dTsMicros, dTsNanos:
		return &dnode{op: sVarint, long: true}
	case dFloat:
		return &dnode{op: sFixed, size: 4}
	case dDouble:
		return &dnode{op: sFixed, size: 8}
	case dString, dBytes, dDecBytes:
		return &dnode{op: sBytes}
	case dFixed, dDecFixed:
		return &dnode{op: sFixed, size: n.size}
	case dArray, dMap:
		if n.nreader < 0 {
			return n
		}
		return &dnode{op: n.op, elem: skipOf(n.elem), nreader: -1}
	case dRecord:
		if n.nreader < 0 {
			return n
		}
		out := &dnode{op: dRecord, nreader: -1, fields: make([]dfield, len(n.fields))}
		for i, f := range n.fields {
			out.fields[i] = dfield{target: -1, node: skipOf(f.node)}
		}
		return out
	case dUnion:
		out := &dnode{op: dUnion, branches: make([]*dnode, len(n.branches))}
		for i, b := range n.branches {
			if b != nil {
				out.branches[i] = skipOf(b)
			}
		}
		return out
	}
	return n
}

// DecodeColumns reads one record from data into row `row` of cols (one column per reader field, made by
// vec.ColFor for its type, each holding `row` rows). It returns the bytes read and Decode's error for the
// same data; on an error the columns are left with `row` rows.
func (p *DecodePlan) DecodeColumns(data []byte, cols []*vec.Col, row int) (int, error) {
	r := reader{b: data}
	if err := colRecord(p.root, &r, cols, row); err != nil {
		for _, c := range cols {
			c.Truncate(row)
		}
		return r.p, err
	}
	for _, c := range cols {
		c.PadNulls(row + 1)
	}
	return r.p, nil
}

// colRecord is decodeRecord into row `row` of the columns of the reader fields; fields it does not write are
// left short (the caller pads them NULL).
func colRecord(n *dnode, r *reader, cols []*vec.Col, row int) error {
	for i := range n.fields {
		f := &n.fields[i]
		if f.target < 0 {
			if err := skipValue(f.node, r); err != nil {
				return errAt(f.node, err)
			}
			continue
		}
		if err := colValue(f.node, r, cols[f.target], row); err != nil {
			return errAt(f.node, err)
		}
	}
	for _, d := range n.defaults {
		if !cols[d.target].Append(row, d.val) {
			return noColumnForm(n.path)
		}
	}
	return nil
}

// colValue is decodeValue appending to col.
func colValue(n *dnode, r *reader, col *vec.Col, row int) error {
	switch n.op {
	case dNull:
		if n.notNull {
			return &DecodeError{Field: n.path, Msg: "NULL for a NOT NULL column"}
		}
		col.AppendNull(row)
		return nil
	case dString, dBytes, dFixed, dEnum:
		if col.Kind != vec.Bytes {
			break
		}
		var b []byte
		var err error
		switch n.op {
		case dFixed:
			b, err = r.fixed(int64(n.size))
		case dEnum:
			var i int64
			if i, err = r.int(); err == nil {
				if i < 0 || i >= int64(len(n.symbols)) {
					return decodeEnumError(n, i)
				}
				col.AppendString(n.symbols[i])
				return nil
			}
		default:
			b, err = r.bytes()
		}
		if err != nil {
			return err
		}
		col.Data = append(col.Data, b...)
		col.Off = append(col.Off, int32(len(col.Data)))
		return nil
	case dInt:
		if col.Kind != vec.Int64 || col.Tag != types.TagInt {
			break
		}
		var v int64
		var err error
		if n.long {
			v, err = r.long()
		} else {
			v, err = r.int()
		}
		if err != nil {
			return err
		}
		if v < n.lo || v > n.hi {
			return &DecodeError{Field: n.path, Msg: rangeMsg(v)}
		}
		col.I64 = append(col.I64, v)
		if col.Nanos != nil {
			col.Nanos = append(col.Nanos, 0)
		}
		return nil
	case dDouble:
		if col.Kind != vec.Float64 {
			break
		}
		f, err := r.double()
		if err != nil {
			return err
		}
		col.F64 = append(col.F64, f)
		return nil
	case dDecBytes, dDecFixed:
		// a DECIMAL(p <= 18) of the writer's scale that fits 64 bits: the unscaled value, range-checked as
		// decimalValue does; anything else (and its error) through decimalValue
		if col.Kind != vec.Int64 || col.Tag != types.TagDecimal || n.scale != n.rscale || n.prec > 18 {
			break
		}
		start := r.p
		var b []byte
		var err error
		if n.op == dDecBytes {
			b, err = r.bytes()
		} else {
			b, err = r.fixed(int64(n.size))
		}
		if err != nil {
			return err
		}
		if len(b) <= 8 {
			v, _ := fromTwos(b)
			if absU64(v) < pow10u[n.prec] {
				col.I64 = append(col.I64, v)
				return nil
			}
		}
		r.p = start
	case dRecord:
		if col.Kind != vec.Struct || len(col.Fields) != n.nreader {
			break
		}
		if err := colRecord(n, r, col.Fields, row); err != nil {
			return err
		}
		for _, f := range col.Fields {
			f.PadNulls(row + 1)
		}
		return nil
	case dUnion:
		i, err := r.long()
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(n.branches)) {
			return &DecodeError{Field: n.path, Msg: unionMsg(i, len(n.branches))}
		}
		return colValue(n.branches[i], r, col, row)
	case dArray, dMap:
		// values: the column of an ARRAY or a MAP holds them as such
	default:
		// booleans, floats, dates, times, timestamps, decimals: values without allocation (a decimal wider
		// than 64 bits allocates as in Decode)
	}
	v, err := decodeValue(n, r)
	if err != nil {
		return err
	}
	if !col.Append(row, v) {
		return noColumnForm(n.path)
	}
	return nil
}

func rangeMsg(v int64) string { return fmt.Sprintf("value %d is out of the column type's range", v) }

func unionMsg(i int64, n int) string {
	return fmt.Sprintf("union branch %d out of range (%d branches)", i, n)
}

func decodeEnumError(n *dnode, i int64) error {
	return &DecodeError{Field: n.path, Msg: fmt.Sprintf("enum index %d out of range (%d symbols)", i, len(n.symbols))}
}

// Project makes the decoder skip the fields p does not need (formats.Projector); they are NULL.
func (d *Decoder) Project(p *formats.Projection) { d.plan = d.plan.Project(p) }

// DecodesColumns reports whether DecodeColumns can decode this decoder's rows (ColumnsSupported).
func (d *Decoder) DecodesColumns() bool { return ColumnsSupported(d.rowType) }

// DecodeColumns decodes one message into row `row` of cols (one column per field, made by vec.ColFor),
// as Decode does: same values, same errors; on an error the columns keep `row` rows.
func (d *Decoder) DecodeColumns(data []byte, cols []*vec.Col, row int) (bool, error) {
	if len(cols) != d.nfields {
		return false, fmt.Errorf("%w: avro decoder for %d fields got %d columns", formats.ErrDecode, d.nfields, len(cols))
	}
	n, err := d.plan.DecodeColumns(data, cols, row)
	if err != nil {
		return false, RecordError(err, false, "failed to deserialize Avro record")
	}
	if n != len(data) {
		for _, c := range cols {
			c.Truncate(row)
		}
		return false, trailingError(n, len(data))
	}
	return true, nil
}

// pow10u[i] is 10^i, for the precision check of DECIMAL(p <= 18) values.
var pow10u = func() (t [19]uint64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

func absU64(v int64) uint64 {
	if v < 0 {
		return uint64(-v) // -MinInt64 wraps to 1<<63, its magnitude
	}
	return uint64(v)
}
