package engine

import (
	"fmt"
	"io"
	"math"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/options"
)

// Session options (SET 'key' = 'value', RESET, sql-client -D, driver DSN options, sluice.WithOption) are
// declared once, in sessionKeys (sessionopts_keys.go). Every key given to a session is one of three things:
//
//   - implemented: its value is checked with Flink's parsing rules (a bad value is an error naming the key and
//     the accepted forms) and stored under the key's canonical spelling, normalized;
//   - a Flink key that Sluice does not implement: accepted (so Flink scripts run) with a printed warning that
//     it has no effect; its value is still checked when its type is known;
//   - anything else: refused, with a did-you-mean suggestion.
//
// Code reads options through the typed accessors below (sessionDuration, sessionInt, ...), which accept any
// spelling of a key and return its default when it is not set.

// optKind is the value type of a session option.
type optKind uint8

const (
	kindString   optKind = iota
	kindBool             // true or false, case-insensitive
	kindInt              // a 32-bit integer (Flink's Integer)
	kindLong             // a 64-bit integer
	kindFloat            // a decimal number (Flink's Double)
	kindDuration         // Flink's Duration: "2 s", "500 ms", "1 min", "1 h", "1 d"; a plain number is milliseconds
	kindMemory           // Flink's MemorySize: "64 mb", "512 kb", "1 gb"; a plain number is bytes
	kindEnum             // one of enum (case-insensitive), or an alias
	kindDir              // a local directory: a plain path, file:///abs/path or file:/abs/path
	kindZone             // a time zone id: UTC, Europe/Berlin, +08:00
)

// numRange bounds int, long, float and duration values (durations in nanoseconds). The zero numRange
// accepts everything.
type numRange struct {
	min, max       float64
	hasMin, hasMax bool
	minOpen        bool      // min itself is excluded
	also           []float64 // values accepted outside the bounds (e.g. -1, or 0 for "off")
}

func atLeast(x float64) numRange         { return numRange{min: x, hasMin: true} }
func above(x float64) numRange           { return numRange{min: x, hasMin: true, minOpen: true} }
func between(a, b float64) numRange      { return numRange{min: a, max: b, hasMin: true, hasMax: true} }
func (r numRange) or(x float64) numRange { r.also = append(r.also, x); return r }

func (r numRange) ok(x float64) bool {
	for _, a := range r.also {
		if x == a {
			return true
		}
	}
	if r.hasMin && (x < r.min || r.minOpen && x == r.min) {
		return false
	}
	return !r.hasMax || x <= r.max
}

// sessionKey declares one session option.
type sessionKey struct {
	key   string            // canonical spelling (Flink's newest name); a key ending in '.' covers every key below it
	alt   []string          // other spellings (older Flink names), accepted and stored under key
	kind  optKind           //
	enum  []string          // kindEnum: the accepted values, as stored
	alias map[string]string // kindEnum: other accepted spellings (lower case) → the stored value
	rng   numRange          // kindInt, kindLong, kindFloat, kindDuration, kindMemory
	want  string            // overrides the generated description of the accepted range in errors
	def   string            // the default Sluice uses when the key is not set ("" = none)
	desc  string            // one line for docs and SET listings

	impl    bool     // Sluice implements the key; false: accepted with a warning that it has no effect
	behaves []string // for a key Sluice does not implement: values Sluice already behaves as (no warning)
	note    string   // appended to the warning
}

func (k *sessionKey) isPrefix() bool { return strings.HasSuffix(k.key, ".") }

// sessionKeyIndex maps every spelling of every key (not the prefixes) to its declaration. It is built once
// and never changed.
var sessionKeyIndex = indexSessionKeys(sessionKeys)

func indexSessionKeys(keys []sessionKey) map[string]*sessionKey {
	m := make(map[string]*sessionKey, len(keys)*2)
	for i := range keys {
		k := &keys[i]
		if k.isPrefix() {
			continue
		}
		m[k.key] = k
		for _, a := range k.alt {
			m[a] = k
		}
	}
	return m
}

