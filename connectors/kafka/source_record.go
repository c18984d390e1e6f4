package kafka

// Decoding the fetched records into rows (the row path; source_vec.go is the columnar one), and the errors
// and warnings about records that cannot be read.

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// maxWarnings is how many skipped-record warnings a source prints; later ones are only counted.
const maxWarnings = 10

// RecordError is a record the source cannot read: where it is and what is wrong with it. It wraps the
// format's error (a *formats.RecordError wrapping formats.ErrDecode).
type RecordError struct {
	Table     string
	Topic     string
	Partition int32
	Offset    int64
	Side      string // "key" or "value"
	Field     string // path of the field at fault, "" when the message as a whole is bad
	Err       error
	hint      string // the format's ignore-parse-errors option, when it has one
}

func (e *RecordError) Error() string {
	field := ""
	if e.Field != "" {
		field = fmt.Sprintf(", field '%s'", e.Field)
	}
	msg := fmt.Sprintf("kafka table '%s': cannot read the record at topic '%s' partition %d offset %d (%s%s): %s",
		e.Table, e.Topic, e.Partition, e.Offset, e.Side, field, e.Err.Error())
	if e.hint != "" {
		msg += fmt.Sprintf(". Set '%s' = 'true' to skip unreadable records", e.hint)
	}
	return msg
}

func (e *RecordError) Unwrap() error { return e.Err }

// record decodes one record into the next row of the batch (or skips it).
func (r *run) record(rec *kgo.Record) error {
	s := r.s
	c := s.cfg
	if cd, ok := r.valDec.(formats.ChangelogDecoder); ok {
		return r.changelogRecord(rec, cd)
	}
	kind := changelog.Insert
	if rec.Value == nil && c.upsert {
		// A tombstone deletes its key: the key fields come from the record key, the value fields are NULL.
		kind = changelog.Delete
	} else if rec.Value == nil {
		s.skippedNull.Add(1)
		s.warn(rec, "its value is null (a tombstone; read compacted topics with 'upsert-kafka')")
		return nil
	}
	i := r.batch.Len()
	if (i+1)*r.width > len(r.arena) {
		// More records than max.poll.records in one poll (franz-go does not return more): grow; rows already
		// in the batch keep pointing into the old array, which stays valid.
		r.arena = make([]types.Value, 2*len(r.arena)+r.width)
	}
	row := r.arena[i*r.width : (i+1)*r.width : (i+1)*r.width]
	if c.key != nil {
		if rec.Key == nil {
			for _, pi := range c.keyIdx {
				row[pi] = types.NullValue
			}
		} else {
			ok, err := r.keyDec.Decode(rec.Key, r.keyVals)
			if err != nil {
				return s.recordError(rec, "key", err)
			}
			if !ok {
				s.skippedBad.Add(1)
				s.warn(rec, "its key cannot be read by format '"+c.key.Identifier+"' (ignore-parse-errors)")
				return nil
			}
			for j, pi := range c.keyIdx {
				row[pi] = r.keyVals[j]
			}
		}
	}
	if kind == changelog.Delete {
		for _, pi := range c.valIdx {
			if !r.isKey(pi) {
				row[pi] = types.NullValue
			}
		}
	} else {
		dst := row[:c.nphys]
		if !r.valDirect {
			dst = r.valVals
		}
		ok, err := r.valDec.Decode(rec.Value, dst)
		if err != nil {
			return s.recordError(rec, "value", err)
		}
		if !ok {
			s.skippedBad.Add(1)
			s.warn(rec, "its value cannot be read by format '"+c.value.Identifier+"' (ignore-parse-errors)")
			return nil
		}
		if !r.valDirect {
			for j, pi := range c.valIdx {
				row[pi] = r.valVals[j]
			}
		}
		if c.upsert && r.valDirect {
			// value.fields-include = ALL: the key columns are in the value too; the record key wins, as the
			// key is what Kafka compacts on.
			for j, pi := range c.keyIdx {
				if rec.Key != nil {
					row[pi] = r.keyVals[j]
				}
			}
		}
	}
	for j := range c.meta {
		m := &c.meta[j]
		v, err := m.cast(readMetadata(m.key.name, rec))
		if err != nil {
			return fmt.Errorf("kafka table '%s': record at topic '%s' partition %d offset %d: metadata column '%s': %w",
				c.table.Name, rec.Topic, rec.Partition, rec.Offset, m.col.Name, err)
		}
		row[c.nphys+j] = v
	}
	r.batch.Append(kind, row)
	return nil
}

