package kafka

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// Scale-out over Kafka (engine/scaleout*.go): the processes of a job form one consumer group and read, decode,
// encode and produce records themselves, in one transaction per commit; this file gives them the kafka
// table's decoding and encoding without the connector's own clients.

// GroupSource is a kafka source table as a scale-out member reads it: the member's group client consumes the
// topics, GroupSource decodes the records.
type GroupSource struct {
	r *run
}

// NewGroupSource returns the scale-out view of src, or an error saying why the table cannot be read by a
// scale-out job: only an insert-only 'kafka' table (not upsert-kafka, not a changelog format), with a
// 'topic' list (not 'topic-pattern'), unbounded, with 'scan.startup.mode' 'earliest-offset' or
// 'group-offsets' (the job's own group's offsets, else the earliest).
func NewGroupSource(src connectors.Source) (*GroupSource, error) {
	return newGroupSource(src, false)
}

// NewGroupChangelogSource is NewGroupSource for a table whose rows may be a changelog: an 'upsert-kafka'
// table (upserts, and deletes from tombstones with NULL value fields) or a 'kafka' table in a changelog
// format (debezium-json, canal-json, maxwell-json). The scale-out member is responsible for the changelog's
// semantics (a temporal join's versioned table: engine/scaleout_temporal_upsert.go).
func NewGroupChangelogSource(src connectors.Source) (*GroupSource, error) {
	return newGroupSource(src, true)
}

func newGroupSource(src connectors.Source, changelogOK bool) (*GroupSource, error) {
	s, ok := src.(*source)
	if !ok {
		return nil, fmt.Errorf("the source is not a 'kafka' table")
	}
	c := s.cfg
	switch {
	case c.upsert && !changelogOK:
		return nil, fmt.Errorf("kafka table '%s' is an 'upsert-kafka' table; scale-out reads insert-only 'kafka' tables", c.table.Name)
	case s.pattern != nil:
		return nil, fmt.Errorf("kafka table '%s' uses 'topic-pattern'; scale-out needs a fixed 'topic' list", c.table.Name)
	case s.stop.mode != modeUnbounded:
		return nil, fmt.Errorf("kafka table '%s' is bounded ('scan.bounded.mode'); scale-out runs unbounded sources only", c.table.Name)
	case s.start.mode != modeEarliest && s.start.mode != modeGroup:
		return nil, fmt.Errorf("kafka table '%s': 'scan.startup.mode' = '%s' is not supported with scale-out: a scale-out job starts from its own consumer group's offsets, else from the earliest offset ('earliest-offset' or 'group-offsets')", c.table.Name, s.start.mode)
	}
	if _, cl := c.value.Decoder.(formats.ChangelogDecoder); cl && !changelogOK {
		return nil, fmt.Errorf("kafka table '%s' has the changelog format '%s'; scale-out reads insert-only formats", c.table.Name, c.value.Identifier)
	}
	keyDec, valDec, err := s.decoders(0)
	if err != nil {
		return nil, err
	}
	r := &run{s: s, parts: map[topicPartition]*partState{}, keyDec: keyDec, valDec: valDec}
	r.prepare()
	return &GroupSource{r: r}, nil
}

// Topics are the table's topics.
func (g *GroupSource) Topics() []string { return append([]string(nil), g.r.s.topics...) }

// Servers is the table's 'properties.bootstrap.servers'.
func (g *GroupSource) Servers() string { return g.r.s.cfg.servers() }

// Table is the source table's name.
func (g *GroupSource) Table() string { return g.r.s.cfg.table.Name }

// ConnKey identifies the table's connection: its brokers and its security options ('properties.security.*',
// 'properties.sasl.*', 'properties.ssl.*'). Tables with the same key can be read by one client.
func (g *GroupSource) ConnKey() string {
	var kv []string
	for k, v := range g.r.s.cfg.table.Options {
		for _, p := range []string{"properties.security.", "properties.sasl.", "properties.ssl."} {
			if strings.HasPrefix(k, p) {
				kv = append(kv, k+"="+v)
			}
		}
	}
	sort.Strings(kv)
	return g.Servers() + "\x00" + strings.Join(kv, "\x00")
}

// ClientOpts are the table's connection options (brokers, security, metadata).
func (g *GroupSource) ClientOpts() []kgo.Opt {
	return append([]kgo.Opt(nil), g.r.s.cfg.client.common...)
}

// Decode decodes rec into the returned batch (no row when the record is skipped: a null value, or
// unreadable with 'ignore-parse-errors'). The batch is valid until the next call.
func (g *GroupSource) Decode(rec *kgo.Record) (*changelog.Batch, error) {
	g.r.batch.Reset()
	if err := g.r.record(rec); err != nil {
		return nil, err
	}
	g.r.s.records.Add(int64(g.r.batch.Len()))
	return &g.r.batch, nil
}

