package avro

import (
	"errors"
	"fmt"
	"math"
	"strings"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluicesql/sluice/types"
)

// A DecodePlan reads Avro binary data written with a writer schema into values of a reader row type. It is
// compiled once per (writer schema, reader type) pair and does the schema resolution of the Avro
// specification up front: writer fields are matched to reader fields by name, writer-only fields are skipped,
// reader-only fields take their default (NULL for nullable columns), ints and longs are promoted to wider
// numbers, string and bytes convert to each other, enums read as strings, and each branch of a writer union is
// resolved on its own. Decoding then walks the compiled plan without reflection or maps.
//
// A DecodePlan is immutable and safe for concurrent use.
type DecodePlan struct {
	root *dnode
}

type dop uint8

const (
	dNull dop = iota
	dBool
	dInt      // int or long → TagInt, range-checked for TINYINT/SMALLINT/INT
	dIntFloat // int or long → TagFloat
	dFloat    // float → TagFloat
	dDouble   // double → TagFloat
	dString   // string or bytes → TagString
	dBytes    // bytes or string → TagBytes
	dFixed    // fixed → TagBytes
	dEnum     // enum → TagString
	dDecBytes // bytes decimal → TagDecimal
	dDecFixed // fixed decimal → TagDecimal
	dDate     // int → TagDate
	dTimeMillis
	dTimeMicros
	dTsMillis
	dTsMicros
	dTsNanos
	dArray
	dMap
	dRecord
	dUnion
	// Skipping writer data that the reader does not want.
	sVarint
	sFloat
	sDouble
	sBytes
	sFixed
)

type dnode struct {
	op      dop
	path    string // reader path of the value, for errors
	notNull bool   // the reader type is NOT NULL
	long    bool   // the writer type is long (else int), for dInt/dIntFloat/sVarint
	lo, hi  int64  // dInt: range of the reader type
	f32     bool   // dIntFloat/dFloat: the reader is FLOAT
	size    int    // dFixed, dDecFixed, sFixed
	scale   int    // decimals: writer scale
	rscale  int    // decimals: reader scale
	prec    int    // decimals: reader precision; timestamps: reader precision
	symbols []string
	elem    *dnode // dArray items, dMap values
	// dRecord
	fields   []dfield
	defaults []dfault
	nreader  int
	// dUnion: one node per writer branch; nil where the branch cannot be read into the reader type
	branches []*dnode
	bad      []string // why the branch cannot be read, by writer branch
}

type dfield struct {
	target int // reader field index, -1 to skip
	node   *dnode
}

type dfault struct {
	target int
	val    types.Value
}

// DecodeError is an error decoding one value: Field is the reader path ("address.city", "tags[]").
type DecodeError struct {
	Field string
	Msg   string
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return fmt.Sprintf("field '%s': %s", e.Field, e.Msg)
}

// NewDecodePlan resolves writer (a record schema) against readerType (a ROW). readerSchema, when not nil, is
// the reader's own Avro schema (the 'schema' option): its field defaults and aliases are used; else reader
// fields missing from the writer default to NULL, and a NOT NULL reader field missing from the writer is an
// error. Errors describe the incompatibility and name the field.
func NewDecodePlan(writer hamba.Schema, readerType types.Type, readerSchema hamba.Schema) (*DecodePlan, error) {
	w := deref(writer)
	if w.Type() != hamba.Record {
		return nil, fmt.Errorf("the writer schema is a %s, not a record", w.Type())
	}
	if readerType.Kind != types.Row {
		return nil, fmt.Errorf("the reader type is %s, not a ROW", readerType)
	}
	c := &dcompiler{skips: map[string]*dnode{}}
	n, err := c.compile(w, readerType, readerSchema, "")
	if err != nil {
		return nil, err
	}
	return &DecodePlan{root: n}, nil
}

