package formats

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// Registry maps format identifiers to factories. Build it explicitly (see formats/builtin.Registry). It is
// immutable once built.
type Registry struct {
	byName map[string]Factory
}

// NewRegistry returns a registry holding the given factories (a later one replaces a same-named earlier one).
func NewRegistry(fs ...Factory) *Registry {
	r := &Registry{byName: map[string]Factory{}}
	for _, f := range fs {
		r.byName[f.Identifier()] = f
	}
	return r
}

// With returns a new registry holding r's factories and fs.
func (r *Registry) With(fs ...Factory) *Registry {
	all := make([]Factory, 0, len(r.byName)+len(fs))
	for _, n := range r.Names() {
		all = append(all, r.byName[n])
	}
	return NewRegistry(append(all, fs...)...)
}

// Lookup returns the factory for name, or an error listing the known formats.
func (r *Registry) Lookup(name string) (Factory, error) {
	return r.lookup(name, "", "Format")
}

func (r *Registry) lookup(name, formatKey, iface string) (Factory, error) {
	if f, ok := r.byName[name]; ok {
		return f, nil
	}
	names := r.Names()
	msg := fmt.Sprintf("Could not find any factory for identifier '%s' that implements '%s'. Available factory identifiers are:\n\n%s",
		name, iface, strings.Join(names, "\n"))
	if s, ok := options.Suggest(name, names); ok {
		msg += fmt.Sprintf("\n\nDid you mean '%s'?", s)
	}
	var keys []string
	if formatKey != "" {
		keys = []string{formatKey}
	}
	return nil, &options.Error{Keys: keys, Msg: msg}
}

// Names returns the known identifiers, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.byName))
	for n := range r.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// OptionPrefix is the prefix of the options of format identifier named by formatKey: "json." for 'format',
// "value.json." for 'value.format', "key.json." for 'key.format'.
func OptionPrefix(formatKey, identifier string) string {
	return strings.TrimSuffix(formatKey, "format") + identifier + "."
}

// Discovered is a format found and configured from a table's options.
type Discovered struct {
	FormatKey  string // the option naming the format: "format", "key.format", "value.format"
	Identifier string // the format: "json"
	Prefix     string // its options' prefix: "json.", "value.json."
	Factory    Factory
	Options    *options.Resolved // the format's options, keys without the prefix
	// Consumed lists the table option keys this format accounts for (the format key and its options, as
	// written), sorted. The connector must not report them as unsupported.
	Consumed []string
	Decoder  Decoder // set by Discover with encode=false
	Encoder  Encoder // set by Discover with encode=true
}

// Resolve finds the format named by opts[formatKey] and validates its options (keys under the prefix, see
// OptionPrefix), without building a codec. It returns nil and no error when formatKey is not set. Errors name
// the full keys as written ('value.json.ignore-parse-errors').
func (r *Registry) Resolve(opts map[string]string, formatKey string) (*Discovered, error) {
	return r.resolve(opts, formatKey, "Format")
}

func (r *Registry) resolve(opts map[string]string, formatKey, iface string) (*Discovered, error) {
	name, ok := opts[formatKey]
	if !ok {
		return nil, nil
	}
	f, err := r.lookup(name, formatKey, iface)
	if err != nil {
		return nil, err
	}
	prefix := OptionPrefix(formatKey, name)
	res, err := options.ValidatePrefixed(name, prefix, opts, f.Options())
	if err != nil {
		return nil, err
	}
	d := &Discovered{FormatKey: formatKey, Identifier: name, Prefix: prefix, Factory: f, Options: res}
	d.Consumed = append([]string{formatKey}, res.GivenKeys()...)
	sort.Strings(d.Consumed)
	return d, nil
}

// Discover is Resolve followed by building the format's decoder (encode=false) or encoder (encode=true) for
// rowType. It returns nil and no error when formatKey is not set.
func (r *Registry) Discover(opts map[string]string, formatKey string, rowType types.Type, encode bool) (*Discovered, error) {
	iface := "DeserializationFormatFactory"
	if encode {
		iface = "SerializationFormatFactory"
	}
	d, err := r.resolve(opts, formatKey, iface)
	if err != nil || d == nil {
		return d, err
	}
	stripped := make(map[string]string)
	for k, v := range opts {
		if strings.HasPrefix(k, d.Prefix) {
			stripped[k[len(d.Prefix):]] = v
		}
	}
	ctx := Context{RowType: rowType, Options: stripped, Resolved: d.Options}
	if encode {
		d.Encoder, err = d.Factory.CreateEncoder(ctx)
	} else {
		d.Decoder, err = d.Factory.CreateDecoder(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("format '%s' (option '%s'): %w", d.Identifier, formatKey, err)
	}
	return d, nil
}

// Discover is reg.Discover, for callers that prefer a function.
func Discover(reg *Registry, opts map[string]string, formatKey string, rowType types.Type, encode bool) (*Discovered, error) {
	return reg.Discover(opts, formatKey, rowType, encode)
}
