package avro

import (
	"fmt"
	"math"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluicesql/sluice/types"
)

// An EncodePlan writes rows of a row type as Avro binary data of a writer schema (the table-derived schema, or
// an explicit one that matches the table). It is compiled once; encoding appends to the caller's buffer and
// allocates only for decimals that do not fit 64 bits.
//
// An EncodePlan is immutable and safe for concurrent use.
type EncodePlan struct {
	root *enode
}

type eop uint8

const (
	eNull eop = iota
	eBool
	eInt // TagInt → int, range-checked
	eLong
	eFloat
	eDouble
	eString // TagString → string
	eBytes  // TagBytes or TagString → bytes
	eFixed  // TagBytes → fixed of the declared size
	eEnum   // TagString → enum index
	eDecBytes
	eDecFixed
	eDate
	eTimeMillis
	eTimeMicros
	eTsMillis
	eTsMicros
	eTsNanos
	eArray
	eMap
	eRecord
	eUnion
)

type enode struct {
	op      eop
	path    string
	size    int // eFixed, eDecFixed
	scale   int // decimals: writer scale
	prec    int // decimals: writer precision
	symbols map[string]int
	elem    *enode
	// eRecord: one entry per writer field
	fields []efield
	// eUnion
	nullIdx int // -1 when the union has no null branch
	valIdx  int
	val     *enode
}

type efield struct {
	source int    // row field index, -1 to write def
	def    []byte // the encoded default of a writer field the row does not have
	node   *enode
}

// EncodeError is an error encoding one value: Field is the row path.
type EncodeError = DecodeError

// NewEncodePlan compiles the encoding of rowType (a ROW) as writer (a record schema). Fields are matched by
// name; a writer field the row lacks is written with its default, and one without a default is an error.
func NewEncodePlan(rowType types.Type, writer hamba.Schema) (*EncodePlan, error) {
	w := deref(writer)
	rec, ok := w.(*hamba.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("the schema is a %s, not a record", w.Type())
	}
	if rowType.Kind != types.Row {
		return nil, fmt.Errorf("the row type is %s, not a ROW", rowType)
	}
	n, err := compileEncodeRecord(rec, rowType, "")
	if err != nil {
		return nil, err
	}
	return &EncodePlan{root: n}, nil
}

