// Package options declares typed connector, format and session options and validates option maps the way
// Flink's FactoryUtil does: missing required options, unsupported options and bad values, each naming the
// option.
package options

import "errors"

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
	TypeMap      // prefix options: Key ends with '.' or '#' placeholder (e.g. "properties." or "fields.#.kind")
	TypeList     // ';'-separated
)

// Decl declares one option.
//
// Key may contain '#' as a placeholder for one dotted segment ("fields.#.kind" matches "fields.id.kind"),
// and a Key ending in '.' with Type TypeMap accepts every key with that prefix ("properties.").
type Decl struct {
	Key         string
	Type        Type
	Required    bool
	Default     string // "" when there is none
	Enum        []string
	Description string
	Deprecated  []string // older spellings, accepted and mapped to Key
}
