package json

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/internal/textconv"
	"github.com/sluicesql/sluice/formats/internal/timefmt"
	"github.com/sluicesql/sluice/types"
)

// conv is the decoding/encoding plan for one type.
type conv struct {
	t    types.Type
	row  *rowConv // ROW
	elem *conv    // ARRAY, MULTISET element; MAP value
	key  *conv    // MAP key
}

type rowConv struct {
	names  []string
	quoted [][]byte // `"name":` for encoding
	fields []*conv
	index  map[string]int // nil when there are few fields
	skip   []bool         // fields not read by the query (projection pushdown): skipped, left NULL
	// check: fields DecodeColumns checks without storing them (left NULL), for a filter-first decoder
	// (filtered.go); nil when none. Decode reads them.
	check []bool
}

func newConv(t types.Type) *conv {
	c := &conv{t: t}
	switch t.Kind {
	case types.Row:
		c.row = newRowConv(t)
	case types.Array, types.Multiset:
		c.elem = newConv(*t.Elem)
	case types.Map:
		c.key = newConv(*t.Key)
		c.elem = newConv(*t.Elem)
	}
	return c
}

func newRowConv(t types.Type) *rowConv {
	r := &rowConv{}
	for _, f := range t.Fields {
		r.names = append(r.names, f.Name)
		r.quoted = append(r.quoted, append(appendString(nil, f.Name), ':'))
		r.fields = append(r.fields, newConv(f.Type))
	}
	if len(r.names) > 8 {
		r.index = make(map[string]int, len(r.names))
		for i := len(r.names) - 1; i >= 0; i-- {
			r.index[r.names[i]] = i
		}
	}
	return r
}

func (r *rowConv) find(name []byte) int {
	if r.index != nil {
		if i, ok := r.index[string(name)]; ok {
			return i
		}
		return -1
	}
	for i, n := range r.names {
		if n == string(name) {
			return i
		}
	}
	return -1
}

// fieldError is a value that does not fit its column; with ignore-parse-errors the field becomes NULL.
type fieldError struct {
	path string
	msg  string
}

func (e *fieldError) Error() string { return fmt.Sprintf("field '%s': %s", e.path, e.msg) }

func (e *fieldError) under(name string) *fieldError {
	switch {
	case e.path == "":
		e.path = name
	case e.path[0] == '[':
		e.path = name + e.path
	default:
		e.path = name + "." + e.path
	}
	return e
}

// Decoder decodes JSON objects into rows. It is not safe for concurrent use.
type Decoder struct {
	root    *rowConv
	cfg     config
	s       scanner
	scratch []byte
	tmp     [][]types.Value // per nesting depth, for collecting array/map elements
	seen    [][]bool        // per nesting depth, for fail-on-missing-field
}

var _ formats.Decoder = (*Decoder)(nil)

// NewDecoder returns a decoder for rowType (a ROW) with the given configuration.
func NewDecoder(rowType types.Type, c config) *Decoder {
	return &Decoder{root: newRowConv(rowType), cfg: c}
}

var _ formats.Projector = (*Decoder)(nil)

// Project makes the decoder skip the fields (and ROW members) that p does not need: they are scanned over
// without being materialized and stay NULL.
func (d *Decoder) Project(p *formats.Projection) {
	d.root = projectRow(d.root, p)
}

// projectRow returns a copy of rc that skips what p does not need (rc itself when p needs everything).
func projectRow(rc *rowConv, p *formats.Projection) *rowConv {
	if p == nil {
		return rc
	}
	out := *rc
	out.skip = make([]bool, len(rc.fields))
	out.fields = append([]*conv(nil), rc.fields...)
	for i, c := range rc.fields {
		if !p.Needs(i) {
			out.skip[i] = true
			continue
		}
		if sub := p.Of(i); sub != nil && c.row != nil {
			cc := *c
			cc.row = projectRow(c.row, sub)
			out.fields[i] = &cc
		}
	}
	return &out
}

// Decode fills dst from one JSON object. A nil or empty message carries no row (ok=false).
func (d *Decoder) Decode(data []byte, dst []types.Value) (bool, error) {
	if len(dst) != len(d.root.fields) {
		return false, fmt.Errorf("%w: json decoder for %d fields got a row of %d values", formats.ErrDecode, len(d.root.fields), len(dst))
	}
	d.s = scanner{b: data}
	if d.s.peek() == 0 && d.s.i == len(data) {
		return false, nil
	}
	var err error
	if d.s.peek() != '{' {
		start := d.s.i
		if err = d.s.skip(0, &d.scratch); err == nil {
			err = &fieldError{msg: "expected a JSON object, got " + got(data[start:d.s.i])}
		}
	} else if err = d.row(d.root, dst, 0); err == nil {
		if d.s.peek() != 0 || d.s.i != len(data) {
			err = d.s.errf("unexpected data after the JSON object")
		}
	}
	if err == nil {
		return true, nil
	}
	return d.failure(data, err)
}