// GroupSinkInfo describes a kafka or upsert-kafka sink table for a scale-out job.
type GroupSinkInfo struct {
	Servers     string
	Partitioner kgo.Partitioner // how the table's records are partitioned
	Topics      []string
	// Guarantee is the table's 'sink.delivery-guarantee' as given (GuaranteeKey: the option's key as
	// written, 'sink.semantic' for the deprecated one); both empty when the table does not set it.
	Guarantee, GuaranteeKey string
	// TxnPrefix is 'sink.transactional-id-prefix' of an exactly-once table.
	TxnPrefix string
}

// SinkInfo returns what a scale-out job needs to know of sk, or an error when sk is not a kafka table it
// can write ('sink.buffer-flush.*' of upsert-kafka is refused: the member commits after every batch).
func SinkInfo(sk connectors.Sink) (GroupSinkInfo, error) {
	var s *sink
	switch t := sk.(type) {
	case *sink:
		s = t
	case *upsertSink:
		if t.maxRows > 0 {
			return GroupSinkInfo{}, fmt.Errorf("upsert-kafka table '%s': 'sink.buffer-flush.max-rows' is not supported with scale-out (each transaction writes every change)", t.cfg.table.Name)
		}
		s = t.sink
	default:
		return GroupSinkInfo{}, fmt.Errorf("the sink table is not a 'kafka' or 'upsert-kafka' table")
	}
	var p kgo.Partitioner
	switch s.partitioner {
	case "fixed":
		p = kgo.ManualPartitioner()
	case "round-robin":
		p = kgo.RoundRobinPartitioner()
	default:
		p = kgo.StickyKeyPartitioner(nil)
	}
	info := GroupSinkInfo{Servers: s.cfg.servers(), Partitioner: p, Topics: append([]string(nil), s.topics...), TxnPrefix: s.txnPrefix}
	if g, ok := DeliveryGuarantee.Lookup(s.cfg.r); ok {
		info.Guarantee, info.GuaranteeKey = g, s.cfg.r.Given(DeliveryGuarantee.Key())
	}
	return info, nil
}

// GroupSink is an open sink table whose records go to a scale-out member's transactional client.
type GroupSink struct {
	out    *output
	upsert *upsertOutput // upsert-kafka, else nil
	mu     sync.Mutex
	err    error
}

// OpenGroupSink opens sk writing through cl, the member's transactional client: records are part of the
// member's open transaction. End does not close cl.
func OpenGroupSink(ctx context.Context, sk connectors.Sink, cl *kgo.Client) (*GroupSink, error) {
	var s *sink
	up := false
	switch t := sk.(type) {
	case *sink:
		s = t
	case *upsertSink:
		s, up = t.sink, true
	default:
		return nil, fmt.Errorf("the sink is not a 'kafka' or 'upsert-kafka' table")
	}
	gs := &GroupSink{}
	o := &output{s: s, base: cl, jobCtx: ctx, ctx: ctx, cancel: func() {}, stopAfter: func() bool { return false }}
	o.changelogEnc, _ = s.cfg.value.Encoder.(formats.ChangelogEncoder)
	o.promise = gs.delivered
	if s.cfg.key != nil {
		o.keyVals = make([]types.Value, len(s.cfg.keyIdx))
	}
	o.valVals = make([]types.Value, len(s.cfg.valIdx))
	if len(s.topics) > 0 {
		o.topic = s.topics[0]
	}
	o.addWriter0()
	gs.out = o
	if up {
		gs.upsert = &upsertOutput{output: o}
	}
	return gs, nil
}

func (g *GroupSink) delivered(r *kgo.Record, err error) {
	if err != nil {
		g.mu.Lock()
		if g.err == nil {
			g.err = fmt.Errorf("kafka table '%s': write a record to topic '%s' partition %d: %w", g.out.s.cfg.table.Name, r.Topic, r.Partition, err)
		}
		g.mu.Unlock()
	}
	key, val, hdr := r.Key, r.Value, r.Headers
	*r = kgo.Record{Key: key[:0], Value: val[:0], Headers: hdr[:0]}
	g.out.pool.Put(r)
}

// Push encodes the rows and produces them through the member's client.
func (g *GroupSink) Push(b *changelog.Batch) error {
	if err := g.Err(); err != nil {
		return err
	}
	if g.upsert != nil {
		return g.upsert.Push(b)
	}
	return g.out.Push(b)
}

// Watermark is ignored (as by the kafka sink).
func (g *GroupSink) Watermark(int64) error { return nil }

// End does nothing: the member's transaction ends the records.
func (g *GroupSink) End() error { return nil }

// Finish produces what the sink holds back (upsert-kafka: a trailing -U without its +U, as a tombstone),
// before the member ends its transaction.
func (g *GroupSink) Finish() {
	if g.upsert != nil {
		_ = g.out.w0.writeHeldOne() // no transaction to open: the member's client is the producer
	}
}

// Discard drops what the sink holds back (the member aborts its transaction).
func (g *GroupSink) Discard() {
	if w := g.out.w0; w.pending != nil {
		g.out.recycle(w.pending)
		w.pending = nil
	}
}

// Err is the first failed write.
func (g *GroupSink) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// ResetErr forgets a failed write (after the member aborted the transaction that held it).
func (g *GroupSink) ResetErr() {
	g.mu.Lock()
	g.err = nil
	g.mu.Unlock()
}