// Decode reads one record from data into dst (len ≥ the reader's field count). It returns the number of bytes
// read; data after the record is the caller's business. Errors are *DecodeError values.
func (p *DecodePlan) Decode(data []byte, dst []types.Value) (int, error) {
	r := reader{b: data}
	if err := decodeRecord(p.root, &r, dst); err != nil {
		return r.p, err
	}
	return r.p, nil
}

func deref(s hamba.Schema) hamba.Schema {
	if ref, ok := s.(*hamba.RefSchema); ok {
		return ref.Schema()
	}
	return s
}

func logical(s hamba.Schema) hamba.LogicalSchema {
	if ls, ok := s.(hamba.LogicalTypeSchema); ok {
		if l := ls.Logical(); l != nil {
			return l
		}
	}
	return nil
}

func logicalType(s hamba.Schema) hamba.LogicalType {
	if l := logical(s); l != nil {
		return l.Type()
	}
	return ""
}

// describe names a writer schema briefly for messages: "long", "long (timestamp-micros)", "record user".
func describe(s hamba.Schema) string {
	s = deref(s)
	switch t := s.(type) {
	case hamba.NamedSchema:
		return fmt.Sprintf("%s %s", s.Type(), t.FullName())
	case *hamba.UnionSchema:
		parts := make([]string, len(t.Types()))
		for i, b := range t.Types() {
			parts[i] = describe(b)
		}
		return "union [" + strings.Join(parts, ", ") + "]"
	}
	if lt := logicalType(s); lt != "" {
		return fmt.Sprintf("%s (%s)", s.Type(), lt)
	}
	return string(s.Type())
}

type dcompiler struct {
	skips map[string]*dnode // skip plans of named writer types, for recursive schemas
}