// failure turns a decoding error into Decode's result: a skipped record with ignore-parse-errors, else a
// *formats.RecordError naming the field.
func (d *Decoder) failure(data []byte, err error) (bool, error) {
	if d.cfg.ignoreErrors {
		return false, nil
	}
	field := ""
	if fe, ok := err.(*fieldError); ok {
		field = fe.path
		if fe.path == "" {
			err = fmt.Errorf("%s", fe.msg)
		}
	}
	return false, &formats.RecordError{Field: field, Err: formats.ErrDecode,
		Msg: fmt.Sprintf("failed to deserialize JSON '%s': %v", snippet(data), err)}
}

// snippet is the message for error texts, cut when long.
func snippet(data []byte) string {
	const max = 512
	if len(data) > max {
		return string(data[:max]) + "..."
	}
	return string(data)
}

// got describes a JSON token for error messages.
func got(tok []byte) string {
	const max = 40
	if len(tok) > max {
		return string(tok[:max]) + "..."
	}
	return string(tok)
}

// row decodes an object (s at '{') into dst.
func (d *Decoder) row(rc *rowConv, dst []types.Value, depth int) error {
	if depth > maxDepth {
		return d.s.errf("nesting deeper than %d levels", maxDepth)
	}
	for i := range dst {
		dst[i] = types.NullValue
	}
	seen := d.seenAt(depth, len(dst))
	s := &d.s
	s.i++ // '{'
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			if s.peek() != '"' {
				return s.unexpected()
			}
			key, err := s.str(&d.scratch)
			if err != nil {
				return err
			}
			idx := rc.find(key)
			if err := s.expect(':'); err != nil {
				return err
			}
			if idx >= 0 && rc.skip != nil && rc.skip[idx] {
				if seen != nil {
					seen[idx] = true
				}
				idx = -1
			}
			if idx < 0 {
				if err := s.skip(depth+1, &d.scratch); err != nil {
					return err
				}
			} else {
				v, err := d.valueOrNull(rc.fields[idx], depth+1)
				if err != nil {
					if fe, ok := err.(*fieldError); ok {
						return fe.under(rc.names[idx])
					}
					return err
				}
				dst[idx] = v
				if seen != nil {
					seen[idx] = true
				}
			}
			switch s.peek() {
			case ',':
				s.i++
				continue
			case '}':
				s.i++
			default:
				return s.unexpected()
			}
			break
		}
	}
	if err := rc.missing(seen); err != nil {
		return err
	}
	return nil
}

// valueOrNull decodes a value; with ignore-parse-errors a value that does not fit becomes NULL.
func (d *Decoder) valueOrNull(c *conv, depth int) (types.Value, error) {
	start := d.s.i
	v, err := d.value(c, depth)
	if err == nil {
		return v, nil
	}
	if _, ok := err.(*fieldError); ok && d.cfg.ignoreErrors {
		d.s.i = start
		if err := d.s.skip(depth, &d.scratch); err != nil {
			return types.NullValue, err
		}
		return types.NullValue, nil
	}
	return types.NullValue, err
}

func (d *Decoder) tmpAt(depth int) []types.Value {
	for len(d.tmp) <= depth {
		d.tmp = append(d.tmp, nil)
	}
	return d.tmp[depth][:0]
}

// value decodes the next value as type c.t.
func (d *Decoder) value(c *conv, depth int) (types.Value, error) {
	if depth > maxDepth {
		return types.NullValue, d.s.errf("nesting deeper than %d levels", maxDepth)
	}
	s := &d.s
	ch := s.peek()
	if s.i >= len(s.b) {
		return types.NullValue, s.unexpected()
	}
	if ch == 'n' {
		return types.NullValue, s.literal("null")
	}
	switch c.t.Kind {
	case types.Row:
		if ch != '{' {
			return d.mismatch("an object")
		}
		vals := make([]types.Value, len(c.row.fields))
		if err := d.row(c.row, vals, depth); err != nil {
			return types.NullValue, err
		}
		return types.RowValue(vals), nil
	case types.Array:
		if ch != '[' {
			return d.mismatch("an array")
		}
		s.i++
		elems := d.tmpAt(depth)
		if s.peek() == ']' {
			s.i++
			return types.ArrayValue([]types.Value{}), nil
		}
		for n := 0; ; n++ {
			v, err := d.valueOrNull(c.elem, depth+1)
			if err != nil {
				if fe, ok := err.(*fieldError); ok {
					return types.NullValue, fe.under("[" + strconv.Itoa(n) + "]")
				}
				return types.NullValue, err
			}
			elems = append(elems, v)
			d.tmp[depth] = elems
			switch s.peek() {
			case ',':
				s.i++
				continue
			case ']':
				s.i++
			default:
				return types.NullValue, s.unexpected()
			}
			break
		}
		out := make([]types.Value, len(elems))
		copy(out, elems)
		clear(elems)
		return types.ArrayValue(out), nil
	case types.Map, types.Multiset:
		if ch != '{' {
			return d.mismatch("an object")
		}
		return d.mapValue(c, depth)
	}
	return d.scalar(c)
}

