package engine

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestSessionKeysWellFormed checks the declarations themselves: one declaration per spelling, defaults and
// "behaves as" values that parse, enums with values, prefixes only for keys Sluice does not implement.
func TestSessionKeysWellFormed(t *testing.T) {
	seen := map[string]string{}
	for i := range sessionKeys {
		k := &sessionKeys[i]
		for _, sp := range append([]string{k.key}, k.alt...) {
			if prev, dup := seen[sp]; dup {
				t.Errorf("spelling %q is declared by %q and %q", sp, prev, k.key)
			}
			seen[sp] = k.key
			if sp != strings.TrimSpace(sp) || sp == "" {
				t.Errorf("bad spelling %q", sp)
			}
		}
		if k.isPrefix() && (k.impl || len(k.alt) > 0) {
			t.Errorf("prefix %q: prefixes are for keys Sluice does not implement, without other spellings", k.key)
		}
		if k.kind == kindEnum && len(k.enum) == 0 {
			t.Errorf("%s: an enum without values", k.key)
		}
		if k.desc == "" {
			t.Errorf("%s: no description", k.key)
		}
		if k.def != "" {
			if _, norm, err := k.parse(k.def); err != nil {
				t.Errorf("%s: default %q does not parse: %v", k.key, k.def, err)
			} else if k.kind == kindEnum && norm != k.def {
				t.Errorf("%s: default %q is not in the declared spelling %q", k.key, k.def, norm)
			}
		}
		for _, b := range k.behaves {
			if _, norm, err := k.parse(b); err != nil || norm != b {
				t.Errorf("%s: behaves-as value %q is not a normalized valid value (%q, %v)", k.key, b, norm, err)
			}
		}
		if k.impl && len(k.behaves) > 0 {
			t.Errorf("%s: an implemented key has no behaves-as values", k.key)
		}
		for alias, to := range k.alias {
			if alias != strings.ToLower(alias) {
				t.Errorf("%s: alias %q is not lower case", k.key, alias)
			}
			if _, norm, err := k.parse(to); err != nil || norm != to {
				t.Errorf("%s: alias %q maps to %q, not a declared value", k.key, alias, to)
			}
		}
	}
	// A declared key is never also covered by a prefix: the prefix would hide nothing, but it shows a mistake.
	// The exception is a key that behaves differently from its prefix on purpose: one Sluice implements, or
	// one with values it already behaves as (e.g. 'metrics.reporter.prom.port' under 'metrics.').
	for i := range sessionKeys {
		p := &sessionKeys[i]
		if !p.isPrefix() {
			continue
		}
		for sp, k := range sessionKeyIndex {
			if strings.HasPrefix(sp, p.key) && !k.impl && len(k.behaves) == 0 {
				t.Errorf("key %q is also covered by the prefix %q", sp, p.key)
			}
		}
	}
}

// TestSessionKeysReadByCode finds the option keys the code reads (opts["k"], Session["k"], Option("k"), the
// typed accessors, the driver's short DSN keys) and checks that each is declared, so that no code reads a key
// that SET refuses.
func TestSessionKeysReadByCode(t *testing.T) {
	re := regexp.MustCompile(`(?:opts|Session)\["([a-z][a-z0-9.-]*\.[a-z0-9.-]+)"\]|\.Option\("([^"]+)"\)|session(?:Duration|Int|Float|Bool|Memory|Enum|Dir|String)\([^,()]+, "([^"]+)"\)|^\s*"[a-z-]+":\s+"([a-z-]+\.[a-z.-]+)",`)
	var files []string
	for _, pat := range []string{"*.go", "../client/*.go", "../driver/*.go", "../planner/*.go", "../connectors/*.go", "../*.go"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(src), "\n") {
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				key := m[1] + m[2] + m[3] + m[4]
				if m[4] != "" && !strings.HasSuffix(f, "driver.go") {
					continue // only the driver's table of short keys
				}
				found++
				if _, ok := sessionKeyIndex[key]; !ok {
					t.Errorf("%s reads session option %q, which is not declared in sessionKeys", f, key)
				}
			}
		}
	}
	if found < 10 {
		t.Fatalf("found only %d option reads; the pattern no longer matches the code", found)
	}
}

