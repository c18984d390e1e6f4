package avroconfluent

import (
	"fmt"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/avro"
	"github.com/sluicesql/sluice/vec"
)

// Decoding straight into column vectors (issue 14): DecodeColumns reads the framing as Decode does and
// decodes the body with the schema id's resolved plan (avro.DecodePlan.DecodeColumns), so schema evolution
// resolves as in Decode (every resolution the row path makes is supported).

// Project makes the decoder skip the fields p does not need (formats.Projector); they are NULL. It applies
// to the plans of the schema ids seen after it (it is called before the first Decode).
func (d *Decoder) Project(p *formats.Projection) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.proj = p
	clear(d.plans)
	d.last.Store(nil)
}

// DecodesColumns reports whether DecodeColumns can decode this decoder's rows (avro.ColumnsSupported).
func (d *Decoder) DecodesColumns() bool { return avro.ColumnsSupported(d.rowType) }

// DecodeColumns decodes one message into row `row` of cols (one column per field, made by vec.ColFor), as
// Decode does: same values, same skips (ignore-parse-errors), same errors; when it returns false or an error
// the columns keep `row` rows.
func (d *Decoder) DecodeColumns(data []byte, cols []*vec.Col, row int) (bool, error) {
	if len(cols) != d.nfields {
		return false, fmt.Errorf("%w: avro-confluent decoder for %d fields got %d columns", formats.ErrDecode, d.nfields, len(cols))
	}
	e, id, ok, err := d.header(data)
	if e == nil {
		return ok, err
	}
	body := data[5:]
	n, err := e.plan.DecodeColumns(body, cols, row)
	if err == nil && n != len(body) {
		for _, c := range cols {
			c.Truncate(row)
		}
	}
	return d.result(id, n, len(body), err)
}