func (d *Decoder) mapValue(c *conv, depth int) (types.Value, error) {
	s := &d.s
	s.i++
	kv := d.tmpAt(depth) // keys and values interleaved
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			if s.peek() != '"' {
				return types.NullValue, s.unexpected()
			}
			key, err := s.str(&d.scratch)
			if err != nil {
				return types.NullValue, err
			}
			k := types.StringValue(string(key))
			if err := s.expect(':'); err != nil {
				return types.NullValue, err
			}
			vc := c.elem
			if c.t.Kind == types.Multiset {
				vc = countConv
			}
			v, err := d.valueOrNull(vc, depth+1)
			if err != nil {
				if fe, ok := err.(*fieldError); ok {
					return types.NullValue, fe.under("[" + strconv.Quote(k.S) + "]")
				}
				return types.NullValue, err
			}
			kv = append(kv, k, v)
			d.tmp[depth] = kv
			switch s.peek() {
			case ',':
				s.i++
				continue
			case '}':
				s.i++
			default:
				return types.NullValue, s.unexpected()
			}
			break
		}
	}
	defer clear(kv)
	if c.t.Kind == types.Multiset {
		var out []types.Value
		for i := 0; i < len(kv); i += 2 {
			for n := int64(0); n < kv[i+1].I; n++ {
				out = append(out, kv[i])
			}
		}
		if out == nil {
			out = []types.Value{}
		}
		return types.ArrayValue(out), nil
	}
	m := &types.MapValue{Keys: make([]types.Value, 0, len(kv)/2), Vals: make([]types.Value, 0, len(kv)/2)}
	for i := 0; i < len(kv); i += 2 {
		m.Keys = append(m.Keys, kv[i])
		m.Vals = append(m.Vals, kv[i+1])
	}
	return types.MapOf(m), nil
}

var countConv = &conv{t: types.IntType()}

// mismatch consumes the value at s and reports that it is not what the type needs.
func (d *Decoder) mismatch(want string) (types.Value, error) {
	start := d.s.i
	if err := d.s.skip(0, &d.scratch); err != nil {
		return types.NullValue, err
	}
	return types.NullValue, &fieldError{msg: "expected " + want + ", got " + got(d.s.b[start:d.s.i])}
}

