// Package builtin assembles the connectors that ship with Sluice into a registry. It holds no state: every
// call builds a new registry (add more with Registry().With(...)).
package builtin

import (
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/blackhole"
	"github.com/sluicesql/sluice/connectors/datagen"
	"github.com/sluicesql/sluice/connectors/filesystem"
	"github.com/sluicesql/sluice/connectors/jdbc"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/connectors/nexmark"
	"github.com/sluicesql/sluice/connectors/print"
)

// Registry returns a registry of the built-in connectors: blackhole, datagen, filesystem, jdbc, kafka, upsert-kafka,
// nexmark, print.
func Registry() *connectors.Registry {
	return connectors.NewRegistry(blackhole.NewFactory(), datagen.NewFactory(), filesystem.NewFactory(), jdbc.NewFactory(), kafka.NewFactory(),
		kafka.NewUpsertFactory(), nexmark.NewFactory(), print.NewFactory())
}
