package kafka

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// Encoding in source subtasks (connectors.EncodingOutput): a subtask encodes its rows into records with
// encoders of its own (formats keep buffers) outside the graph lock; Write hands them to the producer under
// the lock, as Push would.

var _ connectors.EncodingOutput = (*output)(nil)

// NewSubtaskEncoder returns an encoder for one source subtask.
func (o *output) NewSubtaskEncoder() (connectors.SubtaskEncoder, error) {
	if o.s.fresh == nil {
		return nil, fmt.Errorf("kafka table '%s': no encoders for subtasks", o.s.cfg.table.Name)
	}
	fc, err := o.s.fresh()
	if err != nil {
		return nil, err
	}
	s := *o.s
	s.cfg = fc
	sh := &output{s: &s, topic: o.topic}
	sh.changelogEnc, _ = fc.value.Encoder.(formats.ChangelogEncoder)
	if fc.key != nil {
		sh.keyVals = make([]types.Value, len(fc.keyIdx))
	}
	sh.valVals = make([]types.Value, len(fc.valIdx))
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
			e.o.pool.Put(rec)
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
		e.o.pool.Put(r)
	}
	e.recs = e.recs[:0]
}

func (e *subEncoder) Write() error {
	o := e.o
	if err := o.failure(); err != nil {
		e.release()
		return err
	}
	if o.cl == nil && len(e.recs) > 0 {
		if err := o.beginTxn(); err != nil {
			e.release()
			return err
		}
	}
	for _, rec := range e.recs {
		o.cl.Produce(o.ctx, rec, o.promise)
	}
	e.recs = e.recs[:0]
	return nil
}
