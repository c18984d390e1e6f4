package kafka

import (
	"strings"

	"github.com/sluicesql/sluice/connectors"
)

var (
	_ connectors.OptionsChecker = (*Factory)(nil)
	_ connectors.OptionsChecker = (*UpsertFactory)(nil)
	_ connectors.TableChecker   = (*Factory)(nil)
	_ connectors.TableChecker   = (*UpsertFactory)(nil)
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

// CheckTable validates the table as its source or sink would (client properties with the required
// 'properties.bootstrap.servers', formats, key fields), so that such mistakes fail CREATE TABLE.
func (f *Factory) CheckTable(ctx connectors.Context) error { return checkTable(f, ctx, false) }

// CheckTable validates the table as its source or sink would, including its required PRIMARY KEY.
func (f *UpsertFactory) CheckTable(ctx connectors.Context) error { return checkTable(f, ctx, true) }

// checkTable accepts a table that works as a source or as a sink (a format may only decode or only
// encode); otherwise it returns the source's error.
func checkTable(decl connectors.Factory, ctx connectors.Context, upsert bool) error {
	_, err := buildTableConfig(decl, 0, ctx, false, upsert)
	if err == nil {
		return nil
	}
	if _, serr := buildTableConfig(decl, 0, ctx, true, upsert); serr == nil {
		return nil
	}
	return err
}