func intRange(k types.Kind) (int64, int64) {
	switch k {
	case types.TinyInt:
		return math.MinInt8, math.MaxInt8
	case types.SmallInt:
		return math.MinInt16, math.MaxInt16
	case types.Int:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// readerRecord finds the record schema inside a reader schema (unwrapping a nullable union).
func readerRecord(rs hamba.Schema) *hamba.RecordSchema {
	if rs == nil {
		return nil
	}
	rs = deref(rs)
	if u, ok := rs.(*hamba.UnionSchema); ok {
		for _, b := range u.Types() {
			if r, ok := deref(b).(*hamba.RecordSchema); ok {
				return r
			}
		}
		return nil
	}
	r, _ := rs.(*hamba.RecordSchema)
	return r
}

// readerSub returns the reader schema of a nested value (union branch, items, values), or nil.
func readerSub(rs hamba.Schema, kind hamba.Type) hamba.Schema {
	if rs == nil {
		return nil
	}
	rs = deref(rs)
	if u, ok := rs.(*hamba.UnionSchema); ok {
		for _, b := range u.Types() {
			if deref(b).Type() == kind {
				return deref(b)
			}
		}
		return nil
	}
	if rs.Type() == kind {
		return rs
	}
	return nil
}

func (c *dcompiler) compile(w hamba.Schema, rt types.Type, rs hamba.Schema, path string) (*dnode, error) {
	w = deref(w)
	n := &dnode{path: path, notNull: rt.NotNull}
	incompatible := func() (*dnode, error) {
		return nil, &DecodeError{Field: path, Msg: fmt.Sprintf("the writer's %s cannot be read as %s", describe(w), rt)}
	}
	if u, ok := w.(*hamba.UnionSchema); ok {
		n.op = dUnion
		n.branches = make([]*dnode, len(u.Types()))
		n.bad = make([]string, len(u.Types()))
		nonNull := 0
		for _, b := range u.Types() {
			if b.Type() != hamba.Null {
				nonNull++
			}
		}
		for i, b := range u.Types() {
			bn, err := c.compile(b, rt, rs, path)
			if err != nil {
				if nonNull > 1 {
					return nil, &DecodeError{Field: path, Msg: fmt.Sprintf("the writer's %s cannot be read as %s: unions of several non-null types are not supported unless every branch can be read as the column's type (%v)",
						describe(w), rt, err)}
				}
				return nil, err
			}
			n.branches[i] = bn
		}
		return n, nil
	}
	if w.Type() == hamba.Null {
		n.op = dNull
		return n, nil
	}
	lt := logicalType(w)
	switch rt.Kind {
	case types.Boolean:
		if w.Type() != hamba.Boolean {
			return incompatible()
		}
		n.op = dBool
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
		if w.Type() != hamba.Int && !(w.Type() == hamba.Long && rt.Kind == types.BigInt) {
			return incompatible()
		}
		n.op, n.long = dInt, w.Type() == hamba.Long
		n.lo, n.hi = intRange(rt.Kind)
	case types.Float, types.Double:
		switch w.Type() {
		case hamba.Int, hamba.Long:
			n.op, n.long = dIntFloat, w.Type() == hamba.Long
		case hamba.Float:
			n.op = dFloat
		case hamba.Double:
			if rt.Kind == types.Float {
				return incompatible()
			}
			n.op = dDouble
		default:
			return incompatible()
		}
		n.f32 = rt.Kind == types.Float
	case types.Char, types.VarChar:
		switch w.Type() {
		case hamba.String, hamba.Bytes:
			if lt == hamba.Decimal {
				return incompatible()
			}
			n.op = dString
		case hamba.Enum:
			n.op, n.symbols = dEnum, w.(*hamba.EnumSchema).Symbols()
		default:
			return incompatible()
		}
	case types.Binary, types.VarBinary:
		switch w.Type() {
		case hamba.String, hamba.Bytes:
			if lt == hamba.Decimal {
				return incompatible()
			}
			n.op = dBytes
		case hamba.Fixed:
			if lt == hamba.Decimal {
				return incompatible()
			}
			n.op, n.size = dFixed, w.(*hamba.FixedSchema).Size()
		default:
			return incompatible()
		}
	case types.Decimal:
		d, ok := logical(w).(*hamba.DecimalLogicalSchema)
		if !ok {
			return incompatible()
		}
		n.scale, n.rscale, n.prec = d.Scale(), rt.Scale, rt.Precision
		switch w.Type() {
		case hamba.Bytes:
			n.op = dDecBytes
		case hamba.Fixed:
			n.op, n.size = dDecFixed, w.(*hamba.FixedSchema).Size()
		default:
			return incompatible()
		}
	case types.Date:
		if w.Type() != hamba.Int || (lt != "" && lt != hamba.Date) {
			return incompatible()
		}
		n.op = dDate
	case types.Time:
		switch {
		case w.Type() == hamba.Int && (lt == "" || lt == hamba.TimeMillis):
			n.op = dTimeMillis
		case w.Type() == hamba.Long && lt == hamba.TimeMicros:
			n.op = dTimeMicros
		default:
			return incompatible()
		}
	case types.Timestamp, types.TimestampLTZ:
		if w.Type() != hamba.Long {
			return incompatible()
		}
		n.prec = rt.Precision
		switch lt {
		case "", hamba.TimestampMillis, hamba.LocalTimestampMillis:
			n.op = dTsMillis
			// timestamp-nanos and local-timestamp-nanos (Avro 1.12) are not logical types hamba knows: they
			// arrive as a plain long with a property.
			if p, _ := w.(*hamba.PrimitiveSchema).Prop("logicalType").(string); p == "timestamp-nanos" || p == "local-timestamp-nanos" {
				n.op = dTsNanos
			}
		case hamba.TimestampMicros, hamba.LocalTimestampMicros:
			n.op = dTsMicros
		default:
			return incompatible()
		}
	case types.Array:
		a, ok := w.(*hamba.ArraySchema)
		if !ok {
			return incompatible()
		}
		el, err := c.compile(a.Items(), *rt.Elem, readerItems(rs), path+"[]")
		if err != nil {
			return nil, err
		}
		n.op, n.elem = dArray, el
	case types.Map:
		m, ok := w.(*hamba.MapSchema)
		if !ok || !rt.Key.IsString() {
			return incompatible()
		}
		el, err := c.compile(m.Values(), *rt.Elem, readerValues(rs), path+"{}")
		if err != nil {
			return nil, err
		}
		n.op, n.elem = dMap, el
	case types.Row:
		rec, ok := w.(*hamba.RecordSchema)
		if !ok {
			return incompatible()
		}
		return c.compileRecord(n, rec, rt, readerRecord(rs), path)
	default:
		return nil, &DecodeError{Field: path, Msg: fmt.Sprintf("the avro format does not support type %s", rt)}
	}
	return n, nil
}

func readerItems(rs hamba.Schema) hamba.Schema {
	if a, ok := readerSub(rs, hamba.Array).(*hamba.ArraySchema); ok {
		return a.Items()
	}
	return nil
}

func readerValues(rs hamba.Schema) hamba.Schema {
	if m, ok := readerSub(rs, hamba.Map).(*hamba.MapSchema); ok {
		return m.Values()
	}
	return nil
}

func (c *dcompiler) compileRecord(n *dnode, w *hamba.RecordSchema, rt types.Type, rs *hamba.RecordSchema, path string) (*dnode, error) {
	n.op = dRecord
	n.nreader = len(rt.Fields)
	matched := make([]bool, len(rt.Fields))
	// reader field index by the names it answers to (its name and, with a reader schema, its aliases)
	byName := map[string]int{}
	for i, f := range rt.Fields {
		byName[f.Name] = i
	}
	var rfields map[string]*hamba.Field
	if rs != nil {
		rfields = map[string]*hamba.Field{}
		for _, f := range rs.Fields() {
			rfields[f.Name()] = f
			for _, a := range f.Aliases() {
				if i, ok := byName[f.Name()]; ok {
					if _, taken := byName[a]; !taken {
						byName[a] = i
					}
				}
			}
		}
	}
	for _, wf := range w.Fields() {
		i, ok := byName[wf.Name()]
		if !ok || matched[i] {
			sk, err := c.skip(wf.Type())
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, dfield{target: -1, node: sk})
			continue
		}
		matched[i] = true
		var rsub hamba.Schema
		if rfields != nil {
			if f := rfields[rt.Fields[i].Name]; f != nil {
				rsub = f.Type()
			}
		}
		fn, err := c.compile(wf.Type(), rt.Fields[i].Type, rsub, joinPath(path, rt.Fields[i].Name))
		if err != nil {
			return nil, err
		}
		n.fields = append(n.fields, dfield{target: i, node: fn})
	}
	for i, f := range rt.Fields {
		if matched[i] {
			continue
		}
		fp := joinPath(path, f.Name)
		if rfields != nil {
			if rf := rfields[f.Name]; rf != nil && rf.HasDefault() {
				v, err := defaultValue(rf.Default(), f.Type)
				if err != nil {
					return nil, &DecodeError{Field: fp, Msg: err.Error()}
				}
				n.defaults = append(n.defaults, dfault{target: i, val: v})
				continue
			}
		}
		if f.Type.NotNull {
			return nil, &DecodeError{Field: fp, Msg: fmt.Sprintf("the writer's record %s has no field '%s' and the column is NOT NULL, so it has no default", w.FullName(), f.Name)}
		}
		n.defaults = append(n.defaults, dfault{target: i, val: types.NullValue})
	}
	return n, nil
}

// defaultValue converts a field default, as hamba parsed it, to a value of type t.
func defaultValue(d any, t types.Type) (types.Value, error) {
	if d == nil {
		return types.NullValue, nil
	}
	bad := func() (types.Value, error) {
		return types.NullValue, fmt.Errorf("the default %v cannot be used as a value of type %s", d, t)
	}
	switch x := d.(type) {
	case bool:
		if t.Kind == types.Boolean {
			return types.BoolValue(x), nil
		}
	case string:
		switch {
		case t.IsString():
			return types.StringValue(x), nil
		case t.IsBinary():
			// Avro writes bytes defaults as strings of code points 0-255.
			b := make([]byte, 0, len(x))
			for _, r := range x {
				if r > 255 {
					return bad()
				}
				b = append(b, byte(r))
			}
			return types.BytesValue(b), nil
		}
	case int, int32, int64, float32, float64:
		var f float64
		var i int64
		switch y := x.(type) {
		case int:
			i, f = int64(y), float64(y)
		case int32:
			i, f = int64(y), float64(y)
		case int64:
			i, f = y, float64(y)
		case float32:
			i, f = int64(y), float64(y)
		case float64:
			i, f = int64(y), y
		}
		switch {
		case t.IsIntegral() && float64(i) == f:
			lo, hi := intRange(t.Kind)
			if i >= lo && i <= hi {
				return types.IntValue(i), nil
			}
		case t.Kind == types.Float:
			return types.FloatValue(float64(float32(f))), nil
		case t.Kind == types.Double:
			return types.FloatValue(f), nil
		case t.Kind == types.Date && float64(i) == f:
			return types.DateValue(i), nil
		}
	}
	return bad()
}

// skip compiles a plan that reads past a writer value.
func (c *dcompiler) skip(w hamba.Schema) (*dnode, error) {
	w = deref(w)
	switch s := w.(type) {
	case *hamba.NullSchema:
		return &dnode{op: dNull}, nil
	case *hamba.PrimitiveSchema:
		switch s.Type() {
		case hamba.Null:
			return &dnode{op: dNull}, nil
		case hamba.Boolean:
			return &dnode{op: sFixed, size: 1}, nil
		case hamba.Int, hamba.Long:
			return &dnode{op: sVarint, long: true}, nil
		case hamba.Float:
			return &dnode{op: sFixed, size: 4}, nil
		case hamba.Double:
			return &dnode{op: sFixed, size: 8}, nil
		case hamba.String, hamba.Bytes:
			return &dnode{op: sBytes}, nil
		}
	case *hamba.EnumSchema:
		return &dnode{op: sVarint, long: true}, nil
	case *hamba.FixedSchema:
		return &dnode{op: sFixed, size: s.Size()}, nil
	case *hamba.ArraySchema:
		el, err := c.skip(s.Items())
		if err != nil {
			return nil, err
		}
		return &dnode{op: dArray, elem: el, nreader: -1}, nil
	case *hamba.MapSchema:
		el, err := c.skip(s.Values())
		if err != nil {
			return nil, err
		}
		return &dnode{op: dMap, elem: el, nreader: -1}, nil
	case *hamba.UnionSchema:
		n := &dnode{op: dUnion, branches: make([]*dnode, len(s.Types()))}
		for i, b := range s.Types() {
			bn, err := c.skip(b)
			if err != nil {
				return nil, err
			}
			n.branches[i] = bn
		}
		return n, nil
	case *hamba.RecordSchema:
		if n, ok := c.skips[s.FullName()]; ok {
			return n, nil
		}
		n := &dnode{op: dRecord, nreader: -1}
		c.skips[s.FullName()] = n
		for _, f := range s.Fields() {
			fn, err := c.skip(f.Type())
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, dfield{target: -1, node: fn})
		}
		return n, nil
	}
	return nil, fmt.Errorf("cannot skip writer schema %s", describe(w))
}

