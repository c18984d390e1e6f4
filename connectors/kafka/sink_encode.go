package kafka

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
)

// Encoding in source subtasks (connectors.EncodingOutput): a subtask encodes its rows into records with
// encoders of its own (formats keep buffers) outside the graph lock; Write hands them to the producer under
// the lock, as Push would. The engine takes this path for a buffered upsert-kafka sink only (and when a test
// turns the concurrent path off): kafka and unbuffered upsert-kafka sinks are written by the subtasks
// themselves (sink_concurrent.go).

var _ connectors.EncodingOutput = (*output)(nil)

// NewSubtaskEncoder returns an encoder for one source subtask.
func (o *output) NewSubtaskEncoder() (connectors.SubtaskEncoder, error) {
	sh, err := o.shadow() // sink_concurrent.go
	if err != nil {
		return nil, err
	}
	return &subEncoder{o: o, sh: sh}, nil
}

type subEncoder struct {
	o    *output // the sink: its pool, producer and transaction
	sh   *output // this subtask's encoders and buffers (encode only)
	recs []*kgo.Record
}

func (e *subEncoder) Encode(b *changelog.Batch) error { return e.encode(b, nil) }

// encode encodes b into e.recs. With kinds (upsert-kafka) a -U row is written as a tombstone and each row's
// own kind is appended to *kinds for the sink's upsert rules; without, only the changelog formats take
// non-insert rows.
func (e *subEncoder) encode(b *changelog.Batch, kinds *[]changelog.Kind) error {
	e.recs = e.recs[:0]
	c := e.sh.s.cfg
	now := time.Now() // stampRecord
	for i := range b.Rows {
		row := &b.Rows[i]
		kind := row.Kind
		if kinds != nil {
			if kind == changelog.UpdateBefore {
				kind = changelog.Delete
			}
			*kinds = append(*kinds, row.Kind)
		} else if kind != changelog.Insert && e.sh.changelogEnc == nil {
			e.release()
			return fmt.Errorf("kafka table '%s': the kafka sink only writes inserts, got a %s row; use 'upsert-kafka' for updating results", c.table.Name, row.Kind)
		}
		rec := e.o.getRecord()
		if err := e.sh.encode(kind, row.Vals, rec); err != nil {
			e.o.recycle(rec)
			e.release()
			return err
		}
		stampRecord(rec, now)
		e.recs = append(e.recs, rec)
	}
	return nil
}

// release returns the records of a failed Encode to the pool.
func (e *subEncoder) release() {
	for _, r := range e.recs {
		e.o.recycle(r)
	}
	e.recs = e.recs[:0]
}

func (e *subEncoder) Write() error {
	o := e.o
	if err := o.failure(); err != nil {
		e.release()
		return err
	}
	return o.w0.placeAll(nil, e)
}
