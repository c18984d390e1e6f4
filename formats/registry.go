package formats

import (
	"fmt"
	"sort"

	"github.com/sluicesql/sluice/options"
)

// Registry maps format identifiers to factories. Build it explicitly (see formats/all.Default).
type Registry struct {
	byName map[string]Factory
}

// NewRegistry returns a registry holding the given factories.
func NewRegistry(fs ...Factory) *Registry {
	r := &Registry{byName: map[string]Factory{}}
	for _, f := range fs {
		r.byName[f.Identifier()] = f
	}
	return r
}

// Lookup returns the factory for name, or an error listing the known formats.
func (r *Registry) Lookup(name string) (Factory, error) {
	if f, ok := r.byName[name]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("%w: could not find any format factory for identifier '%s'; available formats: %v",
		options.ErrValidation, name, r.Names())
}

// Names returns the known identifiers, sorted.
func (r *Registry) Names() []string {
	var out []string
	for n := range r.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
