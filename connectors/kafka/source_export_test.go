package kafka

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
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
