package kafka

import (
	"time"

	"github.com/sluicesql/sluice/options"
)

// Startup and bounded modes, as Flink spells them.
const (
	modeEarliest  = "earliest-offset"
	modeLatest    = "latest-offset"
	modeGroup     = "group-offsets"
	modeTimestamp = "timestamp"
	modeSpecific  = "specific-offsets"
	modeUnbounded = "unbounded"
)

// Delivery guarantees.
const (
	guaranteeNone        = "none"
	guaranteeAtLeastOnce = "at-least-once"
	guaranteeExactlyOnce = "exactly-once"
)

// Option declarations: the 'kafka' table of REFERENCE.md.
var (
	Topic = options.List("topic").
		Desc("Topic(s) to read from (a ';'-separated list) or the topic to write to. A source needs 'topic' or 'topic-pattern'.")
	TopicPattern = options.String("topic-pattern").
			Desc("Regular expression of the topics to read (source only); new matching topics are found every 'scan.topic-partition-discovery.interval'.")
	Properties = options.Map("properties.").
			Desc("Kafka client properties by their Kafka names: 'properties.bootstrap.servers' (required), 'properties.group.id', 'properties.auto.offset.reset', ...")
	Format = options.String("format").
		Desc("Format of the record value (same as 'value.format').")
	KeyFormat = options.String("key.format").
			Desc("Format of the record key; needs 'key.fields'.")
	KeyFields = options.List("key.fields").Default([]string{}).
			Desc("';'-separated physical columns that form the record key, in key order.")
	KeyFieldsPrefix = options.String("key.fields-prefix").
			Desc("Prefix of the key columns' names, stripped in the key format; requires 'value.fields-include' = 'EXCEPT_KEY'.")
	ValueFormat = options.String("value.format").
			Desc("Format of the record value (same as 'format').")
	ValueFieldsInclude = options.Enum("value.fields-include", "ALL", "EXCEPT_KEY").Default("ALL").
				Desc("Whether the value holds all physical columns (ALL) or all but the key columns (EXCEPT_KEY).")
	StartupMode = options.Enum("scan.startup.mode", modeEarliest, modeLatest, modeGroup, modeTimestamp, modeSpecific).
			Default(modeGroup).
			Desc("Where the source starts reading.")
	StartupSpecificOffsets = options.String("scan.startup.specific-offsets").
				Desc("Start offsets for 'specific-offsets': 'partition:0,offset:42;partition:1,offset:300'.")
	StartupTimestampMillis = options.Long("scan.startup.timestamp-millis").
				Desc("Start timestamp (epoch milliseconds) for 'timestamp'.")
	BoundedMode = options.Enum("scan.bounded.mode", modeUnbounded, modeLatest, modeGroup, modeTimestamp, modeSpecific).
			Default(modeUnbounded).
			Desc("Where the source stops reading; anything but 'unbounded' makes the source bounded (usable in batch mode).")
	BoundedSpecificOffsets = options.String("scan.bounded.specific-offsets").
				Desc("End offsets (exclusive) for 'specific-offsets': 'partition:0,offset:42;partition:1,offset:300'.")
	BoundedTimestampMillis = options.Long("scan.bounded.timestamp-millis").
				Desc("End timestamp (epoch milliseconds, exclusive) for 'timestamp'.")
	DiscoveryInterval = options.Duration("scan.topic-partition-discovery.interval").Default(5 * time.Minute).
				Desc("How often the source looks for new topics (topic-pattern) and partitions; 0 disables discovery.")
	WatermarkIdleTimeout = options.Duration("scan.watermark.idle-timeout").
				Desc("A partition without records for this long stops holding back the table's watermark until it has records again (watermarks are tracked per partition and combined as their minimum); the session default is 'table.exec.source.idle-timeout'; 0 disables idleness.")
	AlignmentGroup = options.String("scan.watermark.alignment.group").
			Desc("Watermark alignment group (Flink's FLIP-296 option): the partitions of all tables of one job in the same group are paused while their watermark is more than 'scan.watermark.alignment.max-drift' ahead of the group's lowest watermark. Needs a WATERMARK and 'scan.watermark.alignment.max-drift'.")
	AlignmentMaxDrift = options.Duration("scan.watermark.alignment.max-drift").
				Desc("How far a partition's watermark may run ahead of its alignment group's lowest watermark before it is paused.")
	AlignmentUpdateInterval = options.Duration("scan.watermark.alignment.update-interval").Default(time.Second).
				Desc("How often the source re-evaluates which partitions alignment pauses or resumes.")
	SinkPartitioner = options.String("sink.partitioner").Default("default").
			Desc("'default' (murmur2 of the key bytes as Kafka's Java client; sticky without key), 'fixed' (sink subtask i writes partition i % partitions, as Flink's FlinkFixedPartitioner) or 'round-robin'.")
	DeliveryGuarantee = options.Enum("sink.delivery-guarantee", guaranteeNone, guaranteeAtLeastOnce, guaranteeExactlyOnce).
				Default(guaranteeAtLeastOnce).Deprecated("sink.semantic").
				Desc("'at-least-once' (records are acknowledged on every checkpoint; a lost record fails the job), 'none' (lost records are warnings), 'exactly-once' (one Kafka transaction per checkpoint, committed when the checkpoint completes; needs 'sink.transactional-id-prefix' and 'execution.checkpointing.interval', or batch mode).")
	TransactionalIDPrefix = options.String("sink.transactional-id-prefix").
				Desc("Prefix of the transactional ids ('<prefix>-0-<n>') of an exactly-once sink; required with 'exactly-once'. It must be unique among the jobs writing to the cluster: a starting job aborts the open transactions of its prefix.")
	SinkParallelism = options.Int("sink.parallelism").
			Desc("Accepted for compatibility; the sink runs as one instance.")
)

func optionDecls() []options.Decl {
	return options.Decls(Topic, TopicPattern, Properties, Format, KeyFormat, KeyFields, KeyFieldsPrefix, ValueFormat,
		ValueFieldsInclude, StartupMode, StartupSpecificOffsets, StartupTimestampMillis, BoundedMode,
		BoundedSpecificOffsets, BoundedTimestampMillis, DiscoveryInterval, WatermarkIdleTimeout, AlignmentGroup, AlignmentMaxDrift,
		AlignmentUpdateInterval, SinkPartitioner,
		DeliveryGuarantee, TransactionalIDPrefix, ScanParallelism, SinkParallelism)
}
