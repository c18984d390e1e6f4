package csv

import (
	"bytes"
	"fmt"
	"strconv"
	"unsafe"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/internal/textconv"
	"github.com/sluicesql/sluice/formats/internal/timefmt"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Decoding straight into column vectors (issue 14): DecodeColumns splits a record as Decode does (so every
// option that shapes the record, the delimiter, quote and escape characters and allow-comments, applies the
// same way) and converts each field into its column: strings, integers, floats, booleans, DECIMAL(p <= 18)
// and timestamps without a generic value or a string allocated per field, the other types (wide
// DECIMALs among them) through the value Decode makes. Fields the
// projection does not need are split past but not converted; they are NULL, in Decode too.

// Project makes the decoder skip the conversion of the fields p does not need (formats.Projector); they
// are NULL. Nested ROW fields are converted whole (a CSV row field is one text).
func (d *Decoder) Project(p *formats.Projection) {
	if p == nil {
		d.skip = nil
		return
	}
	d.skip = make([]bool, len(d.row.Fields))
	for i := range d.skip {
		d.skip[i] = !p.Needs(i)
	}
}

// skipped reports whether the projection skips field i.
func (d *Decoder) skipped(i int) bool { return d.skip != nil && d.skip[i] }

// DecodesColumns reports whether DecodeColumns can decode this decoder's rows: every field type has an
// exact column (vec.Exact; a ROW is a struct column whose members do).
func (d *Decoder) DecodesColumns() bool {
	for _, f := range d.row.Fields {
		if !vec.ExactDeep(f.Type) {
			return false
		}
	}
	return true
}

// DecodeColumns decodes one CSV record into row `row` of cols (one column per field of the row type, made
// by vec.ColFor, each holding `row` rows). It returns as Decode does (an empty message or a comment carries
// no row; ignore-parse-errors skips bad records and NULLs bad fields); when ok is false or err is not nil
// the columns keep `row` rows.
func (d *Decoder) DecodeColumns(data []byte, cols []*vec.Col, row int) (bool, error) {
	if len(cols) != len(d.row.Fields) {
		return false, fmt.Errorf("%w: csv decoder for %d fields got %d columns", formats.ErrDecode, len(d.row.Fields), len(cols))
	}
	trimmed := bytes.TrimRight(data, "\r\n")
	if len(trimmed) == 0 || d.cfg.comments && trimmed[0] == '#' {
		return false, nil
	}
	err := d.decodeColumns(trimmed, cols, row)
	if err == nil {
		return true, nil
	}
	for _, c := range cols {
		c.Truncate(row)
	}
	return d.failure(data, err)
}

func (d *Decoder) decodeColumns(data []byte, cols []*vec.Col, row int) error {
	if err := d.split(data); err != nil {
		return err
	}
	if len(d.fields) != len(cols) && !d.cfg.ignoreErrors {
		return &fieldError{msg: fmt.Sprintf("Row length mismatch. %d fields expected but was %d.", len(cols), len(d.fields))}
	}
	for i, f := range d.row.Fields {
		col := cols[i]
		if i >= len(d.fields) || d.skipped(i) {
			col.AppendNull(row)
			continue
		}
		if err := d.column(d.fields[i], f.Type, col, row); err != nil {
			if !d.cfg.ignoreErrors {
				return &fieldError{field: f.Name, msg: err.Error()}
			}
			col.Truncate(row)
			col.AppendNull(row)
		}
	}
	return nil
}

// column appends the value of one field's text to col: as convert, the common types without a value.
func (d *Decoder) column(text []byte, t types.Type, col *vec.Col, row int) error {
	c := &d.cfg
	if c.hasNull && string(text) == c.nullLiteral {
		col.AppendNull(row)
		return nil
	}
	switch {
	case col.Kind == vec.Bytes && t.IsString():
		col.Data = append(col.Data, text...)
		col.Off = append(col.Off, int32(len(col.Data)))
		return nil
	case col.Kind == vec.Int64 && col.Tag == types.TagInt:
		if n, res := textconv.ParseInt(text, t.Kind, true); res == textconv.OK {
			col.I64 = append(col.I64, n)
			if col.Nanos != nil {
				col.Nanos = append(col.Nanos, 0)
			}
			return nil
		}
	case col.Kind == vec.Float64:
		s := bytes.TrimSpace(text)
		f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(s), len(s)), 64)
		if err == nil {
			if t.Kind == types.Float {
				f = float64(float32(f))
			}
			col.F64 = append(col.F64, f)
			return nil
		}
	case col.Kind == vec.Int64 && col.Tag == types.TagDecimal && t.Kind == types.Decimal:
		// DECIMAL(p <= 18): the unscaled int64 of ParseDecimal (no allocation up to 18 significant digits);
		// a value beyond the precision is NULL, as in convert; bad text takes convert for its error.
		switch v, res := textconv.ParseDecimal(text, t.Precision, t.Scale, true); {
		case res == textconv.OK && v.X == nil && v.N == col.Scale:
			col.I64 = append(col.I64, v.I)
			return nil
		case res == textconv.OutOfRange:
			col.AppendNull(row)
			return nil
		}
	case col.Kind == vec.Dec128 && t.Kind == types.Decimal:
		// DECIMAL(19..38): straight into the 128-bit column with textconv's parser (convert's too); a value
		// beyond the precision is NULL, as in convert; bad text takes convert for its error.
		switch x, res := textconv.ParseDecimal128(text, t.Precision, int(col.Scale), true); res {
		case textconv.OK:
			col.D128 = append(col.D128, x)
			return nil
		case textconv.OutOfRange:
			col.AppendNull(row)
			return nil
		}
	case col.Kind == vec.Int64 && col.Tag == types.TagTimestamp &&
		(t.Kind == types.Timestamp || t.Kind == types.TimestampLTZ):
		ltz := t.Kind == types.TimestampLTZ
		if ms, n, ok := timefmt.ParseTimestamp(bytes.TrimSpace(text), ' ', ltz); ok {
			col.AppendTimestamp(truncTimestampParts(ms, n, t.Precision))
			return nil
		}
	case col.Kind == vec.Bool && t.Kind == types.Boolean:
		s := bytes.TrimSpace(text)
		switch {
		case asciiFold(s, "true"):
			col.B = append(col.B, true)
			return nil
		case asciiFold(s, "false"):
			col.B = append(col.B, false)
			return nil
		}
	}
	v, err := d.convert(text, t) // the value, or the error, of Decode
	if err != nil {
		return err
	}
	if !col.Append(row, v) {
		return fmt.Errorf("a %s value has no form in a column of kind %d", t, col.Kind)
	}
	return nil
}

// asciiFold reports whether s is lower (an ASCII lowercase word) in any ASCII case; other text is left to
// convert.
func asciiFold(s []byte, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := range s {
		if s[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}
