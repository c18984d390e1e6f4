package json

import (
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/internal/textconv"
	"github.com/sluicesql/sluice/types"
)

// Filter first (issue 14 part 2): a source that runs a query's filter before the rest of a record is decoded
// decodes each record with a decoder of the filter's fields (FilterFirst), evaluates the filter, and decodes
// the records that pass (and those the first decoder could not read) with the full decoder. A record the
// filter drops is never decoded in full, so the first decoder fails wherever the full one fails: the fields
// the full decoder reads and the filter does not are checked (check, below) as the full decoder reads them
// (JSON syntax, nesting depth, the value's shape for the type: a number, a boolean, a string, an object for
// a ROW; a number's range, a timestamp's, date's or time's text, base64 text; fail-on-missing-field) but not
// stored; the fields the full decoder skips are scanned for syntax only, as by the full decoder. With
// json.ignore-parse-errors (and fail-on-missing-field false) a field that fails to convert is NULL, not an
// error, so those fields are scanned for syntax only.

// FilterFirst returns a decoder of the same records that decodes only what reads needs (a subset of what
// d decodes; the rest stays NULL) and checks the other fields d reads without storing them: a record it
// decodes without an error is one d decodes without an error, with the same values in reads' fields. The
// decoder is d's configuration with its own scanner state.
func (d *Decoder) FilterFirst(reads *formats.Projection) formats.Decoder {
	return &Decoder{root: projectCheck(d.root, reads, !d.cfg.ignoreErrors || d.cfg.failOnMissing), cfg: d.cfg}
}

// projectCheck returns a copy of rc (a full decoder's, with its projection) that decodes what reads needs and
// checks (check true) or skips the other fields rc reads.
func projectCheck(rc *rowConv, reads *formats.Projection, check bool) *rowConv {
	out := *rc
	out.skip = make([]bool, len(rc.fields))
	out.check = make([]bool, len(rc.fields))
	out.fields = append([]*conv(nil), rc.fields...)
	for i, c := range rc.fields {
		switch {
		case rc.skip != nil && rc.skip[i]:
			out.skip[i] = true
		case !reads.Needs(i):
			out.skip[i], out.check[i] = !check, check
		default:
			if sub := reads.Of(i); sub != nil && c.row != nil {
				cc := *c
				cc.row = projectCheck(c.row, sub, check)
				out.fields[i] = &cc
			}
		}
	}
	return &out
}

// FilterFirstPays reports whether decoding reads' fields first can cost less than decoding every record
// whole: when the other fields d reads are only scanned for syntax in a record the filter drops
// (json.ignore-parse-errors without fail-on-missing-field) or are all CHAR/VARCHAR (checking a string is
// scanning it). Checking a number, a timestamp or a boolean costs about what converting it costs, and a
// record that passes is scanned twice, so a filter over such records ran slower pushed than in the Calc
// (loaded runs of a q2-shaped job: 1.24M → 1.02M and 0.87M → 0.61M records per CPU-second); a source
// pushes the filter only when this holds.
func (d *Decoder) FilterFirstPays(reads *formats.Projection) bool {
	if d.cfg.ignoreErrors && !d.cfg.failOnMissing {
		return true
	}
	return onlyStringsChecked(d.root, reads)
}

// onlyStringsChecked reports whether every field rc reads and reads does not need is CHAR/VARCHAR (a ROW's:
// every member it reads).
func onlyStringsChecked(rc *rowConv, reads *formats.Projection) bool {
	for i, c := range rc.fields {
		switch {
		case rc.skip != nil && rc.skip[i]:
		case !reads.Needs(i):
			if c.row != nil {
				if !onlyStringsChecked(c.row, &formats.Projection{Need: make([]bool, len(c.row.fields))}) {
					return false
				}
			} else if c.t.Kind != types.Char && c.t.Kind != types.VarChar {
				return false
			}
		default:
			if sub := reads.Of(i); sub != nil && c.row != nil && !onlyStringsChecked(c.row, sub) {
				return false
			}
		}
	}
	return true
}

// checkOrNull is valueOrNull without the value: it consumes the next value and returns the error
// valueOrNull would return, without converting or storing it where that can be avoided.
func (d *Decoder) checkOrNull(c *conv, depth int) error {
	start := d.s.i
	err := d.check(c, depth)
	if err == nil {
		return nil
	}
	if _, ok := err.(*fieldError); ok && d.cfg.ignoreErrors {
		d.s.i = start
		return d.s.skip(depth, &d.scratch)
	}
	return err
}

// check consumes the next value and returns the error value (colValue) would return for type c.t. The
// common shapes are checked here without a value; the others go through value, whose result is dropped.
func (d *Decoder) check(c *conv, depth int) error {
	s := &d.s
	ch := s.peek()
	start := s.i
	switch k := c.t.Kind; {
	case ch == '"' && c.t.IsString():
		_, err := s.str(&d.scratch)
		return err
	case ch == '{' && k == types.Row && c.row != nil:
		return d.rowCheck(c.row, depth)
	case (ch == '-' || ch >= '0' && ch <= '9') && (k == types.TinyInt || k == types.SmallInt || k == types.Int || k == types.BigInt):
		text, err := s.number()
		if err != nil {
			return err
		}
		if _, res := textconv.ParseInt(text, k, false); res == textconv.OK {
			return nil
		}
		s.i = start
	case (ch == '-' || ch >= '0' && ch <= '9') && (k == types.Float || k == types.Double):
		text, err := s.number()
		if err != nil {
			return err
		}
		if _, ok := fastFloat(text); ok {
			return nil
		}
		s.i = start
	case (ch == 't' || ch == 'f') && k == types.Boolean:
		if ch == 't' {
			return s.literal("true")
		}
		return s.literal("false")
	}
	_, err := d.value(c, depth)
	return err
}

// rowCheck is row (s at '{') without the values: the fields rc reads are checked (checkOrNull), the others
// scanned over; fail-on-missing-field is applied.
func (d *Decoder) rowCheck(rc *rowConv, depth int) error {
	if depth > maxDepth {
		return d.s.errf("nesting deeper than %d levels", maxDepth)
	}
	seen := d.seenAt(depth, len(rc.fields))
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
			if idx >= 0 && seen != nil {
				seen[idx] = true
			}
			if idx < 0 || rc.skip != nil && rc.skip[idx] {
				if err := s.skip(depth+1, &d.scratch); err != nil {
					return err
				}
			} else if err := d.checkOrNull(rc.fields[idx], depth+1); err != nil {
				if fe, ok := err.(*fieldError); ok {
					return fe.under(rc.names[idx])
				}
				return err
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
