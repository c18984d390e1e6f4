package kafka

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// upsertIdentifier is the 'connector' value of upsert-kafka tables.
const upsertIdentifier = "upsert-kafka"

// UpsertFactory is the upsert-kafka connector factory (REFERENCE.md's upsert-kafka table): a table with a
// PRIMARY KEY kept in a (usually compacted) topic. The source reads the topic from its earliest offset as an
// upsert changelog (a record with a value upserts its key, a null value deletes it); the sink writes +I/+U
// rows as records keyed by the primary key, -D rows as tombstones, and drops -U rows.
//
// It shares the kafka connector's options, client properties, formats, metadata columns, source loop and
// producer; only the key (the primary key), the kinds and the buffering differ.
type UpsertFactory struct {
	connectTimeout time.Duration
}

// NewUpsertFactory returns the upsert-kafka factory. It takes the kafka factory's options (WithConnectTimeout).
func NewUpsertFactory(opts ...Option) *UpsertFactory {
	f := NewFactory(opts...)
	return &UpsertFactory{connectTimeout: f.connectTimeout}
}

var (
	_ connectors.SourceFactory  = (*UpsertFactory)(nil)
	_ connectors.SinkFactory    = (*UpsertFactory)(nil)
	_ connectors.MetadataReader = (*UpsertFactory)(nil)
	_ connectors.MetadataWriter = (*UpsertFactory)(nil)
)

// Option declarations of upsert-kafka that kafka does not share.
var (
	UpsertTopic = options.String("topic").Required().
			Desc("The topic to read from and write to (one topic).")
	UpsertKeyFormat = options.String("key.format").Required().
			Desc("Format of the record key, which holds the PRIMARY KEY columns.")
	UpsertValueFormat = options.String("value.format").Required().
				Desc("Format of the record value; it must be an insert-only format (not a changelog format such as debezium-json).")
	BufferFlushMaxRows = options.Int("sink.buffer-flush.max-rows").Default(0).
				Desc("Buffer up to this many keys and write only the last change of each key; needs 'sink.buffer-flush.interval'. 0 disables buffering.")
	BufferFlushInterval = options.Duration("sink.buffer-flush.interval").Default(0).
				Desc("Write the buffered changes at least this often; needs 'sink.buffer-flush.max-rows'. 0 disables buffering.")
)

func (*UpsertFactory) Identifier() string { return upsertIdentifier }

// Options are REFERENCE.md's upsert-kafka options, plus the kafka source's bounded modes (scan.bounded.*),
// so that an upsert-kafka table can be read in batch mode, and 'scan.watermark.idle-timeout' (Flink's
// FLIP-296 option of sources that take the watermark: the table's WATERMARK runs per partition in the source,
// below the ChangelogNormalize).
func (*UpsertFactory) Options() []options.Decl {
	return options.Decls(UpsertTopic, Properties, UpsertKeyFormat, KeyFieldsPrefix, UpsertValueFormat, ValueFieldsInclude,
		BoundedMode, BoundedSpecificOffsets, BoundedTimestampMillis, ScanParallelism, SinkParallelism, BufferFlushMaxRows, BufferFlushInterval, WatermarkIdleTimeout)
}

// ReadableMetadata is the kafka source's metadata.
func (*UpsertFactory) ReadableMetadata() map[string]types.Type {
	return metadataMap(false, upsertIdentifier)
}

// WritableMetadata is 'headers' and 'timestamp' (the topic is the table's).
func (*UpsertFactory) WritableMetadata() map[string]types.Type {
	return metadataMap(true, upsertIdentifier)
}

// upsertKeyFields returns the table's primary key, the key fields of an upsert-kafka table, refusing a table
// without one and the option 'key.fields'.
func upsertKeyFields(t *catalog.Table, opts map[string]string) ([]string, error) {
	if _, ok := opts["key.fields"]; ok {
		return nil, &options.Error{Keys: []string{"key.fields"},
			Msg: fmt.Sprintf("Unsupported option 'key.fields' for the upsert-kafka table '%s': the record key is the table's PRIMARY KEY. Remove 'key.fields' and declare e.g. PRIMARY KEY (id) NOT ENFORCED.", t.Name)}
	}
	if len(t.PrimaryKey) == 0 {
		var cols []string
		for _, c := range t.PhysicalColumns() {
			cols = append(cols, c.Name)
		}
		example := "id"
		if len(cols) > 0 {
			example = cols[0]
		}
		return nil, &options.Error{
			Msg: fmt.Sprintf("'upsert-kafka' tables require to define a PRIMARY KEY constraint. The PRIMARY KEY specifies which columns should be read from or write to the Kafka message key. The PRIMARY KEY also defines records in the 'upsert-kafka' table should update or delete on which keys. Add it to table '%s' after its columns, e.g. PRIMARY KEY (%s) NOT ENFORCED.",
				t.Name, example)}
	}
	for _, k := range t.PrimaryKey {
		col, _ := t.Column(k)
		if col == nil || col.Kind != sql.PhysicalColumn {
			return nil, &options.Error{
				Msg: fmt.Sprintf("PRIMARY KEY column '%s' of the upsert-kafka table '%s' must be a physical column: the key is read from and written to the Kafka record key.", k, t.Name)}
		}
	}
	return t.PrimaryKey, nil
}

