package options

import (
	"strconv"
	"strings"
	"time"
)

// Key is a typed option declaration. Build it with a constructor (String, Int, Long, Bool, Double, Duration,
// Memory, Enum, List, Map) and the builder methods, each of which returns a modified copy:
//
//	options.Enum("scan.startup.mode", "earliest-offset", "latest-offset").Default("latest-offset")
//
// Read values from a Resolved with Get or Lookup.
type Key[T any] struct {
	d      Decl
	def    T
	hasDef bool
	format func(T) string
}

func newKey[T any](key string, t Type, format func(T) string) Key[T] {
	return Key[T]{d: Decl{Key: key, Type: t}, format: format}
}

// String declares a string option.
func String(key string) Key[string] {
	return newKey(key, TypeString, func(s string) string { return s })
}

// Int declares a 32-bit integer option.
func Int(key string) Key[int] { return newKey(key, TypeInt, strconv.Itoa) }

// Long declares a 64-bit integer option.
func Long(key string) Key[int64] {
	return newKey(key, TypeLong, func(n int64) string { return strconv.FormatInt(n, 10) })
}

// Bool declares a boolean option ("true"/"false", case-insensitive).
func Bool(key string) Key[bool] { return newKey(key, TypeBool, strconv.FormatBool) }

// Double declares a floating-point option.
func Double(key string) Key[float64] {
	return newKey(key, TypeDouble, func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) })
}

// Duration declares a duration option ("10 s", "500 ms", "1 min"; see ParseDuration).
func Duration(key string) Key[time.Duration] { return newKey(key, TypeDuration, FormatDuration) }

// Memory declares a memory size option ("64 mb"; see ParseMemorySize).
func Memory(key string) Key[MemorySize] {
	return newKey(key, TypeMemory, func(m MemorySize) string { return m.String() })
}

// Enum declares an option taking one of values (matched case-insensitively, read back in the declared
// spelling).
func Enum(key string, values ...string) Key[string] {
	k := newKey(key, TypeEnum, func(s string) string { return s })
	k.d.Enum = values
	return k
}

// List declares a ';'-separated list option ("a;b;c"; elements are trimmed).
func List(key string) Key[[]string] {
	return newKey(key, TypeList, func(l []string) string { return strings.Join(l, ";") })
}

// Map declares a prefix option: every key starting with prefix (which must end in '.') is accepted, and Get
// returns them with the prefix stripped ("properties." gives "bootstrap.servers" → value).
func Map(prefix string) Key[map[string]string] {
	return newKey(prefix, TypeMap, func(map[string]string) string { return "" })
}

// Required marks the option as required.
func (k Key[T]) Required() Key[T] { k.d.Required = true; return k }

// Default sets the value used when the option is not given.
func (k Key[T]) Default(v T) Key[T] {
	k.def, k.hasDef = v, true
	k.d.Default = k.format(v)
	return k
}

// Desc sets the description shown by DESCRIBE and the docs.
func (k Key[T]) Desc(s string) Key[T] { k.d.Description = s; return k }

// Deprecated lists older spellings of the key, accepted and mapped to it ('sink.semantic' for
// 'sink.delivery-guarantee').
func (k Key[T]) Deprecated(oldKeys ...string) Key[T] {
	k.d.Deprecated = append(append([]string(nil), k.d.Deprecated...), oldKeys...)
	return k
}

// Decl returns the declaration, for Validate and Describe.
func (k Key[T]) Decl() Decl { return k.d }

// Key returns the option's key as declared.
func (k Key[T]) Key() string { return k.d.Key }

// At substitutes the '#' placeholders of the key in order with segs: Long("fields.#.min").At("id") is the key
// "fields.id.min". Deprecated spellings are substituted likewise.
func (k Key[T]) At(segs ...string) Key[T] {
	k.d.Key = substitute(k.d.Key, segs)
	if len(k.d.Deprecated) > 0 {
		dep := make([]string, len(k.d.Deprecated))
		for i, o := range k.d.Deprecated {
			dep[i] = substitute(o, segs)
		}
		k.d.Deprecated = dep
	}
	return k
}

func substitute(key string, segs []string) string {
	var b strings.Builder
	for _, part := range strings.Split(key, ".") {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		if part == "#" && len(segs) > 0 {
			b.WriteString(segs[0])
			segs = segs[1:]
		} else {
			b.WriteString(part)
		}
	}
	return b.String()
}

// Get returns the option's value in r: the given value, else the default, else the zero value. A pattern key
// must be made concrete with At first; a Map key returns the prefixed options with the prefix stripped.
func (k Key[T]) Get(r *Resolved) T {
	v, _ := k.Lookup(r)
	return v
}

// Lookup returns the option's value and whether it was given (under its key or a deprecated spelling). When
// it was not given, the value is the default (or the zero value).
func (k Key[T]) Lookup(r *Resolved) (T, bool) {
	if k.d.IsPrefix() {
		m := r.Prefixed(k.d.Key)
		if v, ok := any(m).(T); ok {
			return v, len(m) > 0
		}
	}
	if r != nil {
		if e, ok := r.byKey[k.d.Key]; ok {
			if v, ok := e.val.(T); ok {
				return v, true
			}
		}
	}
	return k.def, false
}

// Has reports whether the option was given.
func (k Key[T]) Has(r *Resolved) bool { return r.Has(k.d.Key) }

// Get returns the value of the concrete key in r, the declared default when not given, or the zero value
// of T (also when T is not the option's value type).
func Get[T any](r *Resolved, key string) T {
	var zero T
	if r == nil {
		return zero
	}
	v, _ := r.Value(key)
	if t, ok := v.(T); ok {
		return t
	}
	return zero
}
