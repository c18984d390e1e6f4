// Package avroconfluent is the 'avro-confluent' format: Avro bodies in the Confluent wire format (magic byte
// 0, 4-byte big-endian schema id, Avro binary), with schemas fetched from and registered in a Confluent
// Schema Registry.
//
// Reading: each record's schema id selects the writer schema, fetched once per id and cached together with
// its compiled resolution against the table's row type (formats/avro.DecodePlan), so topics whose schema
// evolved compatibly read into the current table. A bad magic byte, an id the registry does not have, a
// writer schema that cannot be resolved, and corrupt bodies are record errors (skipped with
// 'ignore-parse-errors'); an unreachable registry is an error that is never skipped.
//
// Writing: the table-derived schema (or the 'schema' option) is registered under the subject on the first
// record, then every record is framed with its id. A 409 from the registry is reported with the registry's
// message; while the registry is unreachable, Encode fails and returns nothing to write.
//
// Options (without prefix; Flink 1.12 spellings accepted as deprecated aliases): url
// (schema-registry.url), subject (schema-registry.subject), schema, basic-auth.credentials-source
// (USER_INFO, URL), basic-auth.user-info, bearer-auth.credentials-source, bearer-auth.token,
// ssl.keystore.location / ssl.truststore.location (PEM files; Java keystores are not supported) and their
// passwords, properties.* (accepted, unused), ignore-parse-errors (a Sluice addition).
//
// The connector contract for the default subject: formats.Context carries no topic, so a connector that
// wants Flink's default subject ('<topic>-value', '<topic>-key') passes two options under the format's
// prefix, next to the user's: '__topic' = the topic and '__is-key' = 'true' for the key format. For
// 'value.format' = 'avro-confluent' on topic t that is 'value.avro-confluent.__topic' = 't' (and
// 'avro-confluent.__topic' with 'format'). An explicit subject wins. Without either, the decoder works (the
// subject only appears in messages) and creating the encoder fails asking for 'avro-confluent.subject'.
//
// Registry client: franz-go's pkg/sr rather than riferrei/srclient. pkg/sr takes a context on every call
// (timeouts and cancellation), has no Avro library of its own (srclient pulls in linkedin/goavro next to
// hamba/avro), is maintained with franz-go, which the kafka connector already uses, and returns typed
// registry errors (status, error code, message) that we quote. Each call has a timeout and transient
// failures are retried with backoff (see registry.go).
package avroconfluent
