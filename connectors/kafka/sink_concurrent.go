package kafka

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// Kafka sinks written by the subtasks (connectors.ConcurrentOutput). A kafka or unbuffered upsert-kafka sink
// gives every subtask that feeds it (source subtasks of a forward chain, keyed subtasks behind an exchange) a
// writer of its own: the writer encodes rows with encoders and buffers of its own and hands the records to
// its producer itself, without the engine's graph lock (franz-go's client takes concurrent Produce calls,
// and keeps the order of one caller's records per partition). The sink's own Push is writer 0 of the same
// code (output.w0). Shared are only the record pool, the delivery counters and the first lost record (the
// promise), and, at-least-once and 'none', the sink's client. Exactly-once, every writer has a
// transactional producer of its own, opened at its first record after a checkpoint (txn.go,
// txn_writer.go). The engine never runs PreCommit, End or Abort while a writer pushes, so PreCommit's flush
// sees every record of every writer before the checkpoint's cut and the writers' transactions hold exactly
// those.
//
// upsert-kafka: a writer turns a -U row into a tombstone that it holds until its next row shows whether the
// +U of the same key follows (then it is dropped), as the sink's own Push does; PreCommit, End and Abort take
// care of the writers' held tombstones. Every change of a key comes from one subtask (the keyed subtask that
// owns its key group), so it is produced by one writer, in order. A buffered upsert-kafka sink
// ('sink.buffer-flush.*') gives every writer a buffer of its own keys' last changes (upsert_buffer.go, as
// each Flink sink subtask reduces its own): the writer flushes it when it holds max-rows keys, the sink's
// interval timer flushes every writer's, and PreCommit and End write each writer's held tombstone into its
// buffer and flush it. 'sink.partitioner' = 'fixed': writer i writes partition i % <partitions> (newWriter).

var (
	_ connectors.ConcurrentOutput = (*concurrentOutput)(nil)
	_ connectors.ConcurrentOutput = (*concurrentUpsert)(nil)
)

// writersOpened counts the subtask writers opened (tests check that a job took this path).
var writersOpened atomic.Int64

// concurrentOutput is a kafka sink output that subtasks write.
type concurrentOutput struct{ *output }

// concurrentUpsert is an unbuffered upsert-kafka sink output that subtasks write.
type concurrentUpsert struct{ *upsertOutput }

// NewSubtaskWriter returns the writer of one subtask.
func (c *concurrentOutput) NewSubtaskWriter(i int) (connectors.SubtaskWriter, error) {
	return c.newWriter(i, false, 0)
}

// NewSubtaskWriter returns the writer of one subtask.
func (c *concurrentUpsert) NewSubtaskWriter(i int) (connectors.SubtaskWriter, error) {
	bufRows := 0
	if c.buffered() {
		bufRows = c.maxRows
	}
	return c.newWriter(i, true, bufRows)
}

// concurrent returns o as an output that subtasks write, when its sink can be: every sink with fresh
// encoders.
func concurrent(o *output) changelog.Output {
	if o.s.fresh == nil {
		return o
	}
	return &concurrentOutput{o}
}

func concurrentUpsertOf(u *upsertOutput) changelog.Output {
	if u.s.fresh == nil {
		return u
	}
	return &concurrentUpsert{u}
}

// shadow returns an output with the table's encoders and buffers of its own, for one subtask's encoding
// (encode only: its producer, pool and transaction are o's).
func (o *output) shadow() (*output, error) {
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
	return sh, nil
}

// producer returns the client that the writer's records go to: the sink's, or (exactly-once) the producer
// of the writer's open transaction, which its first record after a checkpoint opens (txn_writer.go).
func (w *subWriter) producer() (*kgo.Client, error) {
	if w.cl == nil {
		if err := w.o.beginTxn(w); err != nil {
			return nil, err
		}
	}
	return w.cl, nil
}