func errAt(n *dnode, err error) error {
	if de, ok := err.(*DecodeError); ok {
		return de
	}
	return &DecodeError{Field: n.path, Msg: err.Error()}
}

func decodeRecord(n *dnode, r *reader, dst []types.Value) error {
	for i := range n.fields {
		f := &n.fields[i]
		if f.target < 0 {
			if err := skipValue(f.node, r); err != nil {
				return errAt(f.node, err)
			}
			continue
		}
		v, err := decodeValue(f.node, r)
		if err != nil {
			return errAt(f.node, err)
		}
		dst[f.target] = v
	}
	for _, d := range n.defaults {
		dst[d.target] = d.val
	}
	return nil
}

func decodeValue(n *dnode, r *reader) (types.Value, error) {
	switch n.op {
	case dNull:
		if n.notNull {
			return types.NullValue, &DecodeError{Field: n.path, Msg: "NULL for a NOT NULL column"}
		}
		return types.NullValue, nil
	case dBool:
		b, err := r.bool()
		return types.BoolValue(b), err
	case dInt:
		var v int64
		var err error
		if n.long {
			v, err = r.long()
		} else {
			v, err = r.int()
		}
		if err != nil {
			return types.NullValue, err
		}
		if v < n.lo || v > n.hi {
			return types.NullValue, &DecodeError{Field: n.path, Msg: rangeMsg(v)}
		}
		return types.IntValue(v), nil
	case dIntFloat:
		v, err := r.long()
		if err != nil {
			return types.NullValue, err
		}
		if n.f32 {
			return types.FloatValue(float64(float32(v))), nil
		}
		return types.FloatValue(float64(v)), nil
	case dFloat:
		f, err := r.float()
		return types.FloatValue(float64(f)), err
	case dDouble:
		f, err := r.double()
		return types.FloatValue(f), err
	case dString:
		b, err := r.bytes()
		if err != nil {
			return types.NullValue, err
		}
		return types.StringValue(string(b)), nil
	case dBytes:
		b, err := r.bytes()
		if err != nil {
			return types.NullValue, err
		}
		return types.BytesValue(b), nil
	case dFixed:
		b, err := r.fixed(int64(n.size))
		if err != nil {
			return types.NullValue, err
		}
		return types.BytesValue(b), nil
	case dEnum:
		i, err := r.int()
		if err != nil {
			return types.NullValue, err
		}
		if i < 0 || i >= int64(len(n.symbols)) {
			return types.NullValue, decodeEnumError(n, i)
		}
		return types.StringValue(n.symbols[i]), nil
	case dDecBytes, dDecFixed:
		var b []byte
		var err error
		if n.op == dDecBytes {
			b, err = r.bytes()
		} else {
			b, err = r.fixed(int64(n.size))
		}
		if err != nil {
			return types.NullValue, err
		}
		return decimalValue(n, b)
	case dDate:
		v, err := r.int()
		return types.DateValue(v), err
	case dTimeMillis:
		v, err := r.int()
		if err == nil && (v < 0 || v >= 86_400_000) {
			return types.NullValue, &DecodeError{Field: n.path, Msg: fmt.Sprintf("time-millis %d is not a time of day", v)}
		}
		return types.TimeValue(v * 1_000_000), err
	case dTimeMicros:
		v, err := r.long()
		if err == nil && (v < 0 || v >= 86_400_000_000) {
			return types.NullValue, &DecodeError{Field: n.path, Msg: fmt.Sprintf("time-micros %d is not a time of day", v)}
		}
		return types.TimeValue(v * 1000), err
	case dTsMillis:
		v, err := r.long()
		if err != nil {
			return types.NullValue, err
		}
		ts := types.TimestampValue(v, 0)
		if n.prec < 3 {
			ts = types.TruncateTimestamp(ts, n.prec)
		}
		return ts, nil
	case dTsMicros, dTsNanos:
		v, err := r.long()
		if err != nil {
			return types.NullValue, err
		}
		per := int64(1000)
		if n.op == dTsNanos {
			per = 1_000_000
		}
		ms, rem := floorDivMod(v, per)
		ts := types.TimestampValue(ms, int32(rem*(1_000_000/per)))
		if n.prec < 9 {
			ts = types.TruncateTimestamp(ts, n.prec)
		}
		return ts, nil
	case dArray:
		var out []types.Value
		for {
			cnt, err := r.blockCount()
			if err != nil {
				return types.NullValue, err
			}
			if cnt == 0 {
				break
			}
			if cnt > int64(len(r.b)-r.p) && n.elem.op != dNull {
				return types.NullValue, errBlockCount
			}
			if out == nil {
				out = make([]types.Value, 0, cnt)
			}
			for ; cnt > 0; cnt-- {
				v, err := decodeValue(n.elem, r)
				if err != nil {
					return types.NullValue, errAt(n.elem, err)
				}
				out = append(out, v)
			}
		}
		if out == nil {
			out = []types.Value{}
		}
		return types.ArrayValue(out), nil
	case dMap:
		m := &types.MapValue{}
		for {
			cnt, err := r.blockCount()
			if err != nil {
				return types.NullValue, err
			}
			if cnt == 0 {
				break
			}
			if cnt > int64(len(r.b)-r.p) {
				return types.NullValue, errBlockCount
			}
			if m.Keys == nil {
				m.Keys = make([]types.Value, 0, cnt)
				m.Vals = make([]types.Value, 0, cnt)
			}
			for ; cnt > 0; cnt-- {
				k, err := r.bytes()
				if err != nil {
					return types.NullValue, err
				}
				v, err := decodeValue(n.elem, r)
				if err != nil {
					return types.NullValue, errAt(n.elem, err)
				}
				m.Keys = append(m.Keys, types.StringValue(string(k)))
				m.Vals = append(m.Vals, v)
			}
		}
		return types.MapOf(m), nil
	case dRecord:
		vals := make([]types.Value, n.nreader)
		if err := decodeRecord(n, r, vals); err != nil {
			return types.NullValue, err
		}
		return types.RowValue(vals), nil
	case dUnion:
		i, err := r.long()
		if err != nil {
			return types.NullValue, err
		}
		if i < 0 || i >= int64(len(n.branches)) {
			return types.NullValue, &DecodeError{Field: n.path, Msg: unionMsg(i, len(n.branches))}
		}
		return decodeValue(n.branches[i], r)
	}
	return types.NullValue, fmt.Errorf("internal error: decode op %d", n.op)
}

