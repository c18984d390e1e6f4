package kafka

import (
	"strings"

	"github.com/sluicesql/sluice/connectors"
)

var (
	_ connectors.OptionsChecker = (*Factory)(nil)
	_ connectors.OptionsChecker = (*UpsertFactory)(nil)
)

// checkProperties checks the 'properties.*' options (names, values, SASL/TLS consistency) when the table is
// created, so that a misspelled client property is reported at CREATE TABLE rather than when a job starts.
func checkProperties(opts map[string]string) error {
	props := map[string]string{}
	for k, v := range opts {
		if name, ok := strings.CutPrefix(k, "properties."); ok {
			props[name] = v
		}
	}
	if len(props) == 0 {
		return nil // the declarations already report a missing 'properties.bootstrap.servers'
	}
	_, err := parseProperties(props)
	return err
}

// CheckOptions checks the Kafka client properties at CREATE TABLE.
func (*Factory) CheckOptions(opts map[string]string) error { return checkProperties(opts) }

// CheckOptions checks the Kafka client properties at CREATE TABLE.
func (*UpsertFactory) CheckOptions(opts map[string]string) error { return checkProperties(opts) }
