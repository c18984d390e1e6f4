// Package avro is the 'avro' format (plain Avro binary, one record per message) and the Avro machinery the
// avro-confluent format shares: schema derivation from a table's ROW type, and compiled decode and encode
// plans.
//
// Schemas follow Flink's AvroSchemaConverter (REFERENCE.md, "Avro ⇄ SQL type mapping"): the top-level record
// is named "record" and nested records "record_<field>"; nullable types are ["null", T] unions with default
// null; DECIMAL is bytes with the decimal logical type (fixed is read and written too); DATE is int date; TIME
// is int time-millis; TIMESTAMP(p≤3) and TIMESTAMP_LTZ(p≤3) are long timestamp-millis, p≤6 timestamp-micros
// (local-timestamp-* for TIMESTAMP with 'timestamp_mapping.legacy' = 'false'); ARRAY, MAP with string keys and
// ROW nest. Enums read as STRING. MULTISET, intervals and TIMESTAMP(p>6) are rejected when the table is
// created.
//
// github.com/hamba/avro/v2 parses schemas (always with a fresh name cache, see ParseSchema) and gives the
// canonical form. Records themselves are not decoded through hamba's reflection-based codecs: a DecodePlan is
// compiled once per (writer schema, reader row type) and walks the binary data straight into types.Value,
// doing Avro schema resolution (fields matched by name, skipped, defaulted; int→long→float→double promotion;
// string⇄bytes; per-branch union resolution) at compile time. Encoding appends to the caller's buffer.
//
// Options (without prefix): codec (Avro container files only), timestamp_mapping.legacy.
//
// It does not know about Kafka or the Schema Registry.
package avro
