package csv

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/internal/textconv"
	"github.com/sluicesql/sluice/formats/internal/timefmt"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Decoder decodes one CSV record per message. It is not safe for concurrent use.
type Decoder struct {
	cfg     config
	row     types.Type
	scratch []byte
	fields  [][]byte
	skip    []bool // fields the projection does not need (Project; nil: none)
}

var _ formats.Decoder = (*Decoder)(nil)

type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string {
	if e.field == "" {
		return e.msg
	}
	return fmt.Sprintf("field '%s': %s", e.field, e.msg)
}

// split parses the record into d.fields (slices of data or of d.scratch, which never grows past len(data)).
func (d *Decoder) split(data []byte) error {
	c := &d.cfg
	if cap(d.scratch) < len(data) {
		d.scratch = make([]byte, 0, len(data))
	}
	d.scratch = d.scratch[:0]
	d.fields = d.fields[:0]
	i := 0
	for {
		var f []byte
		if c.quote != 0 && i < len(data) && data[i] == c.quote {
			start := len(d.scratch)
			i++
			closed := false
			for i < len(data) {
				ch := data[i]
				switch {
				case ch == c.escape && c.escape != 0 && i+1 < len(data):
					d.scratch = append(d.scratch, data[i+1])
					i += 2
					continue
				case ch == c.quote:
					if i+1 < len(data) && data[i+1] == c.quote {
						d.scratch = append(d.scratch, c.quote)
						i += 2
						continue
					}
					closed = true
					i++
				default:
					d.scratch = append(d.scratch, ch)
					i++
					continue
				}
				break
			}
			if !closed {
				return &fieldError{msg: "missing closing quote"}
			}
			f = d.scratch[start:len(d.scratch):len(d.scratch)]
			if i < len(data) && data[i] != c.delim && data[i] != '\n' && data[i] != '\r' {
				return &fieldError{msg: fmt.Sprintf("unexpected character '%c' after closing quote at offset %d", data[i], i)}
			}
		} else {
			start := i
			escaped := false
			for i < len(data) && data[i] != c.delim && data[i] != '\n' && data[i] != '\r' {
				if data[i] == c.escape && c.escape != 0 {
					escaped = true
					i++
				}
				i++
			}
			if i > len(data) {
				i = len(data)
			}
			f = data[start:i]
			if escaped {
				s0 := len(d.scratch)
				for j := 0; j < len(f); j++ {
					if f[j] == c.escape && j+1 < len(f) {
						j++
					}
					d.scratch = append(d.scratch, f[j])
				}
				f = d.scratch[s0:len(d.scratch):len(d.scratch)]
			}
		}
		d.fields = append(d.fields, f)
		if i < len(data) && data[i] == c.delim {
			i++
			continue
		}
		break
	}
	// End of record: allow one trailing line break.
	rest := data[i:]
	rest = bytes.TrimPrefix(rest, []byte("\r"))
	rest = bytes.TrimPrefix(rest, []byte("\n"))
	if len(bytes.TrimSpace(rest)) > 0 {
		return &fieldError{msg: "more than one record in the message (the csv format reads one record per message)"}
	}
	return nil
}

// Decode fills dst from one CSV record. An empty message, or a comment with allow-comments, carries no row.
func (d *Decoder) Decode(data []byte, dst []types.Value) (bool, error) {
	if len(dst) != len(d.row.Fields) {
		return false, fmt.Errorf("%w: csv decoder for %d fields got a row of %d values", formats.ErrDecode, len(d.row.Fields), len(dst))
	}
	trimmed := bytes.TrimRight(data, "\r\n")
	if len(trimmed) == 0 || d.cfg.comments && trimmed[0] == '#' {
		return false, nil
	}
	err := d.decode(trimmed, dst)
	if err == nil {
		return true, nil
	}
	return d.failure(data, err)
}

// failure is Decode's result for a record that failed with err: skipped with ignore-parse-errors, else a
// *formats.RecordError naming the field.
func (d *Decoder) failure(data []byte, err error) (bool, error) {
	if d.cfg.ignoreErrors {
		return false, nil
	}
	field := ""
	if fe, ok := err.(*fieldError); ok {
		field = fe.field
	}
	return false, &formats.RecordError{Field: field, Err: formats.ErrDecode,
		Msg: fmt.Sprintf("failed to deserialize CSV row '%s': %v", snippet(data), err)}
}

