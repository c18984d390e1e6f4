package kafka

import (
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
)

// Encoding in source subtasks for upsert-kafka (connectors.EncodingOutput): a subtask encodes its rows into
// records outside the graph lock as the kafka sink's subtasks do (a -U or -D row into a tombstone), and Write
// hands them to the sink's upsert rules under the lock — a -U dropped when the +U of its key follows, the
// buffer of 'sink.buffer-flush.*' — exactly as Push does. (Before, upsert-kafka inherited the kafka sink's
// encoder: a changelog input failed with "the kafka sink only writes inserts", and the buffer was bypassed.)

var _ connectors.EncodingOutput = (*upsertOutput)(nil)

// NewSubtaskEncoder returns an encoder for one source subtask.
func (u *upsertOutput) NewSubtaskEncoder() (connectors.SubtaskEncoder, error) {
	e, err := u.output.NewSubtaskEncoder()
	if err != nil {
		return nil, err
	}
	return &upsertSubEncoder{u: u, e: e.(*subEncoder)}, nil
}

type upsertSubEncoder struct {
	u     *upsertOutput
	e     *subEncoder // this subtask's encoders and record slice
	kinds []changelog.Kind
}

func (e *upsertSubEncoder) Encode(b *changelog.Batch) error {
	e.kinds = e.kinds[:0]
	return e.e.encode(b, &e.kinds)
}

func (e *upsertSubEncoder) Write() error {
	u := e.u
	if err := u.failure(); err != nil {
		e.e.release()
		return err
	}
	return u.w0.placeAll(e.kinds, e.e)
}
