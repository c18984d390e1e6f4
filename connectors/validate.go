package connectors

import (
	"strings"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/options"
)

// ConnectorOption is the 'connector' option every table has; ValidateOptions always accepts it.
var ConnectorOption = options.String("connector").Required().Desc("The connector to use.")

// formatKeys are the options by which a connector names a format.
var formatKeys = []string{"format", "key.format", "value.format"}

// ValidateOptions validates a table's options against f's declarations (see options.Validate), always
// accepting 'connector'. Keys in consumed are accounted for elsewhere and skipped (pass Discovered.Consumed
// of the formats the connector discovered). Options of the formats the table names through options f
// declares ('format', 'key.format', 'value.format') are skipped too: they belong to the format, which
// validates them in formats.Registry.Discover (or see ValidateTable).
func ValidateOptions(f Factory, opts map[string]string, consumed ...string) (*options.Resolved, error) {
	decls := f.Options()
	hasConnector := false
	declared := map[string]bool{}
	for _, d := range decls {
		declared[d.Key] = true
		if d.Key == "connector" {
			hasConnector = true
		}
	}
	if !hasConnector {
		decls = append(append([]options.Decl(nil), decls...), ConnectorOption.Decl())
	}
	var prefixes []string
	for _, fk := range formatKeys {
		if name, ok := opts[fk]; ok && declared[fk] {
			prefixes = append(prefixes, formats.OptionPrefix(fk, name))
		}
	}
	skip := map[string]bool{}
	for _, k := range consumed {
		skip[k] = true
	}
	given := opts
	if len(prefixes) > 0 || len(skip) > 0 {
		given = make(map[string]string, len(opts))
	next:
		for k, v := range opts {
			if skip[k] && !declared[k] {
				continue
			}
			for _, p := range prefixes {
				if strings.HasPrefix(k, p) {
					continue next
				}
			}
			given[k] = v
		}
	}
	return options.Validate(f.Identifier(), given, decls)
}

// ValidateTable is ValidateOptions plus validation of the formats the table names (through the format
// options f declares) and of their options, with reg. Use it where the whole WITH clause is checked at
// once, as at CREATE TABLE time.
func ValidateTable(f Factory, opts map[string]string, reg *formats.Registry) (*options.Resolved, error) {
	r, err := ValidateOptions(f, opts)
	if err != nil {
		return nil, err
	}
	if reg == nil {
		return r, nil
	}
	declared := map[string]bool{}
	for _, d := range f.Options() {
		declared[d.Key] = true
	}
	for _, fk := range formatKeys {
		if !declared[fk] {
			continue
		}
		if _, err := reg.Resolve(opts, fk); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Describe renders the options of f ('connector' included) for DESCRIBE and the docs; see options.Describe.
func Describe(f Factory) string {
	decls := f.Options()
	for _, d := range decls {
		if d.Key == "connector" {
			return options.Describe(decls)
		}
	}
	return options.Describe(append(append([]options.Decl(nil), decls...), ConnectorOption.Decl()))
}
