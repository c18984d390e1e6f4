package avro

import (
	"fmt"
	"math"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluicesql/sluice/types"
)

// Schema resolution: compiling a writer schema against a reader row type (and, when given, the reader's own
// Avro schema) into the dnode plan that decode.go walks. Every incompatibility is found here, once per
// (writer schema, reader type) pair, and named by its reader path.

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