func snippet(data []byte) string {
	if len(data) > 512 {
		return string(data[:512]) + "..."
	}
	return string(data)
}

func (d *Decoder) decode(data []byte, dst []types.Value) error {
	if err := d.split(data); err != nil {
		return err
	}
	if len(d.fields) != len(dst) && !d.cfg.ignoreErrors {
		return &fieldError{msg: fmt.Sprintf("Row length mismatch. %d fields expected but was %d.", len(dst), len(d.fields))}
	}
	for i, f := range d.row.Fields {
		if i >= len(d.fields) || d.skipped(i) {
			dst[i] = types.NullValue
			continue
		}
		v, err := d.convert(d.fields[i], f.Type)
		if err != nil {
			if d.cfg.ignoreErrors {
				v = types.NullValue
			} else {
				return &fieldError{field: f.Name, msg: err.Error()}
			}
		}
		dst[i] = v
	}
	return nil
}

type convError struct{ msg string }

func (e *convError) Error() string { return e.msg }

func got(text []byte) string {
	if len(text) > 40 {
		return "'" + string(text[:40]) + "...'"
	}
	return "'" + string(text) + "'"
}

// convert converts one field's text to a value of type t.
func (d *Decoder) convert(text []byte, t types.Type) (types.Value, error) {
	c := &d.cfg
	if c.hasNull && string(text) == c.nullLiteral {
		return types.NullValue, nil
	}
	bad := func(want string) (types.Value, error) {
		return types.NullValue, &convError{msg: "expected " + want + ", got " + got(text)}
	}
	switch t.Kind {
	case types.Char, types.VarChar:
		return types.StringValue(string(text)), nil
	case types.Boolean:
		switch strings.ToLower(strings.TrimSpace(string(text))) {
		case "true":
			return types.BoolValue(true), nil
		case "false":
			return types.BoolValue(false), nil
		}
		return bad("a boolean")
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.IntervalYearMonth, types.IntervalDayTime:
		n, res := textconv.ParseInt(text, t.Kind, true)
		switch res {
		case textconv.OK:
			return types.IntValue(n), nil
		case textconv.OutOfRange:
			return types.NullValue, &convError{msg: fmt.Sprintf("value %s is out of range for %s", got(text), t.WithNullable(true))}
		}
		return bad("an integer")
	case types.Float, types.Double:
		f, err := strconv.ParseFloat(strings.TrimSpace(string(text)), 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
				return bad("a number")
			}
		}
		if t.Kind == types.Float {
			f = float64(float32(f))
		}
		return types.FloatValue(f), nil
	case types.Decimal:
		v, res := textconv.ParseDecimal(text, t.Precision, t.Scale, true)
		switch res {
		case textconv.OK:
			return v, nil
		case textconv.OutOfRange:
			return types.NullValue, nil // as Flink: does not fit the precision
		}
		return bad("a number")
	case types.Binary, types.VarBinary:
		enc := base64.StdEncoding
		if len(text)%4 != 0 {
			enc = base64.RawStdEncoding
		}
		buf := make([]byte, enc.DecodedLen(len(text)))
		n, err := enc.Decode(buf, text)
		if err != nil {
			return bad("a base64 string")
		}
		if n == 0 {
			return types.BytesValue(nil), nil
		}
		return types.Value{T: types.TagBytes, S: unsafe.String(&buf[0], n)}, nil
	case types.Date:
		if days, ok := timefmt.ParseDate(bytes.TrimSpace(text)); ok {
			return types.DateValue(days), nil
		}
		return bad("a date 'yyyy-MM-dd'")
	case types.Time:
		if nanos, ok := timefmt.ParseTime(bytes.TrimSpace(text)); ok {
			return types.TimeValue(timefmt.TruncateNanos(nanos, t.Precision)), nil
		}
		return bad("a time 'HH:mm:ss'")
	case types.Timestamp, types.TimestampLTZ:
		ltz := t.Kind == types.TimestampLTZ
		if ms, n, ok := timefmt.ParseTimestamp(bytes.TrimSpace(text), ' ', ltz); ok {
			return truncTimestamp(ms, n, t.Precision), nil
		}
		if ltz {
			return bad("a timestamp 'yyyy-MM-dd HH:mm:ss[.SSS]Z'")
		}
		return bad("a timestamp 'yyyy-MM-dd HH:mm:ss[.SSS]'")
	case types.Array:
		parts := splitElements(text, c.arrayDelim)
		out := make([]types.Value, 0, parts)
		for el := range elements(text, c.arrayDelim) {
			v, err := d.convert(el, *t.Elem)
			if err != nil {
				if !c.ignoreErrors {
					return types.NullValue, &convError{msg: fmt.Sprintf("element %d: %v", len(out), err)}
				}
				v = types.NullValue
			}
			out = append(out, v)
		}
		return types.ArrayValue(out), nil
	case types.Row:
		if len(text) == 0 {
			return types.NullValue, nil // as Flink: an empty nested row is NULL
		}
		out := make([]types.Value, len(t.Fields))
		n := 0
		for el := range elements(text, c.arrayDelim) {
			if n >= len(out) {
				n++
				continue
			}
			v, err := d.convert(el, t.Fields[n].Type)
			if err != nil {
				if !c.ignoreErrors {
					return types.NullValue, &convError{msg: fmt.Sprintf("field '%s': %v", t.Fields[n].Name, err)}
				}
				v = types.NullValue
			}
			out[n] = v
			n++
		}
		if n != len(out) && !c.ignoreErrors {
			return types.NullValue, &convError{msg: fmt.Sprintf("Row length mismatch. %d fields expected but was %d.", len(out), n)}
		}
		return types.RowValue(out), nil
	}
	return types.NullValue, &convError{msg: fmt.Sprintf("type %s is not supported by the csv format", t)}
}

