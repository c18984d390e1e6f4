package kafka

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// Factory is the kafka connector factory. It holds no state besides its test settings.
type Factory struct {
	connectTimeout time.Duration // 0: 'properties.default.api.timeout.ms' or 10 s
}

// Option configures a Factory (for tests and embedding; these are not table options).
type Option func(*Factory)

// WithConnectTimeout bounds the wait for a reachable broker when a source or sink starts, overriding the
// default of 10 s (a table's 'properties.default.api.timeout.ms' still wins).
func WithConnectTimeout(d time.Duration) Option { return func(f *Factory) { f.connectTimeout = d } }

// NewFactory returns the kafka factory.
func NewFactory(opts ...Option) *Factory {
	f := &Factory{}
	for _, o := range opts {
		o(f)
	}
	return f
}

var (
	_ connectors.SourceFactory  = (*Factory)(nil)
	_ connectors.SinkFactory    = (*Factory)(nil)
	_ connectors.MetadataReader = (*Factory)(nil)
	_ connectors.MetadataWriter = (*Factory)(nil)
)

func (*Factory) Identifier() string { return "kafka" }

func (*Factory) Options() []options.Decl { return optionDecls() }

// ReadableMetadata returns the metadata keys a source reads, with their types.
func (*Factory) ReadableMetadata() map[string]types.Type { return metadataMap(false, "kafka") }

// WritableMetadata returns the metadata keys a sink writes, with their types.
func (*Factory) WritableMetadata() map[string]types.Type { return metadataMap(true, "kafka") }

// tableConfig is what source and sink share: the validated options, client properties, the key and value
// projections of the physical columns and their formats.
type tableConfig struct {
	table  *catalog.Table
	r      *options.Resolved
	client *clientConfig
	loc    *time.Location

	nphys     int
	physTypes []types.Type
	keyIdx    []int // physical column index of each key format field
	valIdx    []int // physical column index of each value format field
	key       *formats.Discovered
	value     *formats.Discovered
	meta      []metaColumn

	connector string // "kafka" or "upsert-kafka", for messages
	// upsert: an upsert-kafka table. keyIdx is the primary key; the source turns null values into deletes,
	// the sink writes deletes as tombstones.
	upsert bool
}

// formatErr says which side of the record a format error is about.
func formatErr(side string, err error) error {
	return fmt.Errorf("%s format: %w", side, err)
}

// newTableConfig validates what source and sink have in common. sink selects encoders (sink) or decoders.
func (f *Factory) newTableConfig(ctx connectors.Context, sink bool) (*tableConfig, error) {
	return buildTableConfig(f, f.connectTimeout, ctx, sink, false)
}

