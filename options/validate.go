package options

import (
	"fmt"
	"sort"
	"strings"
)

// Error is a validation error. It wraps ErrValidation and names the keys at fault (as the user wrote them),
// so that callers can point at the option in the DDL.
type Error struct {
	Keys []string
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return ErrValidation }

// Resolved is the result of a successful Validate: the given options mapped to their declarations (deprecated
// spellings mapped to the current key), with parsed values. Read it through typed keys (Key.Get) or Get.
type Resolved struct {
	identifier string
	prefix     string
	decls      []Decl
	byKey      map[string]*entry // current concrete key (without prefix) → entry
	consumed   []string          // every given key that matched a declaration, sorted
}

type entry struct {
	given string // the key as the user wrote it (with prefix)
	raw   string
	val   any
	decl  int      // index in decls
	segs  []string // values of the '#' placeholders
}

// Validate checks the options given for a connector or format against its declarations, in one pass, and
// reports in Flink's words, in this order: missing required options, invalid values, unsupported options
// (with a "did you mean" hint for near misses). A key given under a deprecated spelling counts as its
// current key. Errors are *Error values wrapping ErrValidation; their text is deterministic (sorted).
func Validate(identifier string, given map[string]string, decls []Decl) (*Resolved, error) {
	return ValidatePrefixed(identifier, "", given, decls)
}