func floorDivMod(a, b int64) (int64, int64) {
	q, m := a/b, a%b
	if m < 0 {
		q--
		m += b
	}
	return q, m
}

func decimalValue(n *dnode, b []byte) (types.Value, error) {
	small, bigv := fromTwos(b)
	var v types.Value
	if bigv != nil {
		v = types.BigDecimalValue(bigv, n.scale)
	} else {
		v = types.DecimalValue(small, n.scale)
	}
	if n.scale != n.rscale {
		v = types.DecimalRescale(v, n.rscale)
	}
	if !types.DecimalFits(v, n.prec, n.rscale) {
		return types.NullValue, &DecodeError{Field: n.path, Msg: fmt.Sprintf("decimal %s does not fit DECIMAL(%d, %d)", types.DecimalString(v), n.prec, n.rscale)}
	}
	return v, nil
}

func skipValue(n *dnode, r *reader) error {
	switch n.op {
	case dNull:
		return nil
	case sVarint:
		_, err := r.long()
		return err
	case sFixed:
		_, err := r.fixed(int64(n.size))
		return err
	case sBytes:
		_, err := r.bytes()
		return err
	case dArray, dMap:
		for {
			cnt, err := r.blockCount()
			if err != nil {
				return err
			}
			if cnt == 0 {
				return nil
			}
			if cnt > int64(len(r.b)-r.p) && !(n.op == dArray && n.elem.op == dNull) {
				return errBlockCount
			}
			for ; cnt > 0; cnt-- {
				if n.op == dMap {
					if _, err := r.bytes(); err != nil {
						return err
					}
				}
				if err := skipValue(n.elem, r); err != nil {
					return err
				}
			}
		}
	case dRecord:
		for i := range n.fields {
			if err := skipValue(n.fields[i].node, r); err != nil {
				return err
			}
		}
		return nil
	case dUnion:
		i, err := r.long()
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(n.branches)) {
			return errors.New(unionMsg(i, len(n.branches)))
		}
		return skipValue(n.branches[i], r)
	}
	return fmt.Errorf("internal error: skip op %d", n.op)
}