// TestSessionOpenOptions checks that options given when a session opens (sql-client -D, DSN options,
// sluice.WithOption) go through the same checks as SET.
func TestSessionOpenOptions(t *testing.T) {
	open := func(opts map[string]string) (*Session, string, error) {
		var notice bytes.Buffer
		s, err := NewSession(Config{Options: opts, Notice: &notice, Stdout: &notice, Stderr: &notice})
		return s, notice.String(), err
	}
	_, _, err := open(map[string]string{"table.exec.state.ttl": "banana"})
	if err == nil || !errors.Is(err, ErrValidation) || !strings.Contains(err.Error(), "'table.exec.state.ttl': 'banana' is not a duration") {
		t.Errorf("bad duration at open: got %v", err)
	}
	_, _, err = open(map[string]string{"state.checkpoint.dir": "/tmp/x"})
	if err == nil || !strings.Contains(err.Error(), "Unknown option 'state.checkpoint.dir'. Did you mean 'state.checkpoints.dir'?") {
		t.Errorf("unknown key at open: got %v", err)
	}
	// Several bad options: the first in key order is reported, every time.
	for i := 0; i < 20; i++ {
		_, _, err = open(map[string]string{"z.bogus": "1", "a.bogus": "1", "m.bogus": "1"})
		if err == nil || !strings.Contains(err.Error(), "'a.bogus'") {
			t.Fatalf("several bad keys at open: got %v, want the error for 'a.bogus'", err)
		}
	}
	s, notice, err := open(map[string]string{"table.exec.rank.topn-cache-size": "100", "state.backend": "filesystem", "execution.runtime-mode": "BATCH"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "[WARNING] Sluice does not implement 'table.exec.rank.topn-cache-size' yet; it has no effect\n"; notice != want {
		t.Errorf("notice at open: got %q, want %q", notice, want)
	}
	opts := s.Options()
	if opts["state.backend.type"] != "hashmap" || opts["execution.runtime-mode"] != "batch" || opts["state.backend"] != "" {
		t.Errorf("options are stored under their canonical key, normalized: got %v", opts)
	}
	if v, ok := s.Option("state.backend"); v != "hashmap" || !ok {
		t.Errorf("Option finds a key under its other spellings: got %q, %v", v, ok)
	}
	// RESET restores the options given at open, checked again and normalized, without warning twice.
	var notice2 bytes.Buffer
	s.cfg.Notice = &notice2
	if err := s.Set("state.backend.type", "rocksdb"); err != nil {
		t.Fatal(err)
	}
	if err := s.reset("state.backend"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Option("state.backend.type"); v != "hashmap" {
		t.Errorf("RESET 'state.backend': got %q, want the open-time value hashmap", v)
	}
	if err := s.reset(""); err != nil {
		t.Fatal(err)
	}
	if got := s.Options(); len(got) != 3 || got["execution.runtime-mode"] != "batch" {
		t.Errorf("RESET: got %v", got)
	}
	if notice2.Len() != 0 {
		t.Errorf("RESET printed %q", notice2.String())
	}
}

func TestSessionAccessors(t *testing.T) {
	opts := map[string]string{
		"state.checkpoints.dir":                                 "file:///var/lib/sluice/chk",
		"execution.savepoint.path":                              "file:/tmp/sp%20one/chk-3",
		"execution.checkpointing.interval":                      "2 s",
		"table.exec.state.ttl":                                  "1500",
		"state.backend":                                         "rocksdb",
		"restart-strategy":                                      "exponential-delay",
		"restart-strategy.exponential-delay.backoff-multiplier": "1.5",
		"table.exec.resource.sort.memory":                       "64 MB",
		"execution.checkpointing.incremental":                   "true",
	}
	if d, set, err := sessionDuration(opts, "table.exec.state.ttl"); d != 1500*time.Millisecond || !set || err != nil {
		t.Errorf("ttl: %v %v %v", d, set, err)
	}
	if d, set, err := sessionDuration(opts, "execution.checkpointing.timeout"); d != 10*time.Minute || set || err != nil {
		t.Errorf("timeout default: %v %v %v", d, set, err)
	}
	// Any spelling finds the value set under another one.
	if p, set, err := sessionDir(opts, "execution.checkpointing.dir"); p != "/var/lib/sluice/chk" || !set || err != nil {
		t.Errorf("checkpoint dir: %q %v %v", p, set, err)
	}
	if p, _, _ := sessionDir(opts, "execution.state-recovery.path"); p != "/tmp/sp one/chk-3" {
		t.Errorf("restore path: %q", p)
	}
	if m, _, _ := sessionMemory(opts, "table.exec.resource.sort.memory"); m != 64<<20 {
		t.Errorf("sort memory: %d", m)
	}
	if _, _, err := sessionDuration(opts, "state.backend.type"); err == nil || !errors.Is(err, ErrInternal) {
		t.Errorf("reading an enum as a duration: %v", err)
	}
	if _, _, err := sessionDuration(opts, "no.such.key"); err == nil || !errors.Is(err, ErrInternal) {
		t.Errorf("reading an undeclared key: %v", err)
	}
	if _, _, err := sessionDuration(map[string]string{"table.exec.state.ttl": "soon"}, "table.exec.state.ttl"); !errors.Is(err, ErrValidation) {
		t.Errorf("a bad stored value: %v", err)
	}
	c, err := sessionCheckpointing(opts)
	if err != nil {
		t.Fatal(err)
	}
	want := checkpointSettings{Interval: 2 * time.Second, Mode: "EXACTLY_ONCE", Timeout: 10 * time.Minute, Retention: "NO_EXTERNALIZED_CHECKPOINTS",
		Dir: "/var/lib/sluice/chk", NumRetained: 1, Backend: "rocksdb", Incremental: true, NoChannelsOf: -1, RestorePath: "/tmp/sp one/chk-3",
		MaxParallelism: 128, StateTTL: 1500 * time.Millisecond}
	if c != want {
		t.Errorf("checkpoint settings:\n got %+v\nwant %+v", c, want)
	}
	r, err := sessionRestartStrategy(opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != "exponential-delay" || r.Multiplier != 1.5 || r.InitialBackoff != time.Second || r.MaxBackoff != 5*time.Minute || r.Jitter != 0.1 {
		t.Errorf("restart strategy: %+v", r)
	}
}

func TestBatchRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		opts     map[string]string
		attempts int
		delay    time.Duration
	}{
		{nil, 3, time.Second},
		{map[string]string{"restart-strategy": "none"}, 1, 0},
		{map[string]string{"restart-strategy.fixed-delay.attempts": "5", "restart-strategy.fixed-delay.delay": "10 ms"}, 6, 10 * time.Millisecond},
		{map[string]string{"restart-strategy.type": "exponential-delay", "restart-strategy.exponential-delay.initial-backoff": "20 ms"}, 3, 20 * time.Millisecond},
		{map[string]string{"restart-strategy.type": "failurerate", "restart-strategy.failure-rate.max-failures-per-interval": "4"}, 5, time.Second},
	} {
		s, err := NewSession(Config{Options: tc.opts})
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.batchRestartPolicy()
		if err != nil || p.attempts != tc.attempts || p.delay != tc.delay {
			t.Errorf("%v: got %+v, %v; want %d attempts, delay %v", tc.opts, p, err, tc.attempts, tc.delay)
		}
	}
}

func TestParseLocalDir(t *testing.T) {
	for in, want := range map[string]string{
		"/a/b/":                  "/a/b",
		"rel/dir":                "rel/dir",
		"file:///a/b":            "/a/b",
		"FILE:///a/b":            "/a/b",
		"file:/a//b":             "/a/b",
		"file://localhost/a/b":   "/a/b",
		"file:///a%20b":          "/a b",
		"C:/data":                "C:/data",
		"dir:with:colons":        "dir:with:colons",
		"fiel:///x":              "error: has an unknown scheme 'fiel' (did you mean 'file:///x'?)",
		"hdfs://nn:8020/x":       "error: is a 'hdfs' URL",
		"file://host/x":          "error: names the host 'host'",
		"file:x":                 "error: is a relative file URL",
		"file:///a%zz":           "error: is not a valid file URL",
		"s3a://bucket/path/chk-": "error: is a 's3a' URL",
	} {
		got, err := parseLocalDir(in)
		if strings.HasPrefix(want, "error: ") {
			if err == nil || !strings.HasPrefix(err.Error(), strings.TrimPrefix(want, "error: ")) {
				t.Errorf("%q: got %q, %v; want an error starting %q", in, got, err, strings.TrimPrefix(want, "error: "))
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseLocalDir(""); err == nil {
		t.Error("an empty directory is accepted")
	}
}

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/SESSION-OPTIONS.md from the session key declarations")

// TestSessionOptionsDoc keeps docs/SESSION-OPTIONS.md equal to what the declarations say (rewrite it with
// go test ./engine -run TestSessionOptionsDoc -update-docs).
func TestSessionOptionsDoc(t *testing.T) {
	const path = "../docs/SESSION-OPTIONS.md"
	got := sessionOptionsMarkdown()
	if *updateDocs {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Fatalf("%s is out of date; run go test ./engine -run TestSessionOptionsDoc -update-docs and review the diff", path)
	}
}

func sessionOptionsMarkdown() string {
	var b strings.Builder
	b.WriteString("# Session options\n\n" +
		"Set with `SET 'key' = 'value';`, `sql-client -D key=value`, a driver DSN (`key=value;...`) or `sluice.WithOption`. " +
		"Values follow Flink's forms: durations such as `2 s`, `500 ms`, `1 min`, `1 h`, `1 d` (a plain number is milliseconds), " +
		"memory sizes such as `64 mb`, booleans `true`/`false`, enum values in any case. " +
		"A key given under one of its other spellings is stored under the first. " +
		"Keys not listed here are refused.\n\n" +
		"<!-- Generated from engine/sessionopts_keys.go: go test ./engine -run TestSessionOptionsDoc -update-docs -->\n\n" +
		"## Implemented\n\n| Key | Also accepted as | Value | Default | Meaning |\n|---|---|---|---|---|\n")
	for i := range sessionKeys {
		k := &sessionKeys[i]
		if !k.impl {
			continue
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", k.key, codeList(k.alt), valueDoc(k), code(k.def), k.desc)
	}
	b.WriteString("\n## Accepted with a warning\n\nFlink keys that Sluice does not implement yet: SET accepts them (checking the value when " +
		"its type is known) and prints `[WARNING] Sluice does not implement 'key' yet; it has no effect`, except for the values " +
		"listed under \"No warning for\", which are how Sluice behaves anyway. A key ending in `.` stands for every key below it.\n\n" +
		"| Key | Also accepted as | Value | No warning for | Meaning |\n|---|---|---|---|---|\n")
	for i := range sessionKeys {
		k := &sessionKeys[i]
		if k.impl {
			continue
		}
		desc := k.desc
		if k.note != "" {
			desc += " (" + k.note + ")"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", k.key, codeList(k.alt), valueDoc(k), codeList(k.behaves), desc)
	}
	return b.String()
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

func codeList(ss []string) string {
	var out []string
	for _, s := range ss {
		out = append(out, code(s))
	}
	return strings.Join(out, ", ")
}

func valueDoc(k *sessionKey) string {
	switch k.kind {
	case kindBool:
		return "boolean"
	case kindInt, kindLong, kindFloat, kindDuration, kindMemory:
		return k.wantText()
	case kindEnum:
		s := codeList(k.enum)
		if len(k.alias) > 0 {
			var as []string
			for a := range k.alias {
				as = append(as, a)
			}
			sort.Strings(as)
			s += " (also " + codeList(as) + ")"
		}
		return s
	case kindDir:
		return "local directory: a path or `file:///` URL"
	case kindZone:
		return "time zone id"
	}
	return "string"
}
