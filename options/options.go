package options

import (
	"errors"
	"strings"
)

// ErrValidation is wrapped by every validation error.
var ErrValidation = errors.New("validation error")

// Type is the value type of an option.
type Type uint8

const (
	TypeString Type = iota
	TypeBool
	TypeInt
	TypeLong
	TypeDouble
	TypeDuration // "10 s", "500ms", "1 min"
	TypeMemory   // "64 mb"
	TypeEnum     // one of Enum
	TypeMap      // prefix options: Key ends with '.' (e.g. "properties.")
	TypeList     // ';'-separated
)

// String names the type as the docs do: String, Boolean, Integer, Long, Double, Duration, MemorySize, Enum,
// Map, List.
func (t Type) String() string {
	switch t {
	case TypeString:
		return "String"
	case TypeBool:
		return "Boolean"
	case TypeInt:
		return "Integer"
	case TypeLong:
		return "Long"
	case TypeDouble:
		return "Double"
	case TypeDuration:
		return "Duration"
	case TypeMemory:
		return "MemorySize"
	case TypeEnum:
		return "Enum"
	case TypeMap:
		return "Map"
	case TypeList:
		return "List<String>"
	}
	return "?"
}

// Decl declares one option.
//
// Key may contain '#' as a placeholder for a dotted segment ("fields.#.kind" matches "fields.id.kind"; a
// placeholder followed by fixed segments also matches several segments, "fields.r.a.kind", so nested fields
// and column names with dots work), and a Key ending in '.' with Type TypeMap accepts every key with that
// prefix ("properties.").
type Decl struct {
	Key         string
	Type        Type
	Required    bool
	Default     string // "" when there is none
	Enum        []string
	Description string
	Deprecated  []string // older spellings, accepted and mapped to Key
}

// Decl returns d itself, so that a Decl can be listed next to typed keys (see Decls).
func (d Decl) Decl() Decl { return d }

// IsPattern reports whether the key has '#' placeholders.
func (d Decl) IsPattern() bool { return strings.Contains(d.Key, "#") }

// IsPrefix reports whether the declaration accepts every key with its prefix (a TypeMap key ending in '.').
func (d Decl) IsPrefix() bool { return d.Type == TypeMap && strings.HasSuffix(d.Key, ".") }

// Declarer is anything that declares an option: a Decl or a typed Key.
type Declarer interface{ Decl() Decl }

// Decls collects the declarations of typed keys (of any value type) into one list.
func Decls(ks ...Declarer) []Decl {
	out := make([]Decl, len(ks))
	for i, k := range ks {
		out[i] = k.Decl()
	}
	return out
}

// WithPrefix returns copies of decls with prefix prepended to their keys and deprecated spellings, e.g. to
// list a format's options under 'value.json.'.
func WithPrefix(prefix string, decls []Decl) []Decl {
	out := make([]Decl, len(decls))
	for i, d := range decls {
		d.Key = prefix + d.Key
		if len(d.Deprecated) > 0 {
			dep := make([]string, len(d.Deprecated))
			for j, o := range d.Deprecated {
				dep[j] = prefix + o
			}
			d.Deprecated = dep
		}
		out[i] = d
	}
	return out
}
