// Package formattest helps tests of formats and connectors: it parses SQL type strings ("ROW<a INT, b
// STRING>", "id INT, name STRING") and dumps values unambiguously. It is for tests only.
package formattest

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/sluicesql/sluice/formats/internal/textconv"
	"github.com/sluicesql/sluice/formats/internal/timefmt"
	"github.com/sluicesql/sluice/types"
)

// ParseSchema parses a column list, "id INT NOT NULL, name STRING", into a ROW type.
func ParseSchema(s string) (types.Type, error) {
	p := &parser{s: s}
	fs, err := p.fields(0)
	if err != nil {
		return types.Type{}, err
	}
	if p.peek() != 0 {
		return types.Type{}, p.errf("unexpected %q", p.rest())
	}
	return types.RowType(fs...), nil
}

// ParseType parses one SQL type.
func ParseType(s string) (types.Type, error) {
	p := &parser{s: s}
	t, err := p.typ()
	if err != nil {
		return t, err
	}
	if p.peek() != 0 {
		return t, p.errf("unexpected %q", p.rest())
	}
	return t, nil
}

// MustSchema is ParseSchema that panics on error.
func MustSchema(s string) types.Type {
	t, err := ParseSchema(s)
	if err != nil {
		panic(err)
	}
	return t
}

type parser struct {
	s string
	i int
}

func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("type %q at %d: %s", p.s, p.i, fmt.Sprintf(format, args...))
}

func (p *parser) rest() string { return p.s[p.i:] }

func (p *parser) peek() byte {
	for p.i < len(p.s) && unicode.IsSpace(rune(p.s[p.i])) {
		p.i++
	}
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *parser) word() string {
	p.peek()
	if p.i < len(p.s) && p.s[p.i] == '`' {
		j := strings.IndexByte(p.s[p.i+1:], '`')
		if j < 0 {
			return ""
		}
		w := p.s[p.i+1 : p.i+1+j]
		p.i += j + 2
		return w
	}
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] == '_' || p.s[p.i] == '.' || unicode.IsLetter(rune(p.s[p.i])) || unicode.IsDigit(rune(p.s[p.i]))) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *parser) eat(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) ints() ([]int, error) {
	if !p.eat('(') {
		return nil, nil
	}
	var out []int
	for {
		w := p.word()
		n, err := strconv.Atoi(w)
		if err != nil {
			return nil, p.errf("bad number %q", w)
		}
		out = append(out, n)
		if p.eat(')') {
			return out, nil
		}
		if !p.eat(',') {
			return nil, p.errf("want , or )")
		}
	}
}

func (p *parser) fields(close byte) ([]types.Field, error) {
	var fs []types.Field
	for {
		name := p.word()
		if name == "" {
			return nil, p.errf("want a field name")
		}
		t, err := p.typ()
		if err != nil {
			return nil, err
		}
		fs = append(fs, types.Field{Name: name, Type: t})
		if !p.eat(',') {
			if close != 0 && !p.eat(close) {
				return nil, p.errf("want , or %c", close)
			}
			return fs, nil
		}
	}
}

