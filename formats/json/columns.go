package json

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"unsafe"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/internal/textconv"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Decoding straight into column vectors (issue 14): DecodeColumns appends one JSON object as a row of typed
// columns, without a types.Value or a string allocation per field for the common scalar types. It reads
// exactly what Decode reads (same options, same projection, same errors).

// ColumnsSupported reports whether DecodeColumns can decode rows of type rowType: every field's values have
// an exact form in the column vec.ColFor makes for it (a DECIMAL wider than 18 digits is a 128-bit column;
// a ROW is a struct column whose members follow the same rule).
func ColumnsSupported(rowType types.Type) bool {
	for _, f := range rowType.Fields {
		if !vec.ExactDeep(f.Type) {
			return false
		}
	}
	return true
}

// DecodeColumns decodes one JSON object into row `row` of cols, one column per field of the row type, each
// made by vec.ColFor for the field's type and holding `row` rows. It returns as Decode does; when ok is false
// or err is not nil the columns are left with `row` rows. Fields the projection skips become NULL.
func (d *Decoder) DecodeColumns(data []byte, cols []*vec.Col, row int) (bool, error) {
	if len(cols) != len(d.root.fields) {
		return false, fmt.Errorf("%w: json decoder for %d fields got %d columns", formats.ErrDecode, len(d.root.fields), len(cols))
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
	} else if err = d.rowCols(d.root, cols, row, 0); err == nil {
		if d.s.peek() != 0 || d.s.i != len(data) {
			err = d.s.errf("unexpected data after the JSON object")
		}
	}
	if err == nil {
		return true, nil
	}
	for _, c := range cols {
		c.Truncate(row)
	}
	return d.failure(data, err)
}

// rowCols decodes an object (s at '{') at nesting depth `depth` (0: the top level) into row `row` of cols,
// as Decoder.row does into values; absent fields are NULL. Up to 64 fields, a bit mask says which fields
// were written (no column length is read per field).
func (d *Decoder) rowCols(rc *rowConv, cols []*vec.Col, row, depth int) error {
	if depth > maxDepth {
		return d.s.errf("nesting deeper than %d levels", maxDepth)
	}
	seen := d.seenAt(depth, len(cols))
	s := &d.s
	s.i++ // '{'
	next := 0
	small := len(cols) <= 64
	var set uint64 // small: the fields written
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
			// Objects written from a schema list the fields in its order: try the one after the last.
			idx := next
			if idx >= len(rc.names) || rc.names[idx] != string(key) {
				idx = rc.find(key)
			}
			next = idx + 1
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
			} else if rc.check != nil && rc.check[idx] {
				if err := d.checkOrNull(rc.fields[idx], depth+1); err != nil { // filtered.go
					if fe, ok := err.(*fieldError); ok {
						return fe.under(rc.names[idx])
					}
					return err
				}
				if seen != nil {
					seen[idx] = true
				}
			} else {
				col := cols[idx]
				if small && set&(1<<idx) != 0 || !small && col.Len() > row {
					col.Truncate(row) // a repeated key: the last value wins, as in Decode
				}
				if err := d.colValueOrNull(rc.fields[idx], col, row, depth+1); err != nil {
					if fe, ok := err.(*fieldError); ok {
						return fe.under(rc.names[idx])
					}
					return err
				}
				if seen != nil {
					seen[idx] = true
				}
				set |= 1 << (idx & 63)
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
	for i, col := range cols {
		if small && set&(1<<i) == 0 || !small && col.Len() == row {
			col.AppendNull(row)
		}
	}
	return nil
}

// colValueOrNull is valueOrNull appending to col.
func (d *Decoder) colValueOrNull(c *conv, col *vec.Col, row, depth int) error {
	start := d.s.i
	err := d.colValue(c, col, row, depth)
	if err == nil {
		return nil
	}
	if _, ok := err.(*fieldError); ok && d.cfg.ignoreErrors {
		col.Truncate(row)
		d.s.i = start
		if err := d.s.skip(depth, &d.scratch); err != nil {
			return err
		}
		col.AppendNull(row)
		return nil
	}
	return err
}

