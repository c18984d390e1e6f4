// Package kafka is the 'kafka' connector: a source and an insert-only sink for Kafka topics, with Flink's
// options (REFERENCE.md's kafka table, including the 1.12 spelling 'sink.semantic'), key and value formats,
// and metadata columns. It speaks to brokers through franz-go (kgo for records, kadm for offsets).
//
// The source assigns partitions itself (as Flink's KafkaSource does) rather than joining a consumer group:
// it resolves start and, for bounded reads, stop offsets per partition when it starts, reads each partition
// in order, and commits its progress to 'properties.group.id' (when set) periodically and when it ends. The
// sink writes every +I row as one record, partitioned as Kafka's Java client does.
//
// Both sinks' outputs take part in checkpoints (connectors.CheckpointedSink): at least once, PreCommit waits
// until the brokers acknowledged every record (upsert-kafka first writes its buffer); exactly once
// ('sink.delivery-guarantee' = 'exactly-once', kafka only), the rows of each checkpoint go into one Kafka
// transaction that Commit commits and Restore finishes or aborts after a crash (txn.go).
//
// The package also holds the 'upsert-kafka' connector (UpsertFactory, upsert*.go): the same source and
// producer keyed by the table's PRIMARY KEY, reading a topic from its earliest offset as an upsert changelog
// (null value = delete) and writing +I/+U as records, -D (and -U without its +U) as tombstones.
//
// 'properties.*' options are Kafka client properties under their Kafka names, mapped onto franz-go options
// (see SupportedProperties); an unknown property is an error, never silently ignored.
//
// The package must not parse SQL nor know about the planner: it sees tables through catalog.Table and rows
// through the changelog contract.
package kafka
