package kafka

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The columnar read path (issue 14): when the operators downstream take column vectors (vec.Accepts) and
// the value format decodes straight into columns (json), records are decoded into one vec.Batch per
// partition and poll, reused across polls, with no types.Value or string allocated per field. A key whose
// format decodes into columns too fills its columns the same way (ROW key fields included); other keys and
// the metadata columns are appended from their values (metadata: typed, per record, no cast for the
// declared types that equal the key's; the headers MAP goes into a Values column of maps made without an
// allocation per record, source_vec_meta.go). Upsert tables and
// changelog formats keep the row path.

// columnDecoder is a value format that decodes into columns (formats/json's Decoder).
type columnDecoder interface {
	DecodesColumns() bool
	DecodeColumns(data []byte, cols []*vec.Col, row int) (bool, error)
}

// colBatch is the columnar batch of a run and where each side writes in it.
type colBatch struct {
	b       vec.Batch
	conv    vec.RowConv
	dec     columnDecoder
	keyDec  columnDecoder  // the key's format when it decodes into columns too, else nil (key values appended)
	meta    []metaAppender // per metadata column: its direct appender, or nil (cast and Col.Append)
	keyCols []*vec.Col     // b.Cols[keyIdx[j]]
	valCols []*vec.Col     // b.Cols[valIdx[j]]
}

// useColumns switches the run to the columnar path when out takes columns and the table allows it.
func (r *run) useColumns(out changelog.Output) {
	c := r.s.cfg
	if !vec.Accepts(out) || c.upsert {
		return
	}
	if _, ok := r.valDec.(formats.ChangelogDecoder); ok {
		return
	}
	dec, ok := r.valDec.(columnDecoder)
	if !ok || !dec.DecodesColumns() {
		return
	}
	inVal := make([]bool, c.nphys)
	for _, pi := range c.valIdx {
		inVal[pi] = true
	}
	for _, pi := range c.keyIdx {
		if inVal[pi] {
			return // a column in both key and value (value.fields-include = ALL): the row path decides
		}
	}
	inKey := make([]bool, c.nphys)
	cb := &colBatch{dec: dec}
	if kd, ok := r.keyDec.(columnDecoder); ok && c.key != nil && kd.DecodesColumns() {
		cb.keyDec = kd
		for _, pi := range c.keyIdx {
			inKey[pi] = true
		}
	}
	ts := make([]types.Type, 0, c.nphys+len(c.meta))
	ts = append(ts, c.physTypes...)
	for j := range c.meta {
		ts = append(ts, c.meta[j].col.Type)
	}
	for i, t := range ts {
		// A ROW column is a struct column only in a side whose decoder fills its members (DecodesColumns
		// checked them); other key values and metadata values go through Col.Append and keep to vec.Exact types.
		if !vec.Exact(t) && (t.Kind != types.Row || i >= c.nphys || !inVal[i] && !inKey[i]) {
			return
		}
		cb.b.Cols = append(cb.b.Cols, vec.ColFor(t))
	}
	for _, pi := range c.keyIdx {
		cb.keyCols = append(cb.keyCols, cb.b.Cols[pi])
	}
	for _, pi := range c.valIdx {
		cb.valCols = append(cb.valCols, cb.b.Cols[pi])
	}
	for j := range c.meta {
		cb.meta = append(cb.meta, directMeta(&c.meta[j]))
	}
	r.cols = cb
}

// resetBatch empties the batch the next partition's records go into.
func (r *run) resetBatch() {
	if r.cols == nil {
		r.batch.Reset()
		return
	}
	b := &r.cols.b
	b.N = 0
	for _, c := range b.Cols {
		c.Reset(0)
	}
}

// batchLen is the number of rows decoded into the batch.
func (r *run) batchLen() int {
	if r.cols == nil {
		return r.batch.Len()
	}
	return r.cols.b.N
}

// decode reads one record into the batch (or skips it).
func (r *run) decode(rec *kgo.Record) error {
	if r.cols == nil {
		return r.record(rec)
	}
	return r.recordColumns(rec)
}