// lookupSessionKey finds the declaration of key (any spelling). A key under a declared prefix (e.g.
// 'taskmanager.memory.process.size') finds the prefix's declaration.
func lookupSessionKey(key string) (*sessionKey, bool) {
	if k, ok := sessionKeyIndex[key]; ok {
		return k, true
	}
	best := -1
	for i := range sessionKeys {
		k := &sessionKeys[i]
		if k.isPrefix() && strings.HasPrefix(key, k.key) && len(key) > len(k.key) && (best < 0 || len(k.key) > len(sessionKeys[best].key)) {
			best = i
		}
	}
	if best < 0 {
		return nil, false
	}
	return &sessionKeys[best], true
}

// unknownKeyError is the error for a key that is neither Flink's nor Sluice's, with a suggestion.
func unknownKeyError(key string) error {
	var cands []string
	for spelling := range sessionKeyIndex {
		if strings.EqualFold(spelling, key) {
			return fmt.Errorf("%w: Unknown option '%s'. Did you mean '%s'? (keys are case-sensitive)", ErrValidation, key, spelling)
		}
		cands = append(cands, spelling)
	}
	sort.Strings(cands)
	s, ok := options.Suggest(key, cands)
	if !ok {
		// A key cut short: 'sluice.batch.savepoint' for 'sluice.batch.savepoint-dir'.
		var longer []string
		for _, c := range cands {
			if strings.HasPrefix(c, key) && (c[len(key)] == '-' || c[len(key)] == '.') {
				longer = append(longer, c)
			}
		}
		s, ok = strings.Join(longer, "' or '"), len(longer) > 0 && len(longer) <= 3
	}
	if ok {
		return fmt.Errorf("%w: Unknown option '%s'. Did you mean '%s'?", ErrValidation, key, s)
	}
	return fmt.Errorf("%w: Unknown option '%s': it is neither a Flink configuration key nor a Sluice one (docs/SESSION-OPTIONS.md lists the keys Sluice knows)", ErrValidation, key)
}

// checkSessionOption validates one option. It returns the declaration, the key and value to store (the
// canonical spelling of the key and the normalized value) and the warning to print ("" for none).
func checkSessionOption(key, value string) (decl *sessionKey, storeKey, storeValue, warning string, err error) {
	k, ok := lookupSessionKey(key)
	if !ok {
		return nil, "", "", "", unknownKeyError(key)
	}
	storeKey = key
	if !k.isPrefix() {
		storeKey = k.key
	}
	_, storeValue, err = k.parse(value)
	if err != nil {
		return nil, "", "", "", fmt.Errorf("%w: Invalid value for option '%s': %v", ErrValidation, key, err)
	}
	if !k.impl {
		warning = k.warning(key, storeValue)
	}
	return k, storeKey, storeValue, warning, nil
}

// warning is the notice for setting a key Sluice does not implement, or "" when Sluice already behaves as
// the value says.
func (k *sessionKey) warning(key, value string) string {
	for _, b := range k.behaves {
		if value == b {
			return ""
		}
	}
	var msg string
	if len(k.behaves) > 0 {
		msg = fmt.Sprintf("[WARNING] Sluice does not implement '%s' = '%s' yet; it has no effect: Sluice behaves as with '%s'", key, value, k.behaves[0])
	} else {
		msg = fmt.Sprintf("[WARNING] Sluice does not implement '%s' yet; it has no effect", key)
	}
	if k.note != "" {
		msg += " (" + k.note + ")"
	}
	return msg
}

// set validates a session option, prints the warning of a key Sluice does not implement to the session's
// Notice writer, and stores the option under its canonical key.
func (s *Session) set(key, value string) error {
	return s.setTo(key, value, s.cfg.Notice)
}

func (s *Session) setTo(key, value string, notice io.Writer) error {
	k, storeKey, storeValue, warning, err := checkSessionOption(key, value)
	if err != nil {
		return err
	}
	if warning != "" && notice != nil {
		fmt.Fprintln(notice, warning)
	}
	prev, had := s.opts[storeKey]
	s.forget(k, storeKey)
	s.opts[storeKey] = storeValue
	if k.key == promPortKey || k.key == promFilterKey {
		// The endpoint starts (or moves) now, so that a port in use is this statement's error.
		if err := s.syncMetrics(); err != nil {
			delete(s.opts, storeKey)
			if had {
				s.opts[storeKey] = prev
				_ = s.syncMetrics()
			}
			return err
		}
	}
	return nil
}