// buildTableConfig validates a kafka or (upsert) an upsert-kafka table against decl's options. For
// upsert-kafka the key fields are the primary key and 'key.format' is required.
func buildTableConfig(decl connectors.Factory, connectTimeout time.Duration, ctx connectors.Context, sink, upsert bool) (*tableConfig, error) {
	t := ctx.Table
	opts := ctx.Options
	if opts == nil {
		opts = t.Options
	}
	reg := ctx.Formats
	if reg == nil {
		return nil, fmt.Errorf("%s connector: no format registry in the connector context", decl.Identifier())
	}
	var keyFields []string
	if upsert {
		var err error
		if keyFields, err = upsertKeyFields(t, opts); err != nil {
			return nil, err
		}
	}
	// Discover the formats first, so that their options are known before the unsupported-option check.
	valueKey := "value.format"
	_, hasFormat := opts["format"]
	_, hasValueFormat := opts["value.format"]
	switch {
	case upsert:
		// 'format' is not an upsert-kafka option: the unsupported-option check reports it.
		hasFormat = false
		if !hasValueFormat {
			return nil, &options.Error{Keys: []string{"value.format"},
				Msg: "One or more required options are missing.\n\nMissing required options are:\n\nvalue.format\n\n(An upsert-kafka table '" + t.Name + "' needs 'key.format' and 'value.format', e.g. 'value.format' = 'json'.)"}
		}
	case hasFormat && hasValueFormat:
		return nil, &options.Error{Keys: []string{"format", "value.format"},
			Msg: "Options 'format' and 'value.format' both name the value format; give only one of them."}
	case hasFormat:
		valueKey = "format"
	case !hasValueFormat:
		return nil, &options.Error{Keys: []string{"value.format"},
			Msg: "Could not find required format option 'value.format' (or 'format') for the kafka table '" + t.Name + "'. Add e.g. 'value.format' = 'json'."}
	}
	var consumed []string
	if d, err := reg.Resolve(opts, valueKey); err != nil {
		return nil, formatErr("value", err)
	} else {
		consumed = append(consumed, d.Consumed...)
	}
	if _, ok := opts["key.format"]; ok {
		d, err := reg.Resolve(opts, "key.format")
		if err != nil {
			return nil, formatErr("key", err)
		}
		consumed = append(consumed, d.Consumed...)
	}
	r, err := connectors.ValidateOptions(decl, opts, consumed...)
	if err != nil {
		return nil, err
	}
	c := &tableConfig{table: t, r: r, connector: decl.Identifier(), upsert: upsert}
	if c.client, err = parseProperties(Properties.Get(r)); err != nil {
		return nil, err
	}
	if connectTimeout > 0 {
		if _, given := Properties.Get(r)["default.api.timeout.ms"]; !given {
			c.client.apiTimeout = connectTimeout
		}
	}
	if c.loc, err = ctx.Location(); err != nil {
		return nil, err
	}

	// Key and value fields.
	phys := t.PhysicalColumns()
	c.nphys = len(phys)
	for _, col := range phys {
		c.physTypes = append(c.physTypes, col.Type)
	}
	_, hasKeyFormat := opts["key.format"]
	if !upsert {
		keyFields = KeyFields.Get(r)
	}
	if upsert && !hasKeyFormat {
		return nil, &options.Error{Keys: []string{"key.format"},
			Msg: "One or more required options are missing.\n\nMissing required options are:\n\nkey.format\n\n(An upsert-kafka table '" + t.Name + "' writes its PRIMARY KEY columns as the record key in 'key.format', e.g. 'key.format' = 'json'.)"}
	}
	if hasKeyFormat && len(keyFields) == 0 {
		return nil, &options.Error{Keys: []string{"key.format", "key.fields"},
			Msg: "A key format 'key.format' requires the declaration of one or more of key fields using 'key.fields'."}
	}
	if !hasKeyFormat && len(keyFields) > 0 {
		return nil, &options.Error{Keys: []string{"key.fields", "key.format"},
			Msg: "The option 'key.fields' can only be declared if a key format is defined using 'key.format'."}
	}
	prefix, hasPrefix := KeyFieldsPrefix.Lookup(r)
	exceptKey := ValueFieldsInclude.Get(r) == "EXCEPT_KEY"
	if hasPrefix && prefix != "" && !exceptKey {
		return nil, &options.Error{Keys: []string{"key.fields-prefix", "value.fields-include"},
			Msg: "A key prefix is not allowed when option 'value.fields-include' is set to 'ALL'. Set it to 'EXCEPT_KEY' instead to avoid field overlaps."}
	}
	var physNames []string
	for _, col := range phys {
		physNames = append(physNames, col.Name)
	}
	isKey := make([]bool, len(phys))
	var keyRow []types.Field
	for _, kf := range keyFields {
		i := indexOf(physNames, kf)
		if i < 0 {
			return nil, &options.Error{Keys: []string{"key.fields"},
				Msg: fmt.Sprintf("Could not find the field '%s' in the table schema for usage in the key format. A key field must be a regular, physical column. The following columns can be selected in the 'key.fields' option:\n[%s]",
					kf, strings.Join(physNames, ", "))}
		}
		if isKey[i] {
			return nil, &options.Error{Keys: []string{"key.fields"}, Msg: fmt.Sprintf("Field '%s' is listed twice in 'key.fields'.", kf)}
		}
		if prefix != "" && !strings.HasPrefix(kf, prefix) && upsert {
			return nil, &options.Error{Keys: []string{"key.fields-prefix"},
				Msg: fmt.Sprintf("All PRIMARY KEY columns must be prefixed with '%s' when option 'key.fields-prefix' is set but column '%s' is not prefixed.", prefix, kf)}
		}
		if prefix != "" && !strings.HasPrefix(kf, prefix) {
			return nil, &options.Error{Keys: []string{"key.fields", "key.fields-prefix"},
				Msg: fmt.Sprintf("All fields in 'key.fields' must be prefixed with '%s' when option 'key.fields-prefix' is set but field '%s' is not prefixed.", prefix, kf)}
		}
		isKey[i] = true
		c.keyIdx = append(c.keyIdx, i)
		keyRow = append(keyRow, types.Field{Name: strings.TrimPrefix(kf, prefix), Type: phys[i].Type})
	}
	var valRow []types.Field
	for i, col := range phys {
		if exceptKey && isKey[i] {
			continue
		}
		c.valIdx = append(c.valIdx, i)
		valRow = append(valRow, types.Field{Name: col.Name, Type: col.Type})
	}
	if hasKeyFormat {
		if c.key, err = reg.Discover(withFormatTopic(opts, "key.format", true), "key.format", types.RowType(keyRow...), sink); err != nil {
			return nil, formatErr("key", err)
		}
	}
	if c.value, err = reg.Discover(withFormatTopic(opts, valueKey, false), valueKey, types.RowType(valRow...), sink); err != nil {
		return nil, formatErr("value", err)
	}
	if upsert {
		if err := checkInsertOnlyFormats(c); err != nil {
			return nil, err
		}
	}
	if c.meta, err = resolveMetadata(t, sink, c.loc, c.connector); err != nil {
		return nil, err
	}
	return c, nil
}

