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
		s.skipNull(rec)
		return nil
	}
	row := r.nextRow()
	if c.key != nil {
		if rec.Key == nil {
			for _, pi := range c.keyIdx {
				row[pi] = types.NullValue
			}
		} else {
			if ok, err := r.keyDec.Decode(rec.Key, r.keyVals); !ok || err != nil {
				return s.unread(rec, "key", err)
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
		if ok, err := r.valDec.Decode(rec.Value, dst); !ok || err != nil {
			return s.unread(rec, "value", err)
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
	if err := r.setMetadata(rec, row); err != nil {
		return err
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
		if ok, err := r.keyDec.Decode(rec.Key, r.keyVals); !ok || err != nil {
			return s.unread(rec, "key", err)
		}
	}
	emitted := 0
	var metaErr error
	err := cd.DecodeChangelog(rec.Value, func(kind changelog.Kind, vals []types.Value) error {
		row := r.nextRow()
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
		if metaErr = r.setMetadata(rec, row); metaErr != nil {
			return metaErr
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
		s.skipBad(rec, "value")
	}
	return nil
}

// nextRow returns the arena's slot for the batch's next row.
func (r *run) nextRow() []types.Value {
	i := r.batch.Len()
	if (i+1)*r.width > len(r.arena) {
		// More records than max.poll.records in one poll (franz-go does not return more): grow; rows already
		// in the batch keep pointing into the old array, which stays valid.
		r.arena = make([]types.Value, 2*len(r.arena)+r.width)
	}
	return r.arena[i*r.width : (i+1)*r.width : (i+1)*r.width]
}

// unread answers for a record whose side ("key" or "value") its format did not read (both paths): the
// format's error as a *RecordError, or, when the format skips the record (ignore-parse-errors), nil after
// counting and warning about it.
func (s *source) unread(rec *kgo.Record, side string, err error) error {
	if err != nil {
		return s.recordError(rec, side, err)
	}
	s.skipBad(rec, side)
	return nil
}

// setMetadata writes rec's metadata columns into row.
func (r *run) setMetadata(rec *kgo.Record, row []types.Value) error {
	c := r.s.cfg
	for j := range c.meta {
		m := &c.meta[j]
		v, err := m.cast(readMetadata(m.key.name, rec))
		if err != nil {
			return r.s.metadataError(rec, j, err)
		}
		row[c.nphys+j] = v
	}
	return nil
}

// metadata returns metadata column j of rec.
func (r *run) metadata(rec *kgo.Record, j int) (types.Value, error) {
	m := &r.s.cfg.meta[j]
	v, err := m.cast(readMetadata(m.key.name, rec))
	if err != nil {
		return v, r.s.metadataError(rec, j, err)
	}
	return v, nil
}

func (s *source) metadataError(rec *kgo.Record, j int, err error) error {
	return fmt.Errorf("kafka table '%s': record at topic '%s' partition %d offset %d: metadata column '%s': %w",
		s.cfg.table.Name, rec.Topic, rec.Partition, rec.Offset, s.cfg.meta[j].col.Name, err)
}

// skipNull counts and warns about a record whose value is null, on a table that is not upsert-kafka.
func (s *source) skipNull(rec *kgo.Record) {
	s.skippedNull.Add(1)
	s.warn(rec, "its value is null (a tombstone; read compacted topics with 'upsert-kafka')")
}

// skipBad counts and warns about a record whose side ("key" or "value") its format cannot read and skips
// (ignore-parse-errors).
func (s *source) skipBad(rec *kgo.Record, side string) {
	d := s.cfg.value
	if side == "key" {
		d = s.cfg.key
	}
	s.skippedBad.Add(1)
	s.warn(rec, "its "+side+" cannot be read by format '"+d.Identifier+"' (ignore-parse-errors)")
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
