// Package builtin assembles the formats that ship with Sluice into a registry. It holds no state: every call
// builds a new registry.
package builtin

import (
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/avro"
	"github.com/sluicesql/sluice/formats/avroconfluent"
	"github.com/sluicesql/sluice/formats/csv"
	"github.com/sluicesql/sluice/formats/debezium"
	"github.com/sluicesql/sluice/formats/json"
	"github.com/sluicesql/sluice/formats/parquet"
	"github.com/sluicesql/sluice/formats/raw"
)

// Registry returns a registry of the built-in formats: avro, avro-confluent, csv, debezium-avro-confluent, debezium-json, json, parquet (filesystem only), raw.
func Registry() *formats.Registry {
	return formats.NewRegistry(avro.NewFactory(), avroconfluent.NewFactory(), csv.NewFactory(), debezium.NewJSONFactory(), debezium.NewAvroConfluentFactory(), json.NewFactory(), parquet.NewFactory(), raw.NewFactory())
}