func splitElements(text []byte, delim string) int {
	if len(text) == 0 {
		return 0
	}
	return bytes.Count(text, []byte(delim)) + 1
}

// elements yields the delim-separated parts of text (none for empty text).
func elements(text []byte, delim string) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		if len(text) == 0 {
			return
		}
		for {
			i := bytes.Index(text, []byte(delim))
			if i < 0 {
				yield(text)
				return
			}
			if !yield(text[:i]) {
				return
			}
			text = text[i+len(delim):]
		}
	}
}

func truncTimestamp(ms int64, nanoOfMilli int32, precision int) types.Value {
	return types.TimestampValue(truncTimestampParts(ms, nanoOfMilli, precision))
}

// truncTimestampParts truncates a timestamp (millis, nano of milli) to precision fractional digits.
func truncTimestampParts(ms int64, nanoOfMilli int32, precision int) (int64, int32) {
	if precision < 3 {
		p := int64(1)
		for i := precision; i < 3; i++ {
			p *= 10
		}
		ms -= ((ms % 1000) + 1000) % 1000 % p
		nanoOfMilli = 0
	} else {
		nanoOfMilli = int32(timefmt.TruncateNanos(int64(nanoOfMilli), precision))
	}
	return ms, nanoOfMilli
}

// Encoder encodes rows as one CSV record each, without a line terminator. It is safe for concurrent use.
type Encoder struct {
	cfg config
	row types.Type
}

var _ formats.Encoder = (*Encoder)(nil)

// Encode appends the record.
func (e *Encoder) Encode(dst []byte, row []types.Value) ([]byte, error) {
	var tmp [64]byte
	for i, f := range e.row.Fields {
		if i > 0 {
			dst = append(dst, e.cfg.delim)
		}
		var v types.Value
		if i < len(row) {
			v = row[i]
		}
		if v.IsNull() {
			dst = append(dst, e.cfg.nullLiteral...)
			continue
		}
		text := e.text(tmp[:0], v, f.Type)
		dst = e.appendField(dst, text)
	}
	return dst, nil
}