func (p *parser) typ() (types.Type, error) {
	w := strings.ToUpper(p.word())
	var t types.Type
	arg := func(def int) (int, error) {
		a, err := p.ints()
		if err != nil || len(a) == 0 {
			return def, err
		}
		return a[0], nil
	}
	var err error
	switch w {
	case "BOOLEAN":
		t = types.BooleanType()
	case "TINYINT":
		t = types.TinyIntType()
	case "SMALLINT":
		t = types.SmallIntType()
	case "INT", "INTEGER":
		t = types.IntType()
	case "BIGINT":
		t = types.BigIntType()
	case "FLOAT":
		t = types.FloatType()
	case "DOUBLE":
		t = types.DoubleType()
	case "DECIMAL":
		a, e := p.ints()
		err = e
		switch len(a) {
		case 0:
			t = types.DecimalType(10, 0)
		case 1:
			t = types.DecimalType(a[0], 0)
		default:
			t = types.DecimalType(a[0], a[1])
		}
	case "STRING":
		t = types.StringType()
	case "BYTES":
		t = types.BytesType()
	case "CHAR":
		n, e := arg(1)
		t, err = types.CharType(n), e
	case "VARCHAR":
		n, e := arg(1)
		t, err = types.VarCharType(n), e
	case "BINARY":
		n, e := arg(1)
		t, err = types.Type{Kind: types.Binary, Length: n}, e
	case "VARBINARY":
		n, e := arg(1)
		t, err = types.Type{Kind: types.VarBinary, Length: n}, e
	case "DATE":
		t = types.DateType()
	case "TIME":
		n, e := arg(0)
		t, err = types.TimeType(n), e
	case "TIMESTAMP":
		n, e := arg(6)
		t, err = types.TimestampType(n), e
	case "TIMESTAMP_LTZ":
		n, e := arg(6)
		t, err = types.TimestampLTZType(n), e
	case "ARRAY", "MULTISET":
		if !p.eat('<') {
			return t, p.errf("want <")
		}
		el, e := p.typ()
		if e != nil {
			return t, e
		}
		if !p.eat('>') {
			return t, p.errf("want >")
		}
		if w == "ARRAY" {
			t = types.ArrayType(el)
		} else {
			t = types.MultisetType(el)
		}
	case "MAP":
		if !p.eat('<') {
			return t, p.errf("want <")
		}
		k, e := p.typ()
		if e != nil {
			return t, e
		}
		if !p.eat(',') {
			return t, p.errf("want ,")
		}
		v, e := p.typ()
		if e != nil {
			return t, e
		}
		if !p.eat('>') {
			return t, p.errf("want >")
		}
		t = types.MapType(k, v)
	case "ROW":
		if !p.eat('<') {
			return t, p.errf("want <")
		}
		fs, e := p.fields('>')
		if e != nil {
			return t, e
		}
		t = types.RowType(fs...)
	default:
		return t, p.errf("unknown type %q", w)
	}
	if err != nil {
		return t, err
	}
	save := p.i
	if strings.ToUpper(p.word()) == "NOT" && strings.ToUpper(p.word()) == "NULL" {
		t.NotNull = true
	} else {
		p.i = save
	}
	return t, nil
}

// DumpRow writes the values of a row, "(1, "a", NULL)".
func DumpRow(vals []types.Value, rowType types.Type) string {
	var b []byte
	b = append(b, '(')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ", "...)
		}
		var t types.Type
		if i < len(rowType.Fields) {
			t = rowType.Fields[i].Type
		}
		b = AppendDump(b, v, t)
	}
	return string(append(b, ')'))
}

// AppendDump writes v unambiguously: strings quoted, bytes as x'..', decimals with their scale, timestamps
// with nanoseconds, composite values recursively. It also flags values whose representation does not match
// the type.
func AppendDump(b []byte, v types.Value, t types.Type) []byte {
	if v.IsNull() {
		return append(b, "NULL"...)
	}
	switch v.T {
	case types.TagBool:
		if v.Bool() {
			return append(b, "TRUE"...)
		}
		return append(b, "FALSE"...)
	case types.TagInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case types.TagFloat:
		f := v.Float()
		if t.Kind == types.Float {
			return strconv.AppendFloat(b, f, 'g', -1, 32)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return strconv.AppendFloat(b, f, 'g', -1, 64)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case types.TagString:
		return strconv.AppendQuote(b, v.Str())
	case types.TagBytes:
		b = append(b, "x'"...)
		b = hex.AppendEncode(b, []byte(v.S))
		return append(b, '\'')
	case types.TagDecimal:
		return textconv.AppendDecimal(b, v, false)
	case types.TagDate:
		return timefmt.AppendDate(b, v.Int())
	case types.TagTime:
		return timefmt.AppendTime(b, v.Int())
	case types.TagTimestamp:
		b = timefmt.AppendTimestamp(b, v.Millis(), v.NanoOfMilli(), ' ', false)
		if t.Kind == types.TimestampLTZ {
			b = append(b, 'Z')
		}
		return b
	case types.TagArray:
		var et types.Type
		if t.Elem != nil {
			et = *t.Elem
		}
		b = append(b, '[')
		for i, el := range v.Array() {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = AppendDump(b, el, et)
		}
		return append(b, ']')
	case types.TagMap:
		var kt, vt types.Type
		if t.Key != nil {
			kt, vt = *t.Key, *t.Elem
		}
		b = append(b, '{')
		m := v.Map()
		for i := range m.Keys {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = AppendDump(b, m.Keys[i], kt)
			b = append(b, '=')
			b = AppendDump(b, m.Vals[i], vt)
		}
		return append(b, '}')
	case types.TagRow:
		b = append(b, '(')
		for i, f := range v.Fields() {
			if i > 0 {
				b = append(b, ", "...)
			}
			var ft types.Type
			if i < len(t.Fields) {
				ft = t.Fields[i].Type
			}
			b = AppendDump(b, f, ft)
		}
		return append(b, ')')
	}
	return append(b, fmt.Sprintf("?%d", v.T)...)
}
