// Package raw is the 'raw' format: the whole message is the value of a single column, as Flink's raw format
// does. Strings are encoded in raw.charset, numbers in raw.endianness; a NULL value is a null message (nil)
// and back.
package raw

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// Option declarations, without the format prefix.
var (
	Charset = options.String("charset").Default("UTF-8").
		Desc("The charset of string values: UTF-8, US-ASCII, ISO-8859-1, UTF-16, UTF-16BE or UTF-16LE.")
	Endianness = options.Enum("endianness", "big-endian", "little-endian").Default("big-endian").
			Desc("The byte order of numeric values.")
)

// Factory is the raw format factory.
type Factory struct{}

// NewFactory returns the raw format factory.
func NewFactory() *Factory { return &Factory{} }

var _ formats.Factory = (*Factory)(nil)

func (*Factory) Identifier() string      { return "raw" }
func (*Factory) Options() []options.Decl { return options.Decls(Charset, Endianness) }

type charset uint8

const (
	utf8CS charset = iota
	asciiCS
	latin1CS
	utf16CS // big-endian, BOM on write, BOM honoured on read
	utf16beCS
	utf16leCS
)

func parseCharset(name string) (charset, bool) {
	switch strings.ToUpper(strings.ReplaceAll(name, "_", "-")) {
	case "UTF-8", "UTF8":
		return utf8CS, true
	case "US-ASCII", "ASCII":
		return asciiCS, true
	case "ISO-8859-1", "ISO8859-1", "LATIN1", "ISO-LATIN-1":
		return latin1CS, true
	case "UTF-16", "UTF16":
		return utf16CS, true
	case "UTF-16BE", "UTF16BE", "UNICODEBIGUNMARKED":
		return utf16beCS, true
	case "UTF-16LE", "UTF16LE", "UNICODELITTLEUNMARKED":
		return utf16leCS, true
	}
	return 0, false
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

type codec struct {
	t     types.Type
	cs    charset
	order byteOrder
}

func (f *Factory) codec(ctx formats.Context) (*codec, error) {
	r, err := ctx.ResolveOptions(f)
	if err != nil {
		return nil, err
	}
	cs, ok := parseCharset(Charset.Get(r))
	if !ok {
		return nil, &options.Error{Keys: []string{r.Given(Charset.Key())},
			Msg: fmt.Sprintf("Unsupported '%s' charset: %s. Supported charsets are UTF-8, US-ASCII, ISO-8859-1, UTF-16, UTF-16BE and UTF-16LE.", r.Given(Charset.Key()), Charset.Get(r))}
	}
	c := &codec{cs: cs, order: binary.BigEndian}
	if Endianness.Get(r) == "little-endian" {
		c.order = binary.LittleEndian
	}
	rt := ctx.RowType
	if rt.Kind != types.Row || len(rt.Fields) != 1 {
		return nil, &options.Error{Msg: fmt.Sprintf("The 'raw' format only supports single physical column. However the defined schema contains multiple physical columns: [%s]",
			strings.TrimSuffix(strings.TrimPrefix(rt.String(), "ROW<"), ">"))}
	}
	c.t = rt.Fields[0].Type
	switch c.t.Kind {
	case types.Char, types.VarChar, types.Binary, types.VarBinary, types.Boolean, types.TinyInt, types.SmallInt,
		types.Int, types.BigInt, types.Float, types.Double:
	default:
		return nil, &options.Error{Msg: fmt.Sprintf("The 'raw' format doesn't support '%s' as column type.", c.t.WithNullable(true))}
	}
	return c, nil
}

func (f *Factory) CreateDecoder(ctx formats.Context) (formats.Decoder, error) {
	c, err := f.codec(ctx)
	if err != nil {
		return nil, err
	}
	return (*decoder)(c), nil
}

func (f *Factory) CreateEncoder(ctx formats.Context) (formats.Encoder, error) {
	c, err := f.codec(ctx)
	if err != nil {
		return nil, err
	}
	return (*encoder)(c), nil
}

func width(k types.Kind) int {
	switch k {
	case types.Boolean, types.TinyInt:
		return 1
	case types.SmallInt:
		return 2
	case types.Int, types.Float:
		return 4
	case types.BigInt, types.Double:
		return 8
	}
	return 0
}

type decoder codec

// Decode reads the message as the column's value; a nil message is NULL.
func (d *decoder) Decode(data []byte, dst []types.Value) (bool, error) {
	if len(dst) != 1 {
		return false, fmt.Errorf("%w: raw decoder got a row of %d values", formats.ErrDecode, len(dst))
	}
	if data == nil {
		dst[0] = types.NullValue
		return true, nil
	}
	k := d.t.Kind
	if w := width(k); w > 0 && len(data) != w {
		return false, &formats.RecordError{Err: formats.ErrDecode,
			Msg: fmt.Sprintf("failed to deserialize raw message of %d bytes: a %s value takes exactly %d bytes", len(data), d.t.WithNullable(true), w)}
	}
	switch k {
	case types.Char, types.VarChar:
		dst[0] = types.StringValue(decodeString(d.cs, data))
	case types.Binary, types.VarBinary:
		dst[0] = types.BytesValue(data)
	case types.Boolean:
		dst[0] = types.BoolValue(data[0] != 0)
	case types.TinyInt:
		dst[0] = types.IntValue(int64(int8(data[0])))
	case types.SmallInt:
		dst[0] = types.IntValue(int64(int16(d.order.Uint16(data))))
	case types.Int:
		dst[0] = types.IntValue(int64(int32(d.order.Uint32(data))))
	case types.BigInt:
		dst[0] = types.IntValue(int64(d.order.Uint64(data)))
	case types.Float:
		dst[0] = types.FloatValue(float64(math.Float32frombits(d.order.Uint32(data))))
	case types.Double:
		dst[0] = types.FloatValue(math.Float64frombits(d.order.Uint64(data)))
	}
	return true, nil
}

type encoder codec

// Encode appends the value's bytes; a NULL value gives a nil message.
func (e *encoder) Encode(dst []byte, row []types.Value) ([]byte, error) {
	if len(row) != 1 {
		return dst, fmt.Errorf("%w: raw encoder got a row of %d values", formats.ErrEncode, len(row))
	}
	v := row[0]
	if v.IsNull() {
		return nil, nil
	}
	if dst == nil {
		dst = []byte{} // a non-null value is a non-nil message, even when empty
	}
	switch e.t.Kind {
	case types.Char, types.VarChar:
		return appendString(dst, e.cs, v.Str()), nil
	case types.Binary, types.VarBinary:
		return append(dst, v.S...), nil
	case types.Boolean:
		if v.Bool() {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case types.TinyInt:
		return append(dst, byte(v.Int())), nil
	case types.SmallInt:
		return e.order.AppendUint16(dst, uint16(v.Int())), nil
	case types.Int:
		return e.order.AppendUint32(dst, uint32(v.Int())), nil
	case types.BigInt:
		return e.order.AppendUint64(dst, uint64(v.Int())), nil
	case types.Float:
		return e.order.AppendUint32(dst, math.Float32bits(float32(v.Float()))), nil
	case types.Double:
		return e.order.AppendUint64(dst, math.Float64bits(v.Float())), nil
	}
	return dst, nil
}

func decodeString(cs charset, data []byte) string {
	switch cs {
	case asciiCS:
		b := make([]rune, 0, len(data))
		for _, c := range data {
			if c >= 0x80 {
				b = append(b, utf8.RuneError)
			} else {
				b = append(b, rune(c))
			}
		}
		return string(b)
	case latin1CS:
		b := make([]byte, 0, len(data)*2)
		for _, c := range data {
			b = utf8.AppendRune(b, rune(c))
		}
		return string(b)
	case utf16CS, utf16beCS, utf16leCS:
		var order binary.ByteOrder = binary.BigEndian
		if cs == utf16leCS {
			order = binary.LittleEndian
		}
		if cs == utf16CS && len(data) >= 2 {
			switch {
			case data[0] == 0xFE && data[1] == 0xFF:
				data = data[2:]
			case data[0] == 0xFF && data[1] == 0xFE:
				order, data = binary.LittleEndian, data[2:]
			}
		}
		u := make([]uint16, 0, len(data)/2)
		for i := 0; i+1 < len(data); i += 2 {
			u = append(u, order.Uint16(data[i:]))
		}
		s := string(utf16.Decode(u))
		if len(data)%2 == 1 {
			s += string(utf8.RuneError)
		}
		return s
	}
	return string(data)
}

func appendString(dst []byte, cs charset, s string) []byte {
	switch cs {
	case asciiCS, latin1CS:
		max := rune(0x7F)
		if cs == latin1CS {
			max = 0xFF
		}
		for _, r := range s {
			if r > max {
				r = '?'
			}
			dst = append(dst, byte(r))
		}
		return dst
	case utf16CS, utf16beCS, utf16leCS:
		var order byteOrder = binary.BigEndian
		if cs == utf16leCS {
			order = binary.LittleEndian
		}
		if cs == utf16CS {
			dst = append(dst, 0xFE, 0xFF)
		}
		for _, u := range utf16.Encode([]rune(s)) {
			dst = order.AppendUint16(dst, u)
		}
		return dst
	}
	return append(dst, s...)
}