// isKey reports whether physical column pi is a key field.
func (r *run) isKey(pi int) bool {
	for _, k := range r.s.cfg.keyIdx {
		if k == pi {
			return true
		}
	}
	return false
}

// changelogRecord decodes a record of a changelog value format: it may add several rows of any kind (an
// update is -U then +U). Null values (Debezium's tombstones after deletes) are skipped silently.
func (r *run) changelogRecord(rec *kgo.Record, cd formats.ChangelogDecoder) error {
	s := r.s
	c := s.cfg
	if rec.Value == nil {
		return nil
	}
	if c.key != nil && rec.Key != nil {
		ok, err := r.keyDec.Decode(rec.Key, r.keyVals)
		if err != nil {
			return s.recordError(rec, "key", err)
		}
		if !ok {
			s.skippedBad.Add(1)
			s.warn(rec, "its key cannot be read by format '"+c.key.Identifier+"' (ignore-parse-errors)")
			return nil
		}
	}
	emitted := 0
	var metaErr error
	err := cd.DecodeChangelog(rec.Value, func(kind changelog.Kind, vals []types.Value) error {
		i := r.batch.Len()
		if (i+1)*r.width > len(r.arena) {
			r.arena = make([]types.Value, 2*len(r.arena)+r.width)
		}
		row := r.arena[i*r.width : (i+1)*r.width : (i+1)*r.width]
		for j, pi := range c.valIdx {
			row[pi] = vals[j]
		}
		for j, pi := range c.keyIdx {
			if rec.Key == nil {
				row[pi] = types.NullValue
			} else {
				row[pi] = r.keyVals[j]
			}
		}
		for j := range c.meta {
			m := &c.meta[j]
			v, err := m.cast(readMetadata(m.key.name, rec))
			if err != nil {
				metaErr = fmt.Errorf("kafka table '%s': record at topic '%s' partition %d offset %d: metadata column '%s': %w",
					c.table.Name, rec.Topic, rec.Partition, rec.Offset, m.col.Name, err)
				return metaErr
			}
			row[c.nphys+j] = v
		}
		r.batch.Append(kind, row)
		emitted++
		return nil
	})
	if metaErr != nil {
		return metaErr
	}
	if err != nil {
		return s.recordError(rec, "value", err)
	}
	if emitted == 0 {
		s.skippedBad.Add(1)
		s.warn(rec, "its value cannot be read by format '"+c.value.Identifier+"' (ignore-parse-errors)")
	}
	return nil
}

func (s *source) recordError(rec *kgo.Record, side string, err error) error {
	e := &RecordError{Table: s.cfg.table.Name, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Side: side, Err: err}
	var fe *formats.RecordError
	if errors.As(err, &fe) {
		e.Field = fe.Field
	}
	d := s.cfg.value
	if side == "key" {
		d = s.cfg.key
	}
	for _, o := range d.Factory.Options() {
		if o.Key == "ignore-parse-errors" {
			e.hint = d.Prefix + o.Key
		}
	}
	return e
}

func (s *source) warn(rec *kgo.Record, why string) {
	n := s.warnings.Add(1)
	if n > maxWarnings {
		return
	}
	fmt.Fprintf(s.stderr, "WARN kafka table '%s': skipped the record at topic '%s' partition %d offset %d: %s\n",
		s.cfg.table.Name, rec.Topic, rec.Partition, rec.Offset, why)
	if n == maxWarnings {
		fmt.Fprintf(s.stderr, "WARN kafka table '%s': further skipped records are counted, not printed\n", s.cfg.table.Name)
	}
}