// subWriter writes the rows of one subtask, or (writer 0, output.w0) the rows that the sink's own Push is
// given: one implementation for both paths.
type subWriter struct {
	o       *output // the sink: pool, producer, transaction, delivery failures
	sh      *output // this writer's encoders and buffers (o itself for writer 0)
	upsert  bool
	pending *kgo.Record // upsert: the tombstone of a -U row, until the next row shows whether its +U follows
	// kb is a buffered upsert-kafka sink's buffer of this writer's keys (upsert_buffer.go), nil otherwise;
	// its mu guards it and pending against the sink's interval flusher, PreCommit and End.
	kb *keyBuffer

	// cl is the producer the writer's records go to: the sink's client, or (exactly-once) the producer of the
	// writer's open transaction, nil until its first record after a checkpoint opens one (txn_writer.go).
	cl *kgo.Client
	// Exactly-once: idx is the writer's transactional index ('<prefix>-<idx>-<n>'; -1: writer 0 before its
	// first transaction), next the number of its next transaction (0: not known yet), seq the open one's.
	idx       int
	next, seq int64
}

// newWriter returns the writer of subtask i. With 'sink.partitioner' = 'fixed' its records go to partition
// i % <partitions of the topic> (Flink's FlinkFixedPartitioner: the sink subtask's index), looked up through
// the sink's client once per topic (fixedPartition).
// bufRows > 0: the writer buffers the last change of each key, up to bufRows keys (upsert-kafka).
func (o *output) newWriter(i int, upsert bool, bufRows int) (*subWriter, error) {
	sh, err := o.shadow()
	if err != nil {
		return nil, err
	}
	sh.task, sh.base, sh.ctx = i, o.base, o.ctx
	w := &subWriter{o: o, sh: sh, upsert: upsert, idx: -1}
	if o.tx == nil {
		w.cl = o.base // a client per writer did not lower the CPU per record nor raise P=2 throughput measurably
	}
	if bufRows > 0 {
		w.kb = newKeyBuffer(bufRows)
	}
	o.txMu.Lock()
	o.claimIndexLocked(w, i)
	o.writers = append(o.writers, w)
	o.txMu.Unlock()
	writersOpened.Add(1)
	return w, nil
}

// addWriter0 makes writer 0, the writer of the sink's own Push, with the sink's encoders.
func (o *output) addWriter0() {
	o.w0 = &subWriter{o: o, sh: o, upsert: o.s.cfg.upsert, idx: -1}
	if o.tx == nil {
		o.w0.cl = o.base
	}
	o.writers = append(o.writers[:0], o.w0)
}

// Push encodes every row of b as a record and produces it (upsert: a -U row's tombstone is held, see
// place). It returns the first delivery failure seen so far (at-least-once, exactly-once).
func (w *subWriter) Push(b *changelog.Batch) error {
	o := w.o
	if err := o.failure(); err != nil {
		return err
	}
	if len(b.Rows) == 0 {
		return nil
	}
	cl, err := w.producer()
	if err != nil {
		return err
	}
	now := time.Now() // stampRecord
	if w.kb != nil {
		w.kb.mu.Lock()
		defer w.kb.mu.Unlock()
	}
	for i := range b.Rows {
		row := &b.Rows[i]
		kind := row.Kind
		if w.upsert {
			if kind == changelog.UpdateBefore {
				kind = changelog.Delete
			}
		} else if kind != changelog.Insert && w.sh.changelogEnc == nil {
			return fmt.Errorf("kafka table '%s': the kafka sink only writes inserts, got a %s row; use 'upsert-kafka' for updating results", o.s.cfg.table.Name, row.Kind)
		}
		rec := o.getRecord()
		if err := w.sh.encode(kind, row.Vals, rec); err != nil {
			o.recycle(rec)
			return err
		}
		stampRecord(rec, now)
		if w.upsert {
			w.place(cl, row.Kind, rec)
			continue
		}
		cl.Produce(o.ctx, rec, o.promise)
	}
	return nil
}

