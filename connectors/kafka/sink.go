package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// defaultDeliveryTimeout is Kafka's delivery.timeout.ms default. Sluice uses it to bound the final flush of a
// sink, and the wait of a cancelled job for records stuck in the producer.
const defaultDeliveryTimeout = 2 * time.Minute

// sink writes a kafka table.
type sink struct {
	cfg         *tableConfig
	stderr      io.Writer
	topics      []string // from 'topic'; the first is the default
	topicMeta   int      // index in cfg.meta of the writable topic column, -1 without
	partitioner string
	guarantee   string
	txnPrefix   string // exactly-once: 'sink.transactional-id-prefix'
	// fresh builds the table's config again, with encoders of its own (sink_encode.go); nil: no subtask encoders.
	fresh func() (*tableConfig, error)
}

var (
	_ connectors.Sink                  = (*sink)(nil)
	_ connectors.CheckpointedSink      = (*output)(nil)
	_ interface{ UpdateHint() string } = (*sink)(nil)
)

// Open connects to the brokers (failing after a bounded wait when none is reachable) and returns the output.
func (s *sink) Open(ctx context.Context) (changelog.Output, error) {
	o, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	return concurrent(o), nil // subtasks write it (sink_concurrent.go)
}

func (s *sink) open(ctx context.Context) (*output, error) {
	c := s.cfg
	cl, err := c.newClient(s.producerOpts()...)
	if err != nil {
		return nil, err
	}
	if err := c.waitReachable(ctx, cl); err != nil {
		cl.Close()
		return nil, err
	}
	// Records outlive a cancelled job until End's final flush, so they do not carry its cancellation; they are
	// failed when the job was cancelled and the delivery timeout passed since, or the grace after an Interrupt.
	pctx, pcancel := context.WithCancel(context.WithoutCancel(ctx))
	o := &output{s: s, base: cl, jobCtx: ctx, ctx: pctx, cancel: pcancel}
	o.intr, o.intrCancel = context.WithCancel(context.Background())
	// The records' context ends with the grace after an Interrupt too: a Produce blocked on a full buffer
	// (a Push) returns then, failing its record, and the records not sent yet are failed (sink_interrupt.go).
	context.AfterFunc(o.intr, pcancel)
	if s.guarantee == guaranteeExactlyOnce {
		// Records go to the producer of each writer's open transaction, opened by its first record.
		o.tx = &txns{prefix: s.txnPrefix, timeout: s.txnTimeoutOrDefault()}
	}
	o.changelogEnc, _ = s.cfg.value.Encoder.(formats.ChangelogEncoder)
	o.stopAfter = context.AfterFunc(ctx, func() { time.AfterFunc(c.client.deliveryTimeout, pcancel) })
	o.promise = o.delivered
	if c.key != nil {
		o.keyVals = make([]types.Value, len(c.keyIdx))
	}
	o.valVals = make([]types.Value, len(c.valIdx))
	if len(s.topics) > 0 {
		o.topic = s.topics[0]
	}
	o.addWriter0()
	return o, nil
}

