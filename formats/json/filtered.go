package json

import (
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// Filter first (issue 14 part 2): a source that runs a query's filter before the rest of a record is decoded
// decodes each record with a decoder of the filter's fields only (FilterFirst), evaluates the filter, and
// decodes the records that pass (and those the first decoder could not read) with the full decoder. A record
// the filter drops is then never decoded in full, so the first decoder must fail wherever the full one
// fails: it scans over the fields it skips (syntax, nesting depth and trailing data are checked as by the
// full decoder), but does not convert them. FilterFirst therefore refuses (ok false) when a skipped field
// could fail to convert: unless json.ignore-parse-errors is true (a field that fails to convert is NULL,
// not an error), every field (ROW member) the full decoder reads and the first skips must be a
// CHAR/VARCHAR (any JSON value converts: a non-string keeps its JSON text); and fail-on-missing-field must
// be false (a skipped field is not checked for presence).

// FilterFirst returns a decoder of the same records that decodes only what reads needs (a subset of what
// d decodes; the rest stays NULL), and whether a record it decodes without an error is one d decodes
// without an error (see above). The decoder is d's configuration with its own scanner state.
func (d *Decoder) FilterFirst(reads *formats.Projection) (formats.Decoder, bool) {
	if d.cfg.failOnMissing {
		return nil, false
	}
	f := &Decoder{root: projectRow(d.root, reads), cfg: d.cfg}
	if !d.cfg.ignoreErrors && !skipsSafely(d.root, f.root) {
		return nil, false
	}
	return f, true
}

// skipsSafely reports whether every field full reads and first skips converts from any JSON value.
func skipsSafely(full, first *rowConv) bool {
	for i, c := range full.fields {
		if full.skip != nil && full.skip[i] {
			continue
		}
		if first.skip != nil && first.skip[i] {
			if !convertsAny(c) {
				return false
			}
			continue
		}
		if fc := first.fields[i]; c.row != nil && fc.row != nil && fc.row != c.row && !skipsSafely(c.row, fc.row) {
			return false
		}
	}
	return true
}

// convertsAny reports whether every JSON value converts to c's type without an error.
func convertsAny(c *conv) bool {
	switch c.t.Kind {
	case types.Char, types.VarChar, types.Null:
		return true
	}
	return false
}
