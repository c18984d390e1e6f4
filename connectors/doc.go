// Package connectors holds the connector registry and the interfaces sources and sinks implement. Connectors
// declare their options and metadata; they never parse SQL.
//
// A Registry is built explicitly from factories (see connectors/builtin.Registry); there is no global
// registration. ValidateOptions checks a table's options against a factory's declarations the way Flink's
// FactoryUtil does; factories call it in CreateSource/CreateSink, and the engine calls it (or ValidateTable,
// which also checks format options) at CREATE TABLE time.
package connectors