// pushBatch pushes the batch and advances the position of r.one[0] in the same critical section.
func (r *run) pushBatch(out changelog.Output) error {
	if r.cols == nil {
		return connectors.PushThen(out, &r.batch, r.advanceOne)
	}
	b := &r.cols.b
	for _, c := range b.Cols {
		c.PadNulls(b.N) // columns neither side writes (none today) stay NULL
	}
	return vec.PushThen(out, b, &r.cols.conv, r.advanceOne)
}

// recordColumns is record for the columnar batch: same skips, same errors.
func (r *run) recordColumns(rec *kgo.Record) error {
	s := r.s
	c := s.cfg
	cb := r.cols
	if rec.Value == nil {
		s.skipNull(rec)
		return nil
	}
	i := cb.b.N
	switch {
	case cb.keyDec != nil && rec.Key != nil:
		// The decoder leaves its columns at row i when it fails or skips.
		if ok, err := cb.keyDec.DecodeColumns(rec.Key, cb.keyCols, i); !ok || err != nil {
			return s.unread(rec, "key", err)
		}
	case c.key != nil && rec.Key != nil:
		if ok, err := r.keyDec.Decode(rec.Key, r.keyVals); !ok || err != nil {
			return s.unread(rec, "key", err)
		}
	}
	if ok, err := cb.dec.DecodeColumns(rec.Value, cb.valCols, i); !ok || err != nil {
		r.truncate(i) // the key's columns
		return s.unread(rec, "value", err)
	}
	if cb.keyDec == nil {
		if err := r.appendKey(rec, i); err != nil {
			return err
		}
	} else if rec.Key == nil {
		for _, col := range cb.keyCols {
			col.AppendNull(i)
		}
	}
	for j, app := range cb.meta {
		if app != nil {
			app(cb.b.Cols[c.nphys+j], rec, i)
			continue
		}
		v, err := r.metadata(rec, j)
		if err == nil && !cb.b.Cols[c.nphys+j].Append(i, v) {
			err = s.metadataError(rec, j, fmt.Errorf("a value of tag %d has no columnar form", v.T))
		}
		if err != nil {
			r.truncate(i)
			return err
		}
	}
	cb.b.N++
	return nil
}

// appendKey appends the decoded key values (r.keyVals; NULL without a key) to the key columns at row i.
func (r *run) appendKey(rec *kgo.Record, i int) error {
	c := r.s.cfg
	for j, col := range r.cols.keyCols {
		v := types.NullValue
		if rec.Key != nil {
			v = r.keyVals[j]
		}
		if !col.Append(i, v) {
			r.truncate(i)
			return fmt.Errorf("kafka table '%s': record at topic '%s' partition %d offset %d: key column '%s': a value of tag %d has no columnar form",
				c.table.Name, rec.Topic, rec.Partition, rec.Offset, c.table.PhysicalColumns()[c.keyIdx[j]].Name, v.T)
		}
	}
	return nil
}

// truncate undoes a row the columnar path could not finish.
func (r *run) truncate(n int) {
	for _, c := range r.cols.b.Cols {
		c.Truncate(n)
	}
}

// copiesRecords reports whether the rows the run pushes keep no reference into its records' bytes: the
// columnar path with typed columns only (strings are copied into the batch's arena; a column of row values
// could keep a slice of a key or a header), the headers' column of copied maps aside. Then the decompressed batches are pooled (source_pool.go).
func (r *run) copiesRecords() bool {
	if r.cols == nil {
		return false
	}
	c := r.s.cfg
	for j, col := range r.cols.b.Cols {
		if !typedCol(col) && !(j >= c.nphys && c.meta[j-c.nphys].key.name == metaHeaders && r.cols.meta[j-c.nphys] != nil) {
			return false // a column of row values, but for the headers a headerArena copies (source_vec_meta.go)
		}
	}
	return true
}

// typedCol reports whether c and its members hold their values in typed storage, not as row values.
func typedCol(c *vec.Col) bool {
	switch c.Kind {
	case vec.Values:
		return false
	case vec.Struct:
		for _, f := range c.Fields {
			if !typedCol(f) {
				return false
			}
		}
	}
	return true
}