// text writes the unquoted text of a value.
func (e *Encoder) text(b []byte, v types.Value, t types.Type) []byte {
	if v.IsNull() {
		return append(b, e.cfg.nullLiteral...)
	}
	switch t.Kind {
	case types.Char, types.VarChar:
		return append(b, v.Str()...)
	case types.Boolean:
		return strconv.AppendBool(b, v.Bool())
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.IntervalYearMonth, types.IntervalDayTime:
		return strconv.AppendInt(b, v.Int(), 10)
	case types.Float, types.Double:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return append(b, "NaN"...)
		case math.IsInf(f, 1):
			return append(b, "Infinity"...)
		case math.IsInf(f, -1):
			return append(b, "-Infinity"...)
		}
		return appendJavaFloat(b, v, t)
	case types.Decimal:
		return textconv.AppendDecimal(b, v, e.cfg.sciDecimal)
	case types.Binary, types.VarBinary:
		return base64.StdEncoding.AppendEncode(b, []byte(v.S))
	case types.Date:
		return timefmt.AppendDate(b, v.Int())
	case types.Time:
		return timefmt.AppendTime(b, v.Int())
	case types.Timestamp, types.TimestampLTZ:
		return timefmt.AppendTimestamp(b, v.Millis(), v.NanoOfMilli(), ' ', t.Kind == types.TimestampLTZ)
	case types.Array:
		for i, el := range v.Array() {
			if i > 0 {
				b = append(b, e.cfg.arrayDelim...)
			}
			b = e.text(b, el, *t.Elem)
		}
		return b
	case types.Row:
		for i, f := range v.Fields() {
			if i > 0 {
				b = append(b, e.cfg.arrayDelim...)
			}
			var ft types.Type
			if i < len(t.Fields) {
				ft = t.Fields[i].Type
			}
			b = e.text(b, f, ft)
		}
		return b
	}
	return b
}

// appendField writes text, quoted when it holds the delimiter, the quote or escape character or a line
// break (or escaped with the escape character when quoting is disabled).
func (e *Encoder) appendField(dst, text []byte) []byte {
	c := &e.cfg
	needs := false
	for _, ch := range text {
		if ch == c.delim || ch == '\n' || ch == '\r' || ch == c.quote && c.quote != 0 || ch == c.escape && c.escape != 0 {
			needs = true
			break
		}
	}
	if !needs {
		return append(dst, text...)
	}
	if c.quote == 0 {
		if c.escape == 0 {
			return append(dst, text...)
		}
		for _, ch := range text {
			if ch == c.delim || ch == '\n' || ch == '\r' || ch == c.escape {
				dst = append(dst, c.escape)
			}
			dst = append(dst, ch)
		}
		return dst
	}
	dst = append(dst, c.quote)
	for _, ch := range text {
		switch {
		case ch == c.quote && c.escape != 0, ch == c.escape && c.escape != 0:
			dst = append(dst, c.escape)
		case ch == c.quote:
			dst = append(dst, c.quote)
		}
		dst = append(dst, ch)
	}
	return append(dst, c.quote)
}

// EncodeColumns appends the record of physical row i of cols (one column per field of the row type, as
// vec.ColFor makes them): the bytes Encode writes for the same values. Strings and integers are read from
// their typed columns; the other types go through their values.
func (e *Encoder) EncodeColumns(dst []byte, cols []*vec.Col, i int) ([]byte, error) {
	var tmp [64]byte
	for j, f := range e.row.Fields {
		if j > 0 {
			dst = append(dst, e.cfg.delim)
		}
		if j >= len(cols) || cols[j] == nil || cols[j].IsNull(i) {
			dst = append(dst, e.cfg.nullLiteral...)
			continue
		}
		c := cols[j]
		var text []byte
		switch {
		case c.Kind == vec.Bytes && c.Tag == types.TagString && f.Type.IsString():
			text = c.Data[c.Off[i]:c.Off[i+1]]
		case c.Kind == vec.Int64 && c.Tag == types.TagInt && f.Type.IsIntegral():
			text = strconv.AppendInt(tmp[:0], c.I64[i], 10)
		default:
			text = e.text(tmp[:0], c.Value(i), f.Type)
		}
		dst = e.appendField(dst, text)
	}
	return dst, nil
}
