package avro

import (
	"fmt"

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
