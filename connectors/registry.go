package connectors

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluicesql/sluice/options"
)

// Registry maps 'connector' identifiers to factories. It is immutable once built.
type Registry struct {
	byID map[string]Factory
}

// NewRegistry returns a registry of the given factories. A later factory with the same identifier replaces
// an earlier one.
func NewRegistry(factories ...Factory) *Registry {
	r := &Registry{byID: make(map[string]Factory, len(factories))}
	for _, f := range factories {
		r.byID[f.Identifier()] = f
	}
	return r
}

// With returns a new registry holding r's factories and fs (fs replace same-named ones).
func (r *Registry) With(fs ...Factory) *Registry {
	all := make([]Factory, 0, len(r.byID)+len(fs))
	for _, id := range r.Identifiers() {
		all = append(all, r.byID[id])
	}
	return NewRegistry(append(all, fs...)...)
}

// Identifiers returns the identifiers of all factories, sorted.
func (r *Registry) Identifiers() []string {
	out := make([]string, 0, len(r.byID))
	for id := range r.byID {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Factories returns all factories, sorted by identifier.
func (r *Registry) Factories() []Factory {
	out := make([]Factory, 0, len(r.byID))
	for _, id := range r.Identifiers() {
		out = append(out, r.byID[id])
	}
	return out
}

// Lookup returns the factory for a 'connector' value, or an error naming the available ones.
func (r *Registry) Lookup(identifier string) (Factory, error) {
	if f, ok := r.byID[identifier]; ok {
		return f, nil
	}
	return nil, r.notFound(identifier, "DynamicTableFactory", r.Identifiers())
}

// SourceFactory returns the factory for identifier if it can build sources.
func (r *Registry) SourceFactory(identifier string) (SourceFactory, error) {
	f, ok := r.byID[identifier]
	if ok {
		if sf, ok := f.(SourceFactory); ok {
			return sf, nil
		}
		if _, ok := f.(SinkFactory); ok {
			return nil, &options.Error{Keys: []string{"connector"}, Msg: fmt.Sprintf(
				"Connector '%s' can only be used as a sink. It cannot be used as a source.", identifier)}
		}
	}
	var ids []string
	for _, id := range r.Identifiers() {
		if _, ok := r.byID[id].(SourceFactory); ok {
			ids = append(ids, id)
		}
	}
	return nil, r.notFound(identifier, "DynamicTableSourceFactory", ids)
}

// SinkFactory returns the factory for identifier if it can build sinks.
func (r *Registry) SinkFactory(identifier string) (SinkFactory, error) {
	f, ok := r.byID[identifier]
	if ok {
		if sf, ok := f.(SinkFactory); ok {
			return sf, nil
		}
		if _, ok := f.(SourceFactory); ok {
			return nil, &options.Error{Keys: []string{"connector"}, Msg: fmt.Sprintf(
				"Connector '%s' can only be used as a source. It cannot be used as a sink.", identifier)}
		}
	}
	var ids []string
	for _, id := range r.Identifiers() {
		if _, ok := r.byID[id].(SinkFactory); ok {
			ids = append(ids, id)
		}
	}
	return nil, r.notFound(identifier, "DynamicTableSinkFactory", ids)
}

func (r *Registry) notFound(identifier, iface string, ids []string) error {
	if identifier == "" {
		return &options.Error{Keys: []string{"connector"}, Msg: "Table options do not contain an option key 'connector' for discovering a connector. Add 'connector' = '...' to the WITH clause; available connectors are:\n\n" +
			strings.Join(ids, "\n")}
	}
	msg := fmt.Sprintf("Could not find any factory for identifier '%s' that implements '%s'. Available factory identifiers are:\n\n%s",
		identifier, iface, strings.Join(ids, "\n"))
	if s, ok := options.Suggest(identifier, ids); ok {
		msg += fmt.Sprintf("\n\nDid you mean '%s'?", s)
	}
	return &options.Error{Keys: []string{"connector"}, Msg: msg}
}