// withFormatTopic tells a schema-registry format which topic and side it serves, so that its default
// subject is '<topic>-value' / '<topic>-key' (the avro-confluent contract: options '__topic' and '__is-key'
// under the format's prefix). Other formats get opts unchanged. With a topic list or pattern there is no single
// topic, and the user names the subject.
func withFormatTopic(opts map[string]string, formatKey string, isKey bool) map[string]string {
	id := opts[formatKey]
	topic := opts["topic"]
	if !strings.HasSuffix(id, "avro-confluent") || topic == "" || strings.Contains(topic, ";") {
		return opts
	}
	prefix := formats.OptionPrefix(formatKey, id)
	out := make(map[string]string, len(opts)+2)
	for k, v := range opts {
		out[k] = v
	}
	out[prefix+"__topic"] = topic
	if isKey {
		out[prefix+"__is-key"] = "true"
	}
	return out
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// topics returns the source's topic list or compiled pattern.
func sourceTopics(r *options.Resolved) ([]string, *regexp.Regexp, error) {
	topics, hasTopic := Topic.Lookup(r)
	pattern, hasPattern := TopicPattern.Lookup(r)
	var list []string
	for _, t := range topics {
		if t != "" {
			list = append(list, t)
		}
	}
	switch {
	case hasTopic && hasPattern:
		return nil, nil, &options.Error{Keys: []string{"topic", "topic-pattern"},
			Msg: "Option 'topic' and 'topic-pattern' shouldn't be set together."}
	case hasPattern:
		re, err := regexp.Compile("^(?:" + pattern + ")$")
		if err != nil {
			return nil, nil, &options.Error{Keys: []string{"topic-pattern"},
				Msg: fmt.Sprintf("Invalid value for option 'topic-pattern': '%s' is not a regular expression: %s", pattern, err.Error())}
		}
		return nil, re, nil
	case len(list) > 0:
		return list, nil, nil
	}
	return nil, nil, &options.Error{Keys: []string{"topic", "topic-pattern"},
		Msg: "Either 'topic' or 'topic-pattern' must be set."}
}

// CreateSource validates the table and returns a source reading its topics.
func (f *Factory) CreateSource(ctx connectors.Context) (connectors.Source, error) {
	c, err := f.newTableConfig(ctx, false)
	if err != nil {
		return nil, err
	}
	s := &source{cfg: c, stderr: ctx.StderrWriter()}
	s.fresh = func() (*tableConfig, error) { return f.newTableConfig(ctx, false) }
	if err := checkScanParallelism(c.r); err != nil {
		return nil, err
	}
	if s.topics, s.pattern, err = sourceTopics(c.r); err != nil {
		return nil, err
	}
	if s.start, err = parseStart(c.r, c.client); err != nil {
		return nil, err
	}
	if s.stop, err = parseStop(c.r, c.client); err != nil {
		return nil, err
	}
	s.discovery = DiscoveryInterval.Get(c.r)
	if err := checkIdleTimeout(c); err != nil {
		return nil, err
	}
	if err := checkAlignment(c); err != nil {
		return nil, err
	}
	return s, nil
}

// CreateSink validates the table and returns an insert-only sink.
func (f *Factory) CreateSink(ctx connectors.Context) (connectors.Sink, error) {
	c, err := f.newTableConfig(ctx, true)
	if err != nil {
		return nil, err
	}
	r := c.r
	if _, ok := TopicPattern.Lookup(r); ok {
		return nil, &options.Error{Keys: []string{"topic-pattern"},
			Msg: "Option 'topic-pattern' is only supported by a kafka source; a sink writes to 'topic'."}
	}
	s := &sink{cfg: c, stderr: ctx.StderrWriter(), topicMeta: -1}
	s.fresh = func() (*tableConfig, error) { return f.newTableConfig(ctx, true) }
	for _, t := range Topic.Get(r) {
		if t != "" {
			s.topics = append(s.topics, t)
		}
	}
	for i, m := range c.meta {
		if m.key.name == metaTopic {
			s.topicMeta = i
		}
	}
	switch {
	case len(s.topics) == 0 && s.topicMeta < 0:
		return nil, &options.Error{Keys: []string{"topic"},
			Msg: "One or more required options are missing.\n\nMissing required options are:\n\ntopic\n\n(A kafka sink needs 'topic', or a writable 'topic' metadata column that names each record's topic.)"}
	case len(s.topics) > 1 && s.topicMeta < 0:
		return nil, &options.Error{Keys: []string{"topic"},
			Msg: fmt.Sprintf("Option 'topic' lists %d topics, but a kafka sink writes to one topic unless the table declares a 'topic' metadata column that picks each record's topic.", len(s.topics))}
	}
	switch p := SinkPartitioner.Get(r); p {
	case "default", "fixed", "round-robin":
		s.partitioner = p
	default:
		return nil, &options.Error{Keys: []string{"sink.partitioner"},
			Msg: fmt.Sprintf("Invalid value for option 'sink.partitioner': '%s'. Sluice runs no Java, so custom partitioner classes are not supported; use 'default', 'fixed' or 'round-robin'.", p)}
	}
	s.guarantee = DeliveryGuarantee.Get(r)
	if s.guarantee == guaranteeExactlyOnce {
		if s.txnPrefix, err = exactlyOnceConfig(ctx, c); err != nil {
			return nil, err
		}
	}
	if n, ok := SinkParallelism.Lookup(r); ok && n < 1 {
		return nil, &options.Error{Keys: []string{SinkParallelism.Key()},
			Msg: fmt.Sprintf("Invalid value for option 'sink.parallelism': '%d' must be positive", n)}
	}
	return s, nil
}

// UpdateHint is checked by the planner when it rejects updates into the sink.
func (s *sink) UpdateHint() string {
	return fmt.Sprintf("The 'kafka' connector writes an append-only stream. To write an updating result to Kafka, declare a PRIMARY KEY on table '%s' and use 'connector' = 'upsert-kafka'.", s.cfg.table.Name)
}

// Accepts is insert-only (the planner rejects updating queries into a kafka sink), or every kind when the
// value format is a changelog format (debezium-json), which writes each row with its kind.
func (s *sink) Accepts() changelog.KindSet {
	if _, ok := s.cfg.value.Encoder.(formats.ChangelogEncoder); ok {
		return changelog.AllKinds.Kinds
	}
	return changelog.KindsOf(changelog.Insert)
}

// checkpointIntervalKey is the session option whose checkpoints commit an exactly-once sink's transactions.
const checkpointIntervalKey = "execution.checkpointing.interval"

// exactlyOnceConfig validates an exactly-once sink and returns its transactional id prefix: the prefix is
// required, the producer must be idempotent, and the transaction timeout must exceed the checkpoint interval.
// Without checkpoints only a batch job may write exactly once (one transaction, committed at its end).
// scaleOut reports whether the session runs INSERTs as scale-out members (engine/scaleout.go), which write
// their sinks in transactions of their own, without checkpoints.
func scaleOut(ctx connectors.Context) bool {
	return strings.EqualFold(strings.TrimSpace(ctx.Session["sluice.scale-out.enabled"]), "true")
}

func exactlyOnceConfig(ctx connectors.Context, c *tableConfig) (string, error) {
	r := c.r
	key := r.Given(DeliveryGuarantee.Key())
	if key == "" {
		key = DeliveryGuarantee.Key()
	}
	prefix, _ := TransactionalIDPrefix.Lookup(r)
	if strings.TrimSpace(prefix) == "" {
		return "", &options.Error{Keys: []string{TransactionalIDPrefix.Key(), key},
			Msg: fmt.Sprintf("%s must be specified when using DeliveryGuarantee.EXACTLY_ONCE. (Option '%s' = 'exactly-once' writes in Kafka transactions named '<prefix>-0-<n>'; a restarted job finds the transactions it must commit or abort by that prefix, so it must be unique among the jobs writing to the cluster, e.g. 'sink.transactional-id-prefix' = '%s-sink'.)",
				TransactionalIDPrefix.Key(), key, c.table.Name)}
	}
	switch {
	case c.client.acks != "all":
		return "", &options.Error{Keys: []string{key, "properties.acks"},
			Msg: fmt.Sprintf("Option '%s' = 'exactly-once' needs 'properties.acks' = 'all' (the default), not '%s': Kafka transactions require an idempotent producer, which waits for all in-sync replicas.", key, c.client.acks)}
	case !c.client.idempotent:
		return "", &options.Error{Keys: []string{key, "properties.enable.idempotence"},
			Msg: fmt.Sprintf("Option '%s' = 'exactly-once' needs an idempotent producer (Kafka transactions require it): remove 'properties.enable.idempotence' = 'false'.", key)}
	}
	timeout := c.client.txnTimeout
	given := timeout > 0
	if !given {
		timeout = defaultTxnTimeout
	}
	var interval time.Duration
	if v := strings.TrimSpace(ctx.Session[checkpointIntervalKey]); v != "" {
		d, err := options.ParseDuration(v)
		if err != nil {
			return "", &options.Error{Keys: []string{checkpointIntervalKey},
				Msg: fmt.Sprintf("Invalid value for option '%s': %s", checkpointIntervalKey, err.Error())}
		}
		interval = d
	}
	switch {
	case interval <= 0 && !ctx.Batch && !scaleOut(ctx):
		return "", &options.Error{Keys: []string{key, checkpointIntervalKey},
			Msg: fmt.Sprintf("Option '%s' = 'exactly-once' of table '%s' commits its Kafka transactions when checkpoints complete, but checkpointing is off. Set '%s' (e.g. SET '%s' = '10 s'), use 'at-least-once', or run the job in batch mode ('execution.runtime-mode' = 'batch'), where the sink commits one transaction at the end.",
				key, c.table.Name, checkpointIntervalKey, checkpointIntervalKey)}
	case interval > 0 && timeout <= interval:
		what := fmt.Sprintf("'properties.transaction.timeout.ms' = '%d' (%s)", timeout.Milliseconds(), options.FormatDuration(timeout))
		if !given {
			what = fmt.Sprintf("The default transaction timeout of %s ('properties.transaction.timeout.ms')", options.FormatDuration(timeout))
		}
		return "", &options.Error{Keys: []string{"properties.transaction.timeout.ms", checkpointIntervalKey},
			Msg: fmt.Sprintf("%s must be larger than '%s' = '%s': a transaction stays open from its first row until the checkpoint after it completes, and the brokers abort transactions older than the timeout, losing their rows. Raise the timeout (up to the brokers' transaction.max.timeout.ms, 15 min by default) or checkpoint more often.",
				what, checkpointIntervalKey, ctx.Session[checkpointIntervalKey])}
	}
	return prefix, nil
}