// producerOpts are the options of the sink's producers: the partitioner, then the user's properties.
func (s *sink) producerOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.AllowAutoTopicCreation(), // the Java producer's default
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	}
	switch s.partitioner {
	case "fixed":
		// Flink's FlinkFixedPartitioner: sink instance i writes to partition i % n (the subtask writers,
		// sink_concurrent.go; a batch sink stage's tasks, sink_tasks.go; the sink's own Push: 0).
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	case "round-robin":
		opts = append(opts, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	default:
		// Kafka's Java client: murmur2 of the key bytes, sticky partitions for records without a key.
		opts = append(opts, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	}
	return append(opts, s.cfg.client.producer...) // user properties win over the defaults above
}

// txnTimeoutOrDefault is 'properties.transaction.timeout.ms', or defaultTxnTimeout.
func (s *sink) txnTimeoutOrDefault() time.Duration {
	if d := s.cfg.client.txnTimeout; d > 0 {
		return d
	}
	return defaultTxnTimeout
}

// output is the open sink.
type output struct {
	s *sink
	// base is the client made by Open, without transactional id: the writers' producer unless exactly-once
	// gives each a transactional one (txn_writer.go).
	base      *kgo.Client
	tx        *txns           // exactly-once only
	jobCtx    context.Context // Open's context: done when the job was cancelled
	ctx       context.Context
	cancel    context.CancelFunc
	stopAfter func() bool
	topic     string
	keyVals   []types.Value
	valVals   []types.Value
	promise   func(*kgo.Record, error)
	pool      sync.Pool // *kgo.Record, with their key, value and header buffers
	// changelogEnc is set when the value format is a changelog format (debezium-json): rows of every kind
	// are written, each with its kind.
	changelogEnc formats.ChangelogEncoder
	task         int            // the batch sink task writing through it (sink_tasks.go); 0 otherwise
	parts        map[string]int // 'fixed' in a task above 0: the partitions of each topic written

	// intr is done once the grace after Interrupt has passed (sink_interrupt.go): every wait on the brokers
	// ends then. nil: never.
	intr       context.Context
	intrCancel context.CancelFunc
	intrOnce   sync.Once

	// w0 is writer 0: it writes the rows of the sink's own Push (and of its subtask encoders, which write
	// under the graph lock); the subtasks' writers follow it in writers (sink_concurrent.go).
	w0 *subWriter
	// txMu guards writers and their transactional indices (sink_concurrent.go, txn_writer.go).
	txMu    sync.Mutex
	writers []*subWriter

	mu      sync.Mutex
	err     error // at-least-once: the first lost record
	intrErr error // the first record failed by the grace after an Interrupt (End returns it, Push does not)
	lost    atomic.Int64
	written atomic.Int64
	ended   bool
}

func (o *output) getRecord() *kgo.Record {
	if r, ok := o.pool.Get().(*kgo.Record); ok {
		return r
	}
	return &kgo.Record{}
}

func (o *output) delivered(r *kgo.Record, err error) {
	if err != nil {
		o.lost.Add(1)
		e := fmt.Errorf("kafka table '%s': write a record to topic '%s' partition %d: %w", o.s.cfg.table.Name, r.Topic, r.Partition, err)
		ierr := o.interrupted(fmt.Sprintf("write of a record to topic '%s' partition %d", r.Topic, r.Partition))
		if ierr != nil && errors.Is(err, context.Canceled) {
			e = ierr // the grace after an Interrupt passed (sink_interrupt.go)
		} else {
			ierr = nil
		}
		switch {
		case o.s.guarantee == guaranteeNone:
			if o.lost.Load() <= maxWarnings {
				fmt.Fprintf(o.s.stderr, "WARN %s (sink.delivery-guarantee is 'none': the record is lost)\n", e.Error())
			}
		case ierr != nil:
			// The job's cancel or failure failed it, not the brokers: End reports it, Push does not (a
			// cancelled job ends CANCELLED, a failed one with its own error).
			o.mu.Lock()
			if o.intrErr == nil {
				o.intrErr = e
			}
			o.mu.Unlock()
		default:
			o.mu.Lock()
			if o.err == nil {
				o.err = e
			}
			o.mu.Unlock()
		}
	} else {
		o.written.Add(1)
	}
	key, val, hdr := r.Key, r.Value, r.Headers
	*r = kgo.Record{Key: key[:0], Value: val[:0], Headers: hdr[:0]}
	o.pool.Put(r)
}

func (o *output) failure() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// Push writes b through writer 0 (sink_concurrent.go), the writer of the sink's own rows: every row is one
// record (upsert-kafka: see subWriter.place). It returns the first delivery failure seen so far
// (at-least-once).
func (o *output) Push(b *changelog.Batch) error { return o.w0.Push(b) }

func (o *output) encode(kind changelog.Kind, vals []types.Value, rec *kgo.Record) error {
	s := o.s
	c := s.cfg
	rec.Topic = o.topic
	if c.key != nil {
		for j, pi := range c.keyIdx {
			o.keyVals[j] = vals[pi]
		}
		k, err := c.key.Encoder.Encode(rec.Key[:0], o.keyVals)
		if err != nil {
			return encodeError(c.table.Name, "key", err)
		}
		rec.Key = k
	} else {
		rec.Key = nil
	}
	if c.upsert {
		if rec.Key == nil {
			return fmt.Errorf("kafka table '%s': the PRIMARY KEY of a %s row encodes to a null record key in format '%s', which cannot be an upsert-kafka key (primary key columns must not be NULL)",
				c.table.Name, kind, c.key.Identifier)
		}
		if kind == changelog.Delete {
			// A tombstone: the key and a null value (never an encoded "null").
			rec.Value = nil
			o.writeMetadata(vals, rec)
			return nil
		}
	}
	for j, pi := range c.valIdx {
		o.valVals[j] = vals[pi]
	}
	var v []byte
	var err error
	if o.changelogEnc != nil {
		v, err = o.changelogEnc.EncodeChangelog(rec.Value[:0], kind, o.valVals)
	} else {
		v, err = c.value.Encoder.Encode(rec.Value[:0], o.valVals)
	}
	if err != nil {
		return encodeError(c.table.Name, "value", err)
	}
	if c.upsert && v == nil {
		return fmt.Errorf("kafka table '%s': the value of a %s row encodes to a null record value in format '%s', which upsert-kafka readers would take for a delete of its key (a tombstone); refusing to write it. Make the value column(s) NOT NULL, filter such rows, or use a value format that encodes NULL as a value (e.g. 'json')",
			c.table.Name, kind, c.value.Identifier)
	}
	rec.Value = v
	o.writeMetadata(vals, rec)
	if s.topicMeta >= 0 && len(s.topics) > 0 && rec.Topic != o.topic && !contains(s.topics, rec.Topic) {
		return fmt.Errorf("kafka table '%s': a row names topic '%s' in its 'topic' metadata column, which is not one of the topics of option 'topic' (%s)",
			c.table.Name, rec.Topic, quoteList(s.topics))
	}
	if rec.Topic == "" {
		return fmt.Errorf("kafka table '%s': a row has a NULL 'topic' metadata column and the table has no 'topic' option to fall back to", c.table.Name)
	}
	if s.partitioner == "fixed" {
		p, err := o.fixedPartition(rec.Topic)
		if err != nil {
			return err
		}
		rec.Partition = p
	}
	return nil
}

// writeMetadata sets the record's writable metadata from the row's metadata columns.
func (o *output) writeMetadata(vals []types.Value, rec *kgo.Record) {
	c := o.s.cfg
	for j := range c.meta {
		m := &c.meta[j]
		writeMetadata(m.key.name, vals[c.nphys+j], m.col.Type, rec, c.loc)
	}
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

func encodeError(table, side string, err error) error {
	field := ""
	var fe *formats.RecordError
	if errors.As(err, &fe) && fe.Field != "" {
		field = fmt.Sprintf(" (field '%s')", fe.Field)
	}
	return fmt.Errorf("kafka table '%s': cannot encode the %s of a row%s: %w", table, side, field, err)
}

func (o *output) Watermark(int64) error { return nil }

// producers are the clients that hold the writers' records: the sink's client, or (exactly-once) the
// producers of the writers' open transactions.
func (o *output) producers() []*kgo.Client {
	var cls []*kgo.Client
	if o.tx == nil {
		cls = append(cls, o.base)
	}
	for _, w := range o.writerList() {
		if w.cl != nil && w.cl != o.base {
			cls = append(cls, w.cl)
		}
	}
	return cls
}

// flush waits until the brokers acknowledged every record handed to the producers (every writer's, at once),
// at most 'properties.delivery.timeout.ms', and returns the first delivery failure (at least once).
func (o *output) flush(ctx context.Context) error {
	cls := o.producers()
	d := o.s.cfg.client.deliveryTimeout
	ictx, icancel := o.withInterrupt(ctx)
	defer icancel()
	fctx, cancel := context.WithTimeout(ictx, d)
	defer cancel()
	errs := make([]error, len(cls))
	if len(cls) == 1 {
		errs[0] = cls[0].Flush(fctx)
	} else {
		var wg sync.WaitGroup
		for i, cl := range cls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = cl.Flush(fctx)
			}()
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		if ferr := o.failure(); ferr != nil {
			return ferr
		}
		if ierr := o.interrupted("flush"); ierr != nil && ctx.Err() == nil {
			return ierr
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			n := 0
			for _, cl := range cls {
				n += int(cl.BufferedProduceRecords())
			}
			return fmt.Errorf("kafka table '%s': %d records were not acknowledged by the brokers at '%s' within %s ('properties.delivery.timeout.ms')",
				o.s.cfg.table.Name, n, o.s.cfg.servers(), d)
		}
		return fmt.Errorf("kafka table '%s': flush: %w", o.s.cfg.table.Name, err)
	}
	if err := o.failure(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.intrErr
}

// PreCommit makes everything pushed so far durable. At least once it waits until the brokers acknowledged
// every record (at most 'properties.delivery.timeout.ms') and returns the first lost record as an error;
// 'none' returns at once; exactly-once stages the open transaction (see preCommitTxn) and returns the
// transactions to commit as the checkpoint's state.
func (o *output) PreCommit(ctx context.Context, checkpointID int64) ([]byte, error) {
	switch {
	case o.ended:
		return nil, nil
	case o.tx != nil:
		return o.preCommitTxn(ctx, checkpointID)
	case o.s.guarantee == guaranteeNone:
		return nil, nil
	}
	return nil, o.flush(ctx)
}

// Commit commits the transactions that checkpoints up to checkpointID pre-committed (exactly-once); a no-op
// otherwise, since PreCommit already made the records durable. The checkpoint is complete when Commit runs,
// so its commits finish even when ctx is cancelled meanwhile (commitPending).
func (o *output) Commit(ctx context.Context, checkpointID int64) error {
	if o.tx == nil {
		return nil
	}
	o.tx.cmu.Lock()
	defer o.tx.cmu.Unlock()
	return o.commitPending(ctx, o.tx.takePending(checkpointID))
}

// End flushes every buffered record and closes the producer. At least once, a lost record fails the job.
// Exactly-once, see endTxn.
func (o *output) End() error {
	if o.ended {
		return nil
	}
	o.ended = true
	defer func() {
		o.closeWriters()
		o.base.Close()
		o.stopAfter()
		o.cancel()
		o.releaseInterrupt()
	}()
	if o.tx != nil {
		return o.endTxn()
	}
	if err := o.flush(o.ctx); err != nil {
		return err
	}
	if n := o.lost.Load(); n > 0 && o.s.guarantee == guaranteeNone {
		fmt.Fprintf(o.s.stderr, "WARN kafka table '%s': %d records were lost (sink.delivery-guarantee is 'none')\n", o.s.cfg.table.Name, n)
		return nil
	}
	return nil
}

// stampRecord gives rec the time its batch was written, unless the 'timestamp' metadata column set one:
// franz-go would read the clock once per record (as slow as the encoding of a small record on some VMs);
// the sink reads it once per batch, and the broker gets the same CreateTime to the millisecond.
func stampRecord(rec *kgo.Record, now time.Time) {
	if rec.Timestamp.IsZero() {
		rec.Timestamp = now
	}
}