// place produces the record of a row of kind k, after the held tombstone unless rec is the +U of its key.
// A -U row's tombstone waits until the next row shows whether the +U of its key follows (then it is
// dropped); otherwise its key was retracted without a replacement and the tombstone is written.
func (w *subWriter) place(cl *kgo.Client, k changelog.Kind, rec *kgo.Record) {
	o := w.o
	if p := w.pending; p != nil {
		w.pending = nil
		if k == changelog.UpdateAfter && bytes.Equal(p.Key, rec.Key) {
			o.recycle(p)
		} else {
			w.produce(cl, p)
		}
	}
	if k == changelog.UpdateBefore {
		w.pending = rec
		return
	}
	w.produce(cl, rec)
}

// produce hands rec to the producer, or to the writer's buffer (which flushes itself when full).
func (w *subWriter) produce(cl *kgo.Client, rec *kgo.Record) {
	if w.kb != nil {
		w.kb.addLocked(w, rec)
		return
	}
	cl.Produce(w.o.ctx, rec, w.o.promise)
}

// placeAll produces the records that a subtask encoder encoded (sink_encode.go) through the writer, as its
// Push would: with kinds (upsert-kafka) each record is placed as the row of its kind. The encoder's records
// are handed over (or returned to the pool on failure).
func (w *subWriter) placeAll(kinds []changelog.Kind, e *subEncoder) error {
	if len(e.recs) == 0 {
		return nil
	}
	cl, err := w.producer()
	if err != nil {
		e.release()
		return err
	}
	if w.kb != nil {
		w.kb.mu.Lock()
		defer w.kb.mu.Unlock()
	}
	for i, rec := range e.recs {
		if kinds != nil {
			w.place(cl, kinds[i], rec)
		} else {
			w.produce(cl, rec)
		}
		e.recs[i] = nil
	}
	e.recs = e.recs[:0]
	return nil
}

// writeHeldOne produces the writer's held tombstone, then what its buffer holds (the tombstone after its
// key's buffered change).
func (w *subWriter) writeHeldOne() error {
	if w.pending == nil && w.kb == nil {
		return nil
	}
	if w.kb != nil {
		w.kb.mu.Lock()
		defer w.kb.mu.Unlock()
	}
	if w.pending == nil && len(w.kb.buf) == 0 {
		return nil
	}
	cl, err := w.producer()
	if err != nil {
		return err
	}
	if w.pending != nil {
		w.produce(cl, w.pending)
		w.pending = nil
	}
	if w.kb != nil {
		w.kb.flushLocked(w)
	}
	return nil
}

// writerList returns the subtask writers (the interval flusher reads it while writers may still be made).
func (o *output) writerList() []*subWriter {
	o.txMu.Lock()
	defer o.txMu.Unlock()
	return o.writers
}

// writeHeld produces the tombstones that writers hold (writer 0's included), then what their buffers hold
// (PreCommit, End: no writer pushes meanwhile).
func (o *output) writeHeld() error {
	for _, w := range o.writerList() {
		if err := w.writeHeldOne(); err != nil {
			return err
		}
	}
	return nil
}

// dropHeld returns the tombstones and buffered records that writers hold to the pool (Abort).
func (o *output) dropHeld() {
	for _, w := range o.writerList() {
		if w.kb != nil {
			w.kb.mu.Lock()
		}
		if w.pending != nil {
			o.recycle(w.pending)
			w.pending = nil
		}
		if w.kb != nil {
			w.kb.dropLocked(o)
			w.kb.mu.Unlock()
		}
	}
}

// recycle returns a record that was never produced to the pool.
func (o *output) recycle(r *kgo.Record) {
	key, val, hdr := r.Key, r.Value, r.Headers
	*r = kgo.Record{Key: key[:0], Value: val[:0], Headers: hdr[:0]}
	o.pool.Put(r)
}