// forget deletes every spelling of k from the session options (key itself for a prefix declaration).
func (s *Session) forget(k *sessionKey, key string) {
	if k.isPrefix() {
		delete(s.opts, key)
		return
	}
	delete(s.opts, k.key)
	for _, a := range k.alt {
		delete(s.opts, a)
	}
}

// setInitial applies the options given when the session opens (Config.Options: sql-client -D, DSN
// options), in key order so that the first bad one reported is always the same.
func (s *Session) setInitial(opts map[string]string, notice io.Writer) error {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := s.setTo(k, opts[k], notice); err != nil {
			return err
		}
	}
	return nil
}

// reset is RESET 'key' (RESET; when key is ""): the option returns to the value given when the session
// opened, or is removed. Unknown keys are refused as SET refuses them.
func (s *Session) reset(key string) error {
	defer func() { _ = s.syncMetrics() }() // stops the Prometheus endpoint when its option goes
	if key == "" {
		s.opts = map[string]string{}
		return s.setInitial(s.cfg.Options, nil)
	}
	k, ok := lookupSessionKey(key)
	if !ok {
		return unknownKeyError(key)
	}
	s.forget(k, key)
	for given, v := range s.cfg.Options {
		if g, ok := lookupSessionKey(given); ok && g == k && (!k.isPrefix() || given == key) {
			return s.setTo(given, v, nil)
		}
	}
	return nil
}

// parse checks raw and returns the typed value (bool, int64, float64, time.Duration, int64 bytes, or
// string: the enum value, the local directory, the zone id, the string) and the normalized text to store.
// The error completes "Invalid value for option 'k': ".
func (k *sessionKey) parse(raw string) (any, string, error) {
	v := strings.TrimSpace(raw)
	switch k.kind {
	case kindBool:
		switch strings.ToLower(v) {
		case "true":
			return true, "true", nil
		case "false":
			return false, "false", nil
		}
		return nil, "", fmt.Errorf("'%s' is not a boolean (want true or false)", raw)
	case kindInt, kindLong:
		bits := 32
		if k.kind == kindLong {
			bits = 64
		}
		n, err := strconv.ParseInt(v, 10, bits)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return nil, "", fmt.Errorf("'%s' is out of range (want %s)", raw, k.wantText())
			}
			return nil, "", fmt.Errorf("'%s' is not an integer", raw)
		}
		if !k.rng.ok(float64(n)) {
			return nil, "", fmt.Errorf("'%s' is out of range (want %s)", raw, k.wantText())
		}
		return n, strconv.FormatInt(n, 10), nil
	case kindFloat:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, "", fmt.Errorf("'%s' is not a number", raw)
		}
		if !k.rng.ok(f) {
			return nil, "", fmt.Errorf("'%s' is out of range (want %s)", raw, k.wantText())
		}
		return f, v, nil
	case kindDuration:
		d, err := options.ParseDuration(v)
		if err != nil {
			return nil, "", durationError(raw, v, err)
		}
		if !k.rng.ok(float64(d)) {
			return nil, "", fmt.Errorf("'%s' is out of range (want %s)", raw, k.wantText())
		}
		return d, v, nil
	case kindMemory:
		m, err := options.ParseMemorySize(v)
		if err != nil {
			return nil, "", err
		}
		if !k.rng.ok(float64(m)) {
			return nil, "", fmt.Errorf("'%s' is out of range (want %s)", raw, k.wantText())
		}
		return int64(m), v, nil
	case kindEnum:
		for _, e := range k.enum {
			if strings.EqualFold(v, e) {
				return e, e, nil
			}
		}
		if e, ok := k.alias[strings.ToLower(v)]; ok {
			return e, e, nil
		}
		return nil, "", fmt.Errorf("'%s' (want one of %s)", raw, strings.Join(k.enum, ", "))
	case kindDir:
		dir, err := parseLocalDir(v)
		if err != nil {
			return nil, "", fmt.Errorf("'%s' %w", raw, err)
		}
		return dir, v, nil
	case kindZone:
		if _, err := loadZone(v); err != nil {
			return nil, "", fmt.Errorf("'%s' is not a time zone id (e.g. UTC, Europe/Berlin, +08:00)", raw)
		}
		return v, v, nil
	}
	return raw, raw, nil
}

