package kafka

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/vec"
)

// DecodeRecords decodes recs with src's decoders as its poll loop does (batches of 500 records), pushing
// nothing and needing no broker: the per-record cost of the row path, or of the columnar path when out
// takes columns. It returns the number of rows decoded.
func DecodeRecords(src connectors.Source, recs []*kgo.Record, out changelog.Output) (int, error) {
	s := src.(*source)
	keyDec, valDec, err := s.decoders(0)
	if err != nil {
		return 0, err
	}
	r := &run{s: s, parts: map[topicPartition]*partState{}, keyDec: keyDec, valDec: valDec, nsub: 1}
	r.prepare()
	r.useColumns(out)
	n := 0
	for i, rec := range recs {
		if i%500 == 0 {
			n += r.batchLen()
			r.resetBatch()
		}
		if err := r.decode(rec); err != nil {
			return n, err
		}
	}
	return n + r.batchLen(), nil
}

// DecompressPoolCounts returns how many decompression buffers the sources took from their pool so far, and
// how many of those were buffers of an earlier fetch (source_pool.go).
func DecompressPoolCounts() (gets, reused int64) {
	return fetchBytes.gets.Load(), fetchBytes.reused.Load()
}

// DecodeBothPaths decodes recs with src's decoders on the row path and again on the columnar path (as to an
// output that takes columns, batches of 500 records), returning the rows of each (values copied) and
// whether the columnar path was taken.
func DecodeBothPaths(src connectors.Source, recs []*kgo.Record) (rows, cols []changelog.Row, columnar bool, err error) {
	s := src.(*source)
	for _, columns := range []bool{false, true} {
		keyDec, valDec, err := s.decoders(0)
		if err != nil {
			return nil, nil, false, err
		}
		r := &run{s: s, parts: map[topicPartition]*partState{}, keyDec: keyDec, valDec: valDec, nsub: 1}
		r.prepare()
		if columns {
			r.useColumns(columnsOutput{})
			columnar = r.cols != nil
		}
		var conv vec.RowConv
		flush := func() {
			b := &r.batch
			if r.cols != nil {
				b = conv.Rows(&r.cols.b)
			}
			for _, row := range b.Rows {
				row = changelog.Row{Kind: row.Kind, Vals: changelog.CopyVals(row.Vals)}
				if columns {
					cols = append(cols, row)
				} else {
					rows = append(rows, row)
				}
			}
			r.resetBatch()
		}
		for i, rec := range recs {
			if i%500 == 0 {
				flush()
			}
			if err := r.decode(rec); err != nil {
				return rows, cols, columnar, err
			}
		}
		flush()
	}
	return rows, cols, columnar, nil
}

// columnsOutput is an output that takes columns and drops them.
type columnsOutput struct{}

func (columnsOutput) Push(*changelog.Batch) error  { return nil }
func (columnsOutput) PushColumns(*vec.Batch) error { return nil }
func (columnsOutput) AcceptsColumns() bool         { return true }
func (columnsOutput) Watermark(int64) error        { return nil }
func (columnsOutput) End() error                   { return nil }

// ColumnsRun returns the columnar decoding of src's records (decode one record into the batch; reset
// empties the batch) and whether such a run copies every byte it keeps of its records (copiesRecords, so
// its fetches are pooled); decode is nil when src stays on the row path.
func ColumnsRun(src connectors.Source) (decode func(*kgo.Record) error, reset func(), copies bool, err error) {
	s := src.(*source)
	keyDec, valDec, err := s.decoders(0)
	if err != nil {
		return nil, nil, false, err
	}
	r := &run{s: s, parts: map[topicPartition]*partState{}, keyDec: keyDec, valDec: valDec, nsub: 1}
	r.prepare()
	r.useColumns(columnsOutput{})
	if r.cols == nil {
		return nil, nil, false, nil
	}
	return r.decode, r.resetBatch, r.copiesRecords(), nil
}
