// Package schemaregistry is an in-process Confluent-compatible Schema Registry: a real HTTP server on a TCP
// address, for tests, 'sql-client --embedded' and dev services. It speaks the REST API Confluent's clients use
// (subjects, versions, schemas by id, compatibility checks, config), keeps ids global and stable (the same
// schema registered under two subjects has one id), validates schemas as Avro (42201 for invalid ones; only
// AVRO, no references) and enforces the compatibility level of a subject, or the global one, when a new
// version is registered (409 with the reason). State is in memory, or persisted in a directory (WithDir).
//
// Why our own instead of franz-go's pkg/sr/srfake (v1.8.0): srfake checks that a schema is JSON but not that it
// is valid Avro, answers every compatibility check with true, and rejects request bodies with fields it does
// not know; the issue needs 42201 for invalid Avro and 409 for incompatible versions. Compatibility is
// checked with github.com/hamba/avro/v2, a fresh checker per check, and schemas are parsed with a fresh name
// cache each time.
//
// It does not implement schema contexts, modes other than READWRITE, exporters, or JSON Schema and Protobuf.
package schemaregistry