// checkInsertOnlyFormats refuses changelog formats, whose rows carry their own kinds, for an upsert table:
// there the kind comes from the presence of the value.
func checkInsertOnlyFormats(c *tableConfig) error {
	_, dec := c.value.Decoder.(formats.ChangelogDecoder)
	_, enc := c.value.Encoder.(formats.ChangelogEncoder)
	if dec || enc {
		return &options.Error{Keys: []string{"value.format"},
			Msg: fmt.Sprintf("'upsert-kafka' connector doesn't support '%s' as value format, because '%s' is not in insert-only mode. Use an insert-only format such as 'json', 'avro' or 'raw'.",
				c.value.Identifier, c.value.Identifier)}
	}
	return nil
}

// pkPositions is the primary key as positions of the source's rows (physical columns first, so the
// physical column index).
func (c *tableConfig) pkPositions() []int { return append([]int(nil), c.keyIdx...) }

// CreateSource validates the table and returns an upsert source reading the topic from its earliest offset.
func (f *UpsertFactory) CreateSource(ctx connectors.Context) (connectors.Source, error) {
	c, err := buildTableConfig(f, f.connectTimeout, ctx, false, true)
	if err != nil {
		return nil, err
	}
	topic, err := upsertTopic(c)
	if err != nil {
		return nil, err
	}
	s := &source{cfg: c, stderr: ctx.StderrWriter(), topics: []string{topic}, start: offsetSpec{mode: modeEarliest},
		discovery: DiscoveryInterval.Get(nil)}
	s.fresh = func() (*tableConfig, error) { return buildTableConfig(f, f.connectTimeout, ctx, false, true) }
	if err := checkScanParallelism(c.r); err != nil {
		return nil, err
	}
	if s.stop, err = parseStop(c.r, c.client); err != nil {
		return nil, err
	}
	if err := checkIdleTimeout(c); err != nil {
		return nil, err
	}
	return s, nil
}

func upsertTopic(c *tableConfig) (string, error) {
	topic := strings.TrimSpace(UpsertTopic.Get(c.r))
	if topic == "" || strings.Contains(topic, ";") {
		return "", &options.Error{Keys: []string{"topic"},
			Msg: fmt.Sprintf("Invalid value for option 'topic': '%s'. An upsert-kafka table reads and writes exactly one topic.", topic)}
	}
	return topic, nil
}

// CreateSink validates the table and returns a sink writing the changelog as upserts and tombstones.
func (f *UpsertFactory) CreateSink(ctx connectors.Context) (connectors.Sink, error) {
	c, err := buildTableConfig(f, f.connectTimeout, ctx, true, true)
	if err != nil {
		return nil, err
	}
	topic, err := upsertTopic(c)
	if err != nil {
		return nil, err
	}
	if n, ok := SinkParallelism.Lookup(c.r); ok && n < 1 {
		return nil, &options.Error{Keys: []string{SinkParallelism.Key()},
			Msg: fmt.Sprintf("Invalid value for option 'sink.parallelism': '%d' must be positive", n)}
	}
	rows, interval := BufferFlushMaxRows.Get(c.r), BufferFlushInterval.Get(c.r)
	switch {
	case rows < 0:
		return nil, &options.Error{Keys: []string{BufferFlushMaxRows.Key()},
			Msg: fmt.Sprintf("Invalid value for option 'sink.buffer-flush.max-rows': '%d' must not be negative", rows)}
	case interval < 0:
		return nil, &options.Error{Keys: []string{BufferFlushInterval.Key()},
			Msg: fmt.Sprintf("Invalid value for option 'sink.buffer-flush.interval': '%s' must not be negative", options.FormatDuration(interval))}
	case (rows > 0) != (interval > 0):
		return nil, &options.Error{Keys: []string{BufferFlushMaxRows.Key(), BufferFlushInterval.Key()},
			Msg: "'sink.buffer-flush.max-rows' and 'sink.buffer-flush.interval' must be set to be greater than zero together to enable sink buffer flushing."}
	}
	s := &sink{cfg: c, stderr: ctx.StderrWriter(), topics: []string{topic}, topicMeta: -1, partitioner: "default",
		guarantee: guaranteeAtLeastOnce}
	s.fresh = func() (*tableConfig, error) { return buildTableConfig(f, f.connectTimeout, ctx, true, true) }
	return &upsertSink{sink: s, maxRows: rows, interval: interval}, nil
}

// upsertSink is the upsert-kafka sink: it accepts every kind.
type upsertSink struct {
	*sink
	maxRows  int
	interval time.Duration
}

var _ connectors.Sink = (*upsertSink)(nil)

// Accepts is every kind: +I/+U become records, -D tombstones, -U is dropped.
func (s *upsertSink) Accepts() changelog.KindSet { return changelog.AllKinds.Kinds }