// scalar decodes a scalar token as c.t.
func (d *Decoder) scalar(c *conv) (types.Value, error) {
	s := &d.s
	start := s.i
	var text []byte // the number text or string content
	isStr, isNum := false, false
	var err error
	switch ch := s.b[s.i]; {
	case ch == '"':
		text, err = s.str(&d.scratch)
		isStr = true
	case ch == '-' || ch >= '0' && ch <= '9':
		text, err = s.number()
		isNum = true
	case ch == 't' || ch == 'f':
		if ch == 't' {
			err = s.literal("true")
		} else {
			err = s.literal("false")
		}
		if err == nil && c.t.Kind == types.Boolean {
			return types.BoolValue(ch == 't'), nil
		}
	case ch == '{' || ch == '[':
		err = s.skip(0, &d.scratch)
	default:
		return types.NullValue, s.unexpected()
	}
	if err != nil {
		return types.NullValue, err
	}
	tok := s.b[start:s.i]
	bad := func(want string) (types.Value, error) {
		return types.NullValue, &fieldError{msg: "expected " + want + ", got " + got(tok)}
	}
	t := c.t
	switch t.Kind {
	case types.Null:
		return types.NullValue, nil
	case types.Char, types.VarChar:
		if isStr {
			return types.StringValue(string(text)), nil
		}
		// Any other JSON value is kept as its JSON text, as Flink does.
		return types.StringValue(string(compact(nil, tok))), nil
	case types.Boolean:
		if isStr {
			switch strings.ToLower(strings.TrimSpace(string(text))) {
			case "true":
				return types.BoolValue(true), nil
			case "false":
				return types.BoolValue(false), nil
			}
		}
		return bad("a boolean")
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.IntervalYearMonth, types.IntervalDayTime:
		if !isNum && !isStr {
			return bad("a number")
		}
		n, res := textconv.ParseInt(text, t.Kind, isStr)
		switch res {
		case textconv.OK:
			return types.IntValue(n), nil
		case textconv.OutOfRange:
			return types.NullValue, &fieldError{msg: fmt.Sprintf("value %s is out of range for %s", got(tok), t.WithNullable(true))}
		}
		return bad("a number")
	case types.Float, types.Double:
		if !isNum && !isStr {
			return bad("a number")
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(string(text)), 64)
		if err != nil && !isRangeErr(err) {
			return bad("a number")
		}
		if t.Kind == types.Float {
			f = float64(float32(f))
		}
		return types.FloatValue(f), nil
	case types.Decimal:
		if !isNum && !isStr {
			return bad("a number")
		}
		v, res := textconv.ParseDecimal(text, t.Precision, t.Scale, isStr)
		switch res {
		case textconv.OK:
			return v, nil
		case textconv.OutOfRange:
			// Flink: a decimal that does not fit the column's precision is NULL.
			return types.NullValue, nil
		}
		return bad("a number")
	case types.Binary, types.VarBinary:
		if !isStr {
			return bad("a base64 string")
		}
		b, err := decodeBase64(text)
		if err != nil {
			return bad("a base64 string")
		}
		return types.Value{T: types.TagBytes, S: b}, nil
	case types.Date:
		if days, ok := timefmt.ParseDate(text); ok && isStr {
			return types.DateValue(days), nil
		}
		return bad("a date 'yyyy-MM-dd'")
	case types.Time:
		if nanos, ok := timefmt.ParseTime(text); ok && isStr {
			return types.TimeValue(timefmt.TruncateNanos(nanos, t.Precision)), nil
		}
		return bad("a time 'HH:mm:ss'")
	case types.Timestamp, types.TimestampLTZ:
		ltz := t.Kind == types.TimestampLTZ
		sep := byte(' ')
		if d.cfg.iso {
			sep = 'T'
		}
		if isStr {
			if ms, nanos, ok := timefmt.ParseTimestamp(text, sep, ltz); ok {
				return truncTimestamp(ms, nanos, t.Precision), nil
			}
		}
		return bad("a timestamp " + timestampLayout(sep, ltz))
	}
	return types.NullValue, &fieldError{msg: fmt.Sprintf("type %s is not supported by the json format", t)}
}

func timestampLayout(sep byte, ltz bool) string {
	l := "'yyyy-MM-dd" + string(sep) + "HH:mm:ss[.SSS]"
	if ltz {
		l += "Z"
	}
	return l + "'"
}

func truncTimestamp(ms int64, nanoOfMilli int32, precision int) types.Value {
	if precision < 3 {
		ms -= ((ms % 1000) + 1000) % 1000 % pow10(3-precision)
		nanoOfMilli = 0
	} else {
		nanoOfMilli = int32(timefmt.TruncateNanos(int64(nanoOfMilli), precision))
	}
	return types.TimestampValue(ms, nanoOfMilli)
}

func pow10(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// decodeBase64 decodes standard base64 with or without padding, as Jackson's default variant reads it.
func decodeBase64(text []byte) (string, error) {
	enc := base64.StdEncoding
	if len(text)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	buf := make([]byte, enc.DecodedLen(len(text)))
	n, err := enc.Decode(buf, text)
	if err != nil || n == 0 {
		return "", err
	}
	return unsafe.String(&buf[0], n), nil // buf is not used again
}

// seenAt returns, with fail-on-missing-field, the reused "field seen" flags of an object at depth, n of them
// all false (nil without the option).
func (d *Decoder) seenAt(depth, n int) []bool {
	if !d.cfg.failOnMissing {
		return nil
	}
	for len(d.seen) <= depth {
		d.seen = append(d.seen, nil)
	}
	seen := append(d.seen[depth][:0], make([]bool, n)...)
	d.seen[depth] = seen
	return seen
}

// missing returns fail-on-missing-field's error for the first field rc reads that seen does not mark.
func (rc *rowConv) missing(seen []bool) error {
	for i, ok := range seen {
		if !ok && (rc.skip == nil || !rc.skip[i]) {
			return &fieldError{path: rc.names[i], msg: "missing from the JSON object (fail-on-missing-field is true)"}
		}
	}
	return nil
}