// Append appends the Avro binary encoding of row to dst. On error it returns dst unchanged (up to its length)
// and an *EncodeError.
func (p *EncodePlan) Append(dst []byte, row []types.Value) ([]byte, error) {
	out, err := encodeRecord(p.root, dst, row)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func compileEncodeRecord(w *hamba.RecordSchema, rt types.Type, path string) (*enode, error) {
	n := &enode{op: eRecord, path: path}
	byName := map[string]int{}
	for i, f := range rt.Fields {
		byName[f.Name] = i
	}
	used := make([]bool, len(rt.Fields))
	for _, wf := range w.Fields() {
		i, ok := byName[wf.Name()]
		if !ok {
			for _, a := range wf.Aliases() {
				if i, ok = byName[a]; ok {
					break
				}
			}
		}
		if !ok {
			if !wf.HasDefault() {
				return nil, &EncodeError{Field: joinPath(path, wf.Name()), Msg: fmt.Sprintf("the schema's field '%s' has no column and no default", wf.Name())}
			}
			def, err := encodeDefault(wf.Type(), wf.Default())
			if err != nil {
				return nil, &EncodeError{Field: joinPath(path, wf.Name()), Msg: err.Error()}
			}
			n.fields = append(n.fields, efield{source: -1, def: def})
			continue
		}
		used[i] = true
		fn, err := compileEncode(wf.Type(), rt.Fields[i].Type, joinPath(path, rt.Fields[i].Name))
		if err != nil {
			return nil, err
		}
		n.fields = append(n.fields, efield{source: i, node: fn})
	}
	for i, f := range rt.Fields {
		if !used[i] {
			return nil, &EncodeError{Field: joinPath(path, f.Name), Msg: fmt.Sprintf("the schema's record %s has no field '%s'", w.FullName(), f.Name)}
		}
	}
	return n, nil
}

// encodeDefault encodes a writer field default (null, boolean, numbers, strings) for a field the row lacks.
func encodeDefault(w hamba.Schema, d any) ([]byte, error) {
	w = deref(w)
	if u, ok := w.(*hamba.UnionSchema); ok {
		// A union's default belongs to its first branch.
		b, err := encodeDefault(u.Types()[0], d)
		if err != nil {
			return nil, err
		}
		return append([]byte{0}, b...), nil
	}
	bad := fmt.Errorf("cannot write the default %v of a %s", d, describe(w))
	f, isNum := toFloat(d)
	switch w.Type() {
	case hamba.Null:
		if d == nil {
			return nil, nil
		}
	case hamba.Boolean:
		if b, ok := d.(bool); ok {
			if b {
				return []byte{1}, nil
			}
			return []byte{0}, nil
		}
	case hamba.Int, hamba.Long:
		if isNum {
			return appendLong(nil, int64(f)), nil
		}
	case hamba.Float:
		if isNum {
			return appendFloat(nil, float32(f)), nil
		}
	case hamba.Double:
		if isNum {
			return appendDouble(nil, f), nil
		}
	case hamba.String:
		if s, ok := d.(string); ok {
			return appendBytes(nil, s), nil
		}
	case hamba.Enum:
		if s, ok := d.(string); ok {
			for i, sym := range w.(*hamba.EnumSchema).Symbols() {
				if sym == s {
					return appendLong(nil, int64(i)), nil
				}
			}
		}
	}
	return nil, bad
}

func toFloat(d any) (float64, bool) {
	switch x := d.(type) {
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func compileEncode(w hamba.Schema, rt types.Type, path string) (*enode, error) {
	w = deref(w)
	n := &enode{path: path, nullIdx: -1}
	incompatible := func() (*enode, error) {
		return nil, &EncodeError{Field: path, Msg: fmt.Sprintf("a %s column cannot be written as the schema's %s", rt, describe(w))}
	}
	if u, ok := w.(*hamba.UnionSchema); ok {
		n.op, n.valIdx = eUnion, -1
		var firstErr error
		for i, b := range u.Types() {
			if b.Type() == hamba.Null {
				if n.nullIdx < 0 {
					n.nullIdx = i
				}
				continue
			}
			if n.val != nil {
				continue
			}
			bn, err := compileEncode(b, rt.WithNullable(false), path)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			n.valIdx, n.val = i, bn
		}
		if n.val == nil {
			if firstErr == nil {
				firstErr = &EncodeError{Field: path, Msg: fmt.Sprintf("a %s column cannot be written as the schema's %s", rt, describe(w))}
			}
			return nil, firstErr
		}
		return n, nil
	}
	lt := logicalType(w)
	switch rt.Kind {
	case types.Boolean:
		if w.Type() != hamba.Boolean {
			return incompatible()
		}
		n.op = eBool
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
		switch {
		case w.Type() == hamba.Int && lt == "":
			n.op = eInt
		case w.Type() == hamba.Long && lt == "":
			n.op = eLong
		default:
			return incompatible()
		}
	case types.Float:
		switch w.Type() {
		case hamba.Float:
			n.op = eFloat
		case hamba.Double:
			n.op = eDouble
		default:
			return incompatible()
		}
	case types.Double:
		if w.Type() != hamba.Double {
			return incompatible()
		}
		n.op = eDouble
	case types.Char, types.VarChar:
		switch {
		case w.Type() == hamba.String:
			n.op = eString
		case w.Type() == hamba.Enum:
			n.op = eEnum
			n.symbols = map[string]int{}
			for i, s := range w.(*hamba.EnumSchema).Symbols() {
				n.symbols[s] = i
			}
		default:
			return incompatible()
		}
	case types.Binary, types.VarBinary:
		switch {
		case w.Type() == hamba.Bytes && lt == "":
			n.op = eBytes
		case w.Type() == hamba.Fixed && lt == "":
			n.op, n.size = eFixed, w.(*hamba.FixedSchema).Size()
		default:
			return incompatible()
		}
	case types.Decimal:
		d, ok := logical(w).(*hamba.DecimalLogicalSchema)
		if !ok {
			return incompatible()
		}
		n.scale, n.prec = d.Scale(), d.Precision()
		switch w.Type() {
		case hamba.Bytes:
			n.op = eDecBytes
		case hamba.Fixed:
			n.op, n.size = eDecFixed, w.(*hamba.FixedSchema).Size()
		default:
			return incompatible()
		}
	case types.Date:
		if w.Type() != hamba.Int || (lt != "" && lt != hamba.Date) {
			return incompatible()
		}
		n.op = eDate
	case types.Time:
		switch {
		case w.Type() == hamba.Int && (lt == "" || lt == hamba.TimeMillis):
			n.op = eTimeMillis
		case w.Type() == hamba.Long && lt == hamba.TimeMicros:
			n.op = eTimeMicros
		default:
			return incompatible()
		}
	case types.Timestamp, types.TimestampLTZ:
		if w.Type() != hamba.Long {
			return incompatible()
		}
		switch lt {
		case "", hamba.TimestampMillis, hamba.LocalTimestampMillis:
			n.op = eTsMillis
			if p, _ := w.(*hamba.PrimitiveSchema).Prop("logicalType").(string); p == "timestamp-nanos" || p == "local-timestamp-nanos" {
				n.op = eTsNanos
			}
		case hamba.TimestampMicros, hamba.LocalTimestampMicros:
			n.op = eTsMicros
		default:
			return incompatible()
		}
	case types.Array:
		a, ok := w.(*hamba.ArraySchema)
		if !ok {
			return incompatible()
		}
		el, err := compileEncode(a.Items(), *rt.Elem, path+"[]")
		if err != nil {
			return nil, err
		}
		n.op, n.elem = eArray, el
	case types.Map:
		m, ok := w.(*hamba.MapSchema)
		if !ok || !rt.Key.IsString() {
			return incompatible()
		}
		el, err := compileEncode(m.Values(), *rt.Elem, path+"{}")
		if err != nil {
			return nil, err
		}
		n.op, n.elem = eMap, el
	case types.Row:
		rec, ok := w.(*hamba.RecordSchema)
		if !ok {
			return incompatible()
		}
		rn, err := compileEncodeRecord(rec, rt, path)
		if err != nil {
			return nil, err
		}
		return rn, nil
	default:
		return nil, &EncodeError{Field: path, Msg: fmt.Sprintf("the avro format does not support type %s", rt)}
	}
	return n, nil
}

func encodeRecord(n *enode, dst []byte, row []types.Value) ([]byte, error) {
	for i := range n.fields {
		f := &n.fields[i]
		if f.source < 0 {
			dst = append(dst, f.def...)
			continue
		}
		var v types.Value
		if f.source < len(row) {
			v = row[f.source]
		}
		var err error
		if dst, err = encodeValue(f.node, dst, v); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func tagErr(n *enode, v types.Value, want string) error {
	return &EncodeError{Field: n.path, Msg: fmt.Sprintf("expected a %s value, got representation %d", want, v.T)}
}

func encodeValue(n *enode, dst []byte, v types.Value) ([]byte, error) {
	if n.op == eUnion {
		if v.IsNull() {
			if n.nullIdx < 0 {
				return dst, &EncodeError{Field: n.path, Msg: "NULL cannot be written: the schema's union has no null branch"}
			}
			return appendLong(dst, int64(n.nullIdx)), nil
		}
		dst = appendLong(dst, int64(n.valIdx))
		return encodeValue(n.val, dst, v)
	}
	if v.IsNull() {
		return dst, &EncodeError{Field: n.path, Msg: "NULL cannot be written: the schema's type is not nullable"}
	}
	switch n.op {
	case eBool:
		if v.T != types.TagBool {
			return dst, tagErr(n, v, "BOOLEAN")
		}
		if v.Bool() {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case eInt, eLong:
		if v.T != types.TagInt {
			return dst, tagErr(n, v, "integer")
		}
		if n.op == eInt && (v.I < math.MinInt32 || v.I > math.MaxInt32) {
			return dst, &EncodeError{Field: n.path, Msg: fmt.Sprintf("value %d does not fit an Avro int", v.I)}
		}
		return appendLong(dst, v.I), nil
	case eFloat:
		if v.T != types.TagFloat {
			return dst, tagErr(n, v, "FLOAT")
		}
		return appendFloat(dst, float32(v.Float())), nil
	case eDouble:
		if v.T != types.TagFloat {
			return dst, tagErr(n, v, "DOUBLE")
		}
		return appendDouble(dst, v.Float()), nil
	case eString, eBytes:
		if v.T != types.TagString && v.T != types.TagBytes {
			return dst, tagErr(n, v, "string or bytes")
		}
		return appendBytes(dst, v.S), nil
	case eFixed:
		if v.T != types.TagBytes && v.T != types.TagString {
			return dst, tagErr(n, v, "bytes")
		}
		if len(v.S) != n.size {
			return dst, &EncodeError{Field: n.path, Msg: fmt.Sprintf("%d bytes do not fit the schema's fixed of size %d", len(v.S), n.size)}
		}
		return append(dst, v.S...), nil
	case eEnum:
		if v.T != types.TagString {
			return dst, tagErr(n, v, "STRING")
		}
		i, ok := n.symbols[v.S]
		if !ok {
			return dst, &EncodeError{Field: n.path, Msg: fmt.Sprintf("%q is not a symbol of the schema's enum", v.S)}
		}
		return appendLong(dst, int64(i)), nil
	case eDecBytes, eDecFixed:
		if v.T != types.TagDecimal {
			return dst, tagErr(n, v, "DECIMAL")
		}
		return appendDecimal(n, dst, v)
	case eDate:
		if v.T != types.TagDate {
			return dst, tagErr(n, v, "DATE")
		}
		return appendLong(dst, v.I), nil
	case eTimeMillis:
		if v.T != types.TagTime {
			return dst, tagErr(n, v, "TIME")
		}
		return appendLong(dst, v.I/1_000_000), nil
	case eTimeMicros:
		if v.T != types.TagTime {
			return dst, tagErr(n, v, "TIME")
		}
		return appendLong(dst, v.I/1000), nil
	case eTsMillis:
		if v.T != types.TagTimestamp {
			return dst, tagErr(n, v, "TIMESTAMP")
		}
		return appendLong(dst, v.I), nil
	case eTsMicros, eTsNanos:
		if v.T != types.TagTimestamp {
			return dst, tagErr(n, v, "TIMESTAMP")
		}
		per, div := int64(1000), int64(1000)
		if n.op == eTsNanos {
			per, div = 1_000_000, 1
		}
		if v.I > math.MaxInt64/per || v.I < math.MinInt64/per {
			return dst, &EncodeError{Field: n.path, Msg: "timestamp out of range of the schema's precision"}
		}
		return appendLong(dst, v.I*per+int64(v.N)/div), nil
	case eArray:
		if v.T != types.TagArray {
			return dst, tagErr(n, v, "ARRAY")
		}
		a := v.Array()
		if len(a) > 0 {
			dst = appendLong(dst, int64(len(a)))
			for _, el := range a {
				var err error
				if dst, err = encodeValue(n.elem, dst, el); err != nil {
					return dst, err
				}
			}
		}
		return append(dst, 0), nil
	case eMap:
		if v.T != types.TagMap {
			return dst, tagErr(n, v, "MAP")
		}
		m := v.Map()
		if m != nil && len(m.Keys) > 0 {
			dst = appendLong(dst, int64(len(m.Keys)))
			for i, k := range m.Keys {
				if k.IsNull() {
					return dst, &EncodeError{Field: n.path, Msg: "a NULL map key cannot be written to Avro"}
				}
				dst = appendBytes(dst, k.S)
				var err error
				if dst, err = encodeValue(n.elem, dst, m.Vals[i]); err != nil {
					return dst, err
				}
			}
		}
		return append(dst, 0), nil
	case eRecord:
		if v.T != types.TagRow {
			return dst, tagErr(n, v, "ROW")
		}
		return encodeRecord(n, dst, v.Fields())
	}
	return dst, fmt.Errorf("internal error: encode op %d", n.op)
}

func appendDecimal(n *enode, dst []byte, v types.Value) ([]byte, error) {
	if int(v.N) != n.scale {
		v = types.DecimalRescale(v, n.scale)
	}
	if n.prec > 0 && !types.DecimalFits(v, n.prec, n.scale) {
		return dst, &EncodeError{Field: n.path, Msg: fmt.Sprintf("decimal %s does not fit the schema's precision %d", types.DecimalString(v), n.prec)}
	}
	if small, ok := v.DecimalSmall(); ok {
		ln := twosComplementLen64(small)
		if n.op == eDecBytes {
			dst = appendLong(dst, int64(ln))
			return appendTwos64(dst, small, ln), nil
		}
		if ln > n.size {
			return dst, &EncodeError{Field: n.path, Msg: fmt.Sprintf("decimal %s does not fit the schema's fixed of size %d", types.DecimalString(v), n.size)}
		}
		return appendTwos64(dst, small, n.size), nil
	}
	b := twosBig(v.DecimalBig())
	if n.op == eDecBytes {
		dst = appendLong(dst, int64(len(b)))
		return append(dst, b...), nil
	}
	if len(b) > n.size {
		return dst, &EncodeError{Field: n.path, Msg: fmt.Sprintf("decimal %s does not fit the schema's fixed of size %d", types.DecimalString(v), n.size)}
	}
	pad := byte(0)
	if b[0]&0x80 != 0 {
		pad = 0xff
	}
	for i := len(b); i < n.size; i++ {
		dst = append(dst, pad)
	}
	return append(dst, b...), nil
}