// colValue appends the next value to col: common scalars directly, anything else through value. A token the
// fast path does not take (a number in a string, an out-of-range value) is read again by value, so results
// and errors are Decode's.
func (d *Decoder) colValue(c *conv, col *vec.Col, row, depth int) error {
	s := &d.s
	ch := s.peek()
	start := s.i
	switch {
	case ch == '{' && col.Kind == vec.Struct && c.row != nil && len(col.Fields) == len(c.row.fields):
		return d.rowCols(c.row, col.Fields, row, depth) // members absent from the object are NULL
	case ch == '"' && col.Kind == vec.Bytes && c.t.IsString():
		text, err := s.str(&d.scratch)
		if err != nil {
			return err
		}
		col.Data = append(col.Data, text...)
		col.Off = append(col.Off, int32(len(col.Data)))
		return nil
	case ch == '"' && col.Kind == vec.Bytes && (c.t.Kind == types.Binary || c.t.Kind == types.VarBinary):
		// base64 decoded straight into the arena; text that does not decode takes the general path (its error)
		start := s.i
		text, err := s.str(&d.scratch)
		if err != nil {
			return err
		}
		if appendBase64(col, text) {
			return nil
		}
		s.i = start
	case (ch == '-' || ch >= '0' && ch <= '9') && col.Kind == vec.Int64 && col.Tag == types.TagInt:
		text, err := s.number()
		if err != nil {
			return err
		}
		if n, res := textconv.ParseInt(text, c.t.Kind, false); res == textconv.OK {
			col.I64 = append(col.I64, n)
			if col.Nanos != nil {
				col.Nanos = append(col.Nanos, 0)
			}
			return nil
		}
		s.i = start
	case (ch == '-' || ch >= '0' && ch <= '9') && col.Kind == vec.Dec128 && c.t.Kind == types.Decimal:
		text, err := s.number()
		if err != nil {
			return err
		}
		// DECIMAL(19..38): straight into the 128-bit column (textconv's parser, Decode's too); a value
		// beyond the precision is NULL, as in Flink.
		switch x, res := textconv.ParseDecimal128(text, c.t.Precision, int(col.Scale), false); res {
		case textconv.OK:
			col.D128 = append(col.D128, x)
			return nil
		case textconv.OutOfRange:
			col.AppendNull(row)
			return nil
		}
		s.i = start
	case (ch == '-' || ch >= '0' && ch <= '9') && col.Kind == vec.Float64:
		text, err := s.number()
		if err != nil {
			return err
		}
		f, ok := fastFloat(text)
		if !ok {
			f, err = strconv.ParseFloat(unsafe.String(unsafe.SliceData(text), len(text)), 64)
		}
		if err == nil || isRangeErr(err) {
			if c.t.Kind == types.Float {
				f = float64(float32(f))
			}
			col.F64 = append(col.F64, f)
			return nil
		}
		s.i = start
	case (ch == 't' || ch == 'f') && col.Kind == vec.Bool && c.t.Kind == types.Boolean:
		lit := "false"
		if ch == 't' {
			lit = "true"
		}
		if err := s.literal(lit); err != nil {
			return err
		}
		col.B = append(col.B, ch == 't')
		return nil
	}
	v, err := d.value(c, depth)
	if err != nil {
		return err
	}
	if !col.Append(row, v) {
		return fmt.Errorf("%w: json decoder: a %s value has no form in a column of kind %d", formats.ErrDecode, c.t, col.Kind)
	}
	return nil
}

// DecodesColumns reports whether DecodeColumns can decode this decoder's rows (ColumnsSupported).
func (d *Decoder) DecodesColumns() bool {
	for _, c := range d.root.fields {
		if !vec.ExactDeep(c.t) {
			return false
		}
	}
	return true
}

// appendBase64 appends the bytes of standard base64 text (padded or not, as decodeBase64) to a Bytes column;
// false, with the column unchanged, when the text does not decode.
func appendBase64(col *vec.Col, text []byte) bool {
	enc := base64.StdEncoding
	if len(text)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	at := len(col.Data)
	col.Data = slices.Grow(col.Data, enc.DecodedLen(len(text)))
	n, err := enc.Decode(col.Data[at:at+enc.DecodedLen(len(text))], text)
	if err != nil {
		return false
	}
	col.Data = col.Data[:at+n]
	col.Off = append(col.Off, int32(len(col.Data)))
	return true
}

// exactPow10 are the powers of ten that a float64 holds exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// fastFloat parses a JSON number (syntax already checked by scanner.number) of at most 15 digits and no
// exponent: the digits are an exact float64 and so is the power of ten they are divided by, so the one
// rounded division gives strconv.ParseFloat's result (Clinger's fast path). false: use strconv.
func fastFloat(text []byte) (float64, bool) {
	i := 0
	neg := text[0] == '-'
	if neg {
		i++
	}
	var mant uint64
	digits, frac := 0, -1
	for ; i < len(text); i++ {
		c := text[i]
		if c == '.' {
			frac = 0
			continue
		}
		if c < '0' || c > '9' || digits == 15 {
			return 0, false // an exponent, or too many digits
		}
		mant = mant*10 + uint64(c-'0')
		digits++
		if frac >= 0 {
			frac++
		}
	}
	f := float64(mant)
	if frac > 0 {
		f /= exactPow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}