// ValidatePrefixed is Validate for options that live under a prefix in a larger map, as a format's options
// do ("value.json."): only keys starting with prefix are considered, decls are declared without the prefix,
// and messages name the full keys as the user wrote them.
func ValidatePrefixed(identifier, prefix string, given map[string]string, decls []Decl) (*Resolved, error) {
	r := &Resolved{identifier: identifier, prefix: prefix, decls: decls, byKey: map[string]*entry{}}
	keys := make([]string, 0, len(given))
	for k := range given {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)

	var unsupported []string
	var conflicts []string
	for _, full := range keys {
		k := full[len(prefix):]
		di, canon, segs, ok := match(decls, k)
		if !ok {
			unsupported = append(unsupported, full)
			continue
		}
		r.consumed = append(r.consumed, full)
		e := &entry{given: full, raw: given[full], decl: di, segs: segs}
		if old, dup := r.byKey[canon]; dup {
			// One of the two is a deprecated spelling: the current spelling wins, as in Flink, but
			// conflicting values are surely a mistake.
			if old.raw != e.raw {
				a, b := old.given, e.given
				if prefix+canon == b {
					a, b = b, a
				}
				conflicts = append(conflicts, fmt.Sprintf("Option '%s' and its deprecated spelling '%s' are both set, to different values ('%s' and '%s'). Remove '%s'.",
					a, b, given[a], given[b], b))
			}
			if prefix+canon == full {
				r.byKey[canon] = e
			}
			continue
		}
		r.byKey[canon] = e
	}

	// Missing required options.
	var missing []string
	for _, d := range decls {
		if d.Required && !d.IsPattern() && !d.IsPrefix() {
			if _, ok := r.byKey[d.Key]; !ok {
				missing = append(missing, prefix+d.Key)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		msg := "One or more required options are missing.\n\nMissing required options are:\n\n" + strings.Join(missing, "\n")
		if hints := didYouMean(unsupported, missing); hints != "" {
			msg += "\n\n" + hints
		}
		return nil, &Error{Keys: missing, Msg: msg}
	}
	if len(conflicts) > 0 {
		return nil, &Error{Keys: nil, Msg: strings.Join(conflicts, "\n")}
	}

	// Values.
	var bad []string
	var badKeys []string
	for _, k := range sortedKeys(r.byKey) {
		e := r.byKey[k]
		d := &decls[e.decl]
		if d.IsPrefix() {
			e.val = e.raw
			continue
		}
		v, err := parseValue(d, e.raw)
		if err != nil {
			bad = append(bad, fmt.Sprintf("Invalid value for option '%s': %v", e.given, err))
			badKeys = append(badKeys, e.given)
			continue
		}
		e.val = v
	}
	if len(bad) > 0 {
		return nil, &Error{Keys: badKeys, Msg: strings.Join(bad, "\n")}
	}

	if len(unsupported) > 0 {
		supported := SupportedKeys(WithPrefix(prefix, decls))
		msg := fmt.Sprintf("Unsupported options found for '%s'.\n\nUnsupported options:\n\n%s\n\nSupported options:\n\n%s",
			identifier, strings.Join(unsupported, "\n"), strings.Join(supported, "\n"))
		if hints := didYouMean(unsupported, candidates(WithPrefix(prefix, decls), unsupported)); hints != "" {
			msg += "\n\n" + hints
		}
		return nil, &Error{Keys: unsupported, Msg: msg}
	}
	return r, nil
}

// SupportedKeys lists the keys decls accept, sorted: current and deprecated spellings, '#' patterns as
// declared and prefix options as "prefix.*".
func SupportedKeys(decls []Decl) []string {
	seen := map[string]bool{}
	for _, d := range decls {
		k := d.Key
		if d.IsPrefix() {
			k += "*"
		}
		seen[k] = true
		for _, o := range d.Deprecated {
			seen[o] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// match finds the declaration of key k: exact keys first, then deprecated spellings, then '#' patterns,
// then prefix maps. It returns the current (canonical) concrete key and the placeholder values.
func match(decls []Decl, k string) (di int, canon string, segs []string, ok bool) {
	for i, d := range decls {
		if !d.IsPattern() && !d.IsPrefix() && d.Key == k {
			return i, k, nil, true
		}
	}
	for i, d := range decls {
		for _, o := range d.Deprecated {
			if !strings.Contains(o, "#") && o == k {
				return i, d.Key, nil, true
			}
		}
	}
	ks := strings.Split(k, ".")
	for i, d := range decls {
		if d.IsPattern() && !d.IsPrefix() {
			if s, ok := matchPattern(strings.Split(d.Key, "."), ks, nil); ok {
				return i, k, s, true
			}
		}
		for _, o := range d.Deprecated {
			if strings.Contains(o, "#") {
				if s, ok := matchPattern(strings.Split(o, "."), ks, nil); ok {
					return i, substitute(d.Key, s), s, true
				}
			}
		}
	}
	for i, d := range decls {
		if d.IsPrefix() && len(k) > len(d.Key) && strings.HasPrefix(k, d.Key) {
			return i, k, nil, true
		}
	}
	return 0, "", nil, false
}

// matchPattern matches key segments against pattern segments; '#' takes one or more segments (the fewest
// that let the rest match).
func matchPattern(pat, key []string, segs []string) ([]string, bool) {
	if len(pat) == 0 {
		return segs, len(key) == 0
	}
	if pat[0] != "#" {
		if len(key) == 0 || key[0] != pat[0] {
			return nil, false
		}
		return matchPattern(pat[1:], key[1:], segs)
	}
	for n := 1; n <= len(key)-len(pat)+1; n++ {
		if key[n-1] == "" {
			return nil, false
		}
		if s, ok := matchPattern(pat[1:], key[n:], append(segs, strings.Join(key[:n], "."))); ok {
			return s, true
		}
	}
	return nil, false
}

// Identifier is the identifier the options were validated for.
func (r *Resolved) Identifier() string { return r.identifier }

// Has reports whether the concrete key (current spelling, without prefix) was given.
func (r *Resolved) Has(key string) bool {
	if r == nil {
		return false
	}
	_, ok := r.byKey[key]
	return ok
}

// Raw returns the value given for the concrete key, as written.
func (r *Resolved) Raw(key string) (string, bool) {
	if r == nil {
		return "", false
	}
	if e, ok := r.byKey[key]; ok {
		return e.raw, true
	}
	return "", false
}

// Given returns the key as the user wrote it (with prefix, or the deprecated spelling) for a concrete key,
// for error messages. It returns the prefixed key itself when the option was not given.
func (r *Resolved) Given(key string) string {
	if r != nil {
		if e, ok := r.byKey[key]; ok {
			return e.given
		}
		return r.prefix + key
	}
	return key
}

// Value returns the parsed value of the concrete key: the given value, else the declared default (ok is
// true in both cases), else nil and false.
func (r *Resolved) Value(key string) (any, bool) {
	if r == nil {
		return nil, false
	}
	if e, ok := r.byKey[key]; ok {
		return e.val, true
	}
	di, _, _, ok := match(r.decls, key)
	if !ok {
		return nil, false
	}
	d := &r.decls[di]
	if d.Default == "" {
		return nil, false
	}
	v, err := parseValue(d, d.Default)
	if err != nil {
		return nil, false
	}
	return v, true
}

// Placeholders returns, sorted and without duplicates, the values the first '#' of patterns starting with
// prefix took in the given keys: with "fields.#.kind" and "fields.#.min" declared and fields.id.kind,
// fields.id.min and fields.name.kind given, Placeholders("fields.") is [id name].
func (r *Resolved) Placeholders(prefix string) []string {
	if r == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, e := range r.byKey {
		d := r.decls[e.decl]
		if len(e.segs) > 0 && strings.HasPrefix(d.Key, prefix) {
			seen[e.segs[0]] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Match returns, for a concrete key that was given (current spelling, without prefix), the key of the
// declaration it matched ("fields.#.kind" for "fields.id.kind") and the values of its placeholders.
func (r *Resolved) Match(key string) (declKey string, segs []string, ok bool) {
	if r == nil {
		return "", nil, false
	}
	e, ok := r.byKey[key]
	if !ok {
		return "", nil, false
	}
	return r.decls[e.decl].Key, e.segs, true
}

// Prefixed returns the options given under a prefix declaration ("properties."), with the prefix stripped.
func (r *Resolved) Prefixed(prefix string) map[string]string {
	out := map[string]string{}
	if r == nil {
		return out
	}
	for k, e := range r.byKey {
		if r.decls[e.decl].IsPrefix() && strings.HasPrefix(k, prefix) {
			out[k[len(prefix):]] = e.raw
		}
	}
	return out
}

// GivenKeys returns the keys the options were given under (with prefix, deprecated spellings as written),
// sorted: the keys this validation consumed.
func (r *Resolved) GivenKeys() []string {
	if r == nil {
		return nil
	}
	return append([]string(nil), r.consumed...)
}

// Keys returns the concrete current keys (without prefix) that were given, sorted.
func (r *Resolved) Keys() []string {
	if r == nil {
		return nil
	}
	return sortedKeys(r.byKey)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
