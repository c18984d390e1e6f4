package json

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/internal/textconv"
	"github.com/sluicesql/sluice/formats/internal/timefmt"
	"github.com/sluicesql/sluice/types"
)

// Encoder encodes rows as JSON objects. It is safe for concurrent use.
type Encoder struct {
	root *rowConv
	cfg  config
}

var _ formats.Encoder = (*Encoder)(nil)

func newEncoder(rowType types.Type, c config) *Encoder {
	return &Encoder{root: newRowConv(rowType), cfg: c}
}

// Encode appends the row as one compact JSON object, fields in declaration order.
func (e *Encoder) Encode(dst []byte, row []types.Value) ([]byte, error) {
	out, err := e.appendRow(dst, e.root, row)
	if err != nil {
		if fe, ok := err.(*fieldError); ok {
			return dst, &formats.RecordError{Field: fe.path, Msg: "failed to serialize JSON: " + fe.Error(), Err: formats.ErrEncode}
		}
		return dst, err
	}
	return out, nil
}

func (e *Encoder) appendRow(dst []byte, rc *rowConv, row []types.Value) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	for i, c := range rc.fields {
		var v types.Value
		if i < len(row) {
			v = row[i]
		}
		if v.IsNull() && e.cfg.ignoreNulls {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, rc.quoted[i]...)
		var err error
		if dst, err = e.appendValue(dst, c, v); err != nil {
			if fe, ok := err.(*fieldError); ok {
				return dst, fe.under(rc.names[i])
			}
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func (e *Encoder) appendValue(dst []byte, c *conv, v types.Value) ([]byte, error) {
	if v.IsNull() {
		return append(dst, "null"...), nil
	}
	t := c.t
	switch t.Kind {
	case types.Boolean:
		return strconv.AppendBool(dst, v.Bool()), nil
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.IntervalYearMonth, types.IntervalDayTime:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case types.Float, types.Double:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return append(dst, `"NaN"`...), nil
		case math.IsInf(f, 1):
			return append(dst, `"Infinity"`...), nil
		case math.IsInf(f, -1):
			return append(dst, `"-Infinity"`...), nil
		}
		return appendJavaFloat(dst, v, t), nil
	case types.Decimal:
		return textconv.AppendDecimal(dst, v, !e.cfg.plainDecimal), nil
	case types.Char, types.VarChar:
		return appendString(dst, v.Str()), nil
	case types.Binary, types.VarBinary:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, []byte(v.S))
		return append(dst, '"'), nil
	case types.Date:
		dst = append(dst, '"')
		dst = timefmt.AppendDate(dst, v.Int())
		return append(dst, '"'), nil
	case types.Time:
		dst = append(dst, '"')
		dst = timefmt.AppendTime(dst, v.Int())
		return append(dst, '"'), nil
	case types.Timestamp, types.TimestampLTZ:
		sep := byte(' ')
		if e.cfg.iso {
			sep = 'T'
		}
		dst = append(dst, '"')
		dst = timefmt.AppendTimestamp(dst, v.Millis(), v.NanoOfMilli(), sep, t.Kind == types.TimestampLTZ)
		return append(dst, '"'), nil
	case types.Array:
		dst = append(dst, '[')
		for i, el := range v.Array() {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = e.appendValue(dst, c.elem, el); err != nil {
				if fe, ok := err.(*fieldError); ok {
					return dst, fe.under("[" + strconv.Itoa(i) + "]")
				}
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case types.Multiset:
		return e.appendMultiset(dst, c, v.Array())
	case types.Map:
		return e.appendMap(dst, c, v.Map())
	case types.Row:
		return e.appendRow(dst, c.row, v.Fields())
	case types.Null:
		return append(dst, "null"...), nil
	}
	return dst, &fieldError{msg: "type " + t.String() + " is not supported by the json format"}
}

func (e *Encoder) appendMap(dst []byte, c *conv, m *types.MapValue) ([]byte, error) {
	dst = append(dst, '{')
	if m == nil {
		return append(dst, '}'), nil
	}
	first := true
	for i, k := range m.Keys {
		key := k.Str()
		if k.IsNull() {
			switch e.cfg.nullKeyMode {
			case "DROP":
				continue
			case "LITERAL":
				key = e.cfg.nullKeyLit
			default:
				return dst, &fieldError{msg: "JSON format doesn't support to serialize map data with null keys. You can drop null key entries or encode null in literals by specifying map-null-key.mode option."}
			}
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, key)
		dst = append(dst, ':')
		var v types.Value
		if i < len(m.Vals) {
			v = m.Vals[i]
		}
		var err error
		if dst, err = e.appendValue(dst, c.elem, v); err != nil {
			if fe, ok := err.(*fieldError); ok {
				return dst, fe.under("[" + strconv.Quote(key) + "]")
			}
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendMultiset writes a multiset as Flink does: an object of element → count, in first-seen order.
func (e *Encoder) appendMultiset(dst []byte, c *conv, elems []types.Value) ([]byte, error) {
	dst = append(dst, '{')
	var keys []string
	counts := map[string]int{}
	nulls := 0
	for _, el := range elems {
		if el.IsNull() {
			nulls++
			continue
		}
		if _, ok := counts[el.S]; !ok {
			keys = append(keys, el.S)
		}
		counts[el.S]++
	}
	first := true
	if nulls > 0 {
		switch e.cfg.nullKeyMode {
		case "DROP":
		case "LITERAL":
			dst = appendString(dst, e.cfg.nullKeyLit)
			dst = append(dst, ':')
			dst = strconv.AppendInt(dst, int64(nulls), 10)
			first = false
		default:
			return dst, &fieldError{msg: "JSON format doesn't support to serialize map data with null keys. You can drop null key entries or encode null in literals by specifying map-null-key.mode option."}
		}
	}
	for _, k := range keys {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, int64(counts[k]), 10)
	}
	return append(dst, '}'), nil
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way Jackson does: '"' and '\' escaped, control characters as
// \n, \t, ... or \u00XX, everything else as UTF-8 (invalid UTF-8 becomes U+FFFD).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\ufffd"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