// durationError explains why v is not one of Flink's durations.
func durationError(raw, v string, err error) error {
	switch {
	case strings.HasPrefix(v, "-"):
		return fmt.Errorf("'%s' is not a duration: durations are not negative", raw)
	case v != "" && v[0] >= '0' && v[0] <= '9' && strings.ContainsAny(v, ".,"):
		return fmt.Errorf("'%s' is not a duration: the number must be whole; use a smaller unit (e.g. '1500 ms' for 1.5 s)", raw)
	case strings.Contains(err.Error(), "unknown unit") || strings.Contains(err.Error(), "too"):
		return err
	}
	return fmt.Errorf("'%s' is not a duration (e.g. '1 h', '30 min', '500 ms')", raw)
}

// wantText describes the accepted values of a numeric key: "an integer ≥ 1 or -1".
func (k *sessionKey) wantText() string {
	if k.want != "" {
		return k.want
	}
	what, format := "an integer", func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	switch k.kind {
	case kindFloat:
		what = "a number"
	case kindDuration:
		what, format = "a duration", func(x float64) string { return options.FormatDuration(time.Duration(x)) }
	case kindMemory:
		what, format = "a memory size", func(x float64) string { return options.MemorySize(int64(x)).String() }
	}
	r := k.rng
	var b strings.Builder
	b.WriteString(what)
	switch {
	case r.hasMin && r.hasMax:
		fmt.Fprintf(&b, " between %s and %s", format(r.min), format(r.max))
	case r.hasMin && r.minOpen:
		fmt.Fprintf(&b, " > %s", format(r.min))
	case r.hasMin:
		fmt.Fprintf(&b, " ≥ %s", format(r.min))
	case r.hasMax:
		fmt.Fprintf(&b, " ≤ %s", format(r.max))
	}
	for _, a := range r.also {
		fmt.Fprintf(&b, " or %s", format(a))
	}
	return b.String()
}

// parseLocalDir turns a checkpoint or savepoint location into a local path: a plain path, file:///abs/path,
// file:/abs/path or file://localhost/abs/path. The error completes "'<value>' ".
func parseLocalDir(v string) (string, error) {
	const example = "a local directory such as '/var/lib/sluice/checkpoints' or 'file:///var/lib/sluice/checkpoints'"
	if v == "" {
		return "", fmt.Errorf("is empty (want %s; RESET the option to unset it)", example)
	}
	scheme, rest, ok := cutScheme(v)
	if !ok {
		return filepath.Clean(v), nil
	}
	if !strings.EqualFold(scheme, "file") {
		if catalog.Levenshtein(strings.ToLower(scheme), "file") <= 2 {
			return "", fmt.Errorf("has an unknown scheme '%s' (did you mean 'file:%s'?)", scheme, rest)
		}
		return "", fmt.Errorf("is a '%s' URL; Sluice stores checkpoints and savepoints on the local file system (want %s, which may be a mounted volume)", scheme, example)
	}
	p := rest
	if strings.HasPrefix(rest, "//") {
		host, path, _ := strings.Cut(rest[2:], "/")
		if host != "" && !strings.EqualFold(host, "localhost") {
			return "", fmt.Errorf("names the host '%s'; a file URL of an absolute path has three slashes: 'file:///%s'", host, strings.TrimPrefix(rest, "//"))
		}
		p = "/" + path
	}
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("is a relative file URL (want %s)", example)
	}
	dec, err := url.PathUnescape(p)
	if err != nil {
		return "", fmt.Errorf("is not a valid file URL: %v", err)
	}
	return filepath.Clean(dec), nil
}

// cutScheme splits "scheme:rest" when v starts with "file:" or with a URL scheme followed by '/' (so that
// Windows-like "C:/x" and relative paths with a colon stay paths).
func cutScheme(v string) (scheme, rest string, ok bool) {
	i := strings.IndexByte(v, ':')
	if i == 4 && strings.EqualFold(v[:i], "file") {
		return v[:i], v[i+1:], true
	}
	if i < 2 || !strings.HasPrefix(v[i+1:], "/") {
		return "", "", false
	}
	for j, c := range v[:i] {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (j == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", "", false
		}
	}
	return v[:i], v[i+1:], true
}
