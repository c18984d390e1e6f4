package options_test

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/options"
)

var (
	kafkaMode     = options.Enum("scan.startup.mode", "earliest-offset", "latest-offset", "group-offsets", "timestamp", "specific-offsets").Default("group-offsets")
	kafkaTopic    = options.String("topic").Required().Desc("Topic name.")
	kafkaProps    = options.Map("properties.").Desc("Client properties.")
	kafkaGuar     = options.Enum("sink.delivery-guarantee", "none", "at-least-once", "exactly-once").Default("at-least-once").Deprecated("sink.semantic")
	kafkaInterval = options.Duration("scan.topic-partition-discovery.interval").Default(5 * time.Minute)
	kafkaFields   = options.List("key.fields")
	kafkaBuf      = options.Memory("sink.buffer-memory").Default(64 << 20)
	kafkaPar      = options.Int("sink.parallelism")
	kafkaJSON     = options.Bool("json.ignore-parse-errors").Default(false)

	dgRate   = options.Long("rows-per-second").Default(10000)
	dgRows   = options.Long("number-of-rows")
	dgKind   = options.Enum("fields.#.kind", "random", "sequence").Default("random")
	dgMin    = options.String("fields.#.min")
	dgMax    = options.String("fields.#.max")
	dgLen    = options.Int("fields.#.length").Default(100)
	dgNull   = options.Double("fields.#.null-rate").Default(0)
	dgPast   = options.Duration("fields.#.max-past").Default(0)
	dgLegacy = options.String("fields.#.end").Deprecated("fields.#.stop")
)

var declSets = map[string][]options.Decl{
	"kafka": append(options.Decls(kafkaMode, kafkaTopic, kafkaProps, kafkaGuar, kafkaInterval, kafkaFields, kafkaBuf, kafkaPar, kafkaJSON),
		options.Decl{Key: "connector", Required: true}),
	"json": options.Decls(kafkaJSON, options.Enum("map-null-key.mode", "FAIL", "DROP", "LITERAL").Default("FAIL")),
	"datagen": append(options.Decls(dgRate, dgRows, dgKind, dgMin, dgMax, dgLen, dgNull, dgPast, dgLegacy),
		options.Decl{Key: "connector", Required: true}),
}

func parseKV(input string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(input, "\n") {
		if line == "" {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m
}

func TestOptions(t *testing.T) {
	datadriven.RunTest(t, "testdata/options", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "validate":
			var set, id, prefix string
			d.ScanArgs(t, "decls", &set)
			id = set
			if d.HasArg("id") {
				d.ScanArgs(t, "id", &id)
			}
			if d.HasArg("prefix") {
				d.ScanArgs(t, "prefix", &prefix)
			}
			r, err := options.ValidatePrefixed(id, prefix, parseKV(d.Input), declSets[set])
			if err != nil {
				var oe *options.Error
				if !errors.Is(err, options.ErrValidation) || !errors.As(err, &oe) {
					t.Fatalf("error does not wrap ErrValidation: %v", err)
				}
				return fmt.Sprintf("error (keys %v):\n%s\n", oe.Keys, err)
			}
			return dumpResolved(set, r)
		case "describe":
			var set string
			d.ScanArgs(t, "decls", &set)
			return options.Describe(declSets[set])
		case "duration":
			var b strings.Builder
			for _, line := range strings.Split(d.Input, "\n") {
				v, err := options.ParseDuration(line)
				if err != nil {
					fmt.Fprintf(&b, "%q: error: %v\n", line, err)
				} else {
					fmt.Fprintf(&b, "%q: %v (%s)\n", line, v, options.FormatDuration(v))
				}
			}
			return b.String()
		case "memory":
			var b strings.Builder
			for _, line := range strings.Split(d.Input, "\n") {
				v, err := options.ParseMemorySize(line)
				if err != nil {
					fmt.Fprintf(&b, "%q: error: %v\n", line, err)
				} else {
					fmt.Fprintf(&b, "%q: %d (%s)\n", line, int64(v), v)
				}
			}
			return b.String()
		}
		t.Fatalf("unknown command %s", d.Cmd)
		return ""
	})
}

func dumpResolved(set string, r *options.Resolved) string {
	var b strings.Builder
	fmt.Fprintf(&b, "given: %s\n", strings.Join(r.GivenKeys(), ", "))
	switch set {
	case "kafka":
		fmt.Fprintf(&b, "topic=%q\n", kafkaTopic.Get(r))
		fmt.Fprintf(&b, "scan.startup.mode=%q\n", kafkaMode.Get(r))
		g, given := kafkaGuar.Lookup(r)
		fmt.Fprintf(&b, "sink.delivery-guarantee=%q given=%v\n", g, given)
		fmt.Fprintf(&b, "interval=%v\n", kafkaInterval.Get(r))
		fmt.Fprintf(&b, "key.fields=%q\n", kafkaFields.Get(r))
		fmt.Fprintf(&b, "buffer=%s\n", kafkaBuf.Get(r))
		fmt.Fprintf(&b, "parallelism=%d\n", kafkaPar.Get(r))
		fmt.Fprintf(&b, "json.ignore-parse-errors=%v\n", kafkaJSON.Get(r))
		props := kafkaProps.Get(r)
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "properties: %s=%s\n", k, props[k])
		}
	case "datagen":
		fmt.Fprintf(&b, "rows-per-second=%d number-of-rows=%d (given %v)\n", dgRate.Get(r), dgRows.Get(r), dgRows.Has(r))
		for _, f := range r.Placeholders("fields.") {
			end, hasEnd := dgLegacy.At(f).Lookup(r)
			fmt.Fprintf(&b, "field %s: kind=%s min=%q max=%q length=%d null-rate=%v max-past=%v end=%q(%v)\n", f,
				dgKind.At(f).Get(r), dgMin.At(f).Get(r), dgMax.At(f).Get(r), dgLen.At(f).Get(r),
				dgNull.At(f).Get(r), dgPast.At(f).Get(r), end, hasEnd)
		}
		fmt.Fprintf(&b, "Get[int64](rows-per-second)=%d\n", options.Get[int64](r, "rows-per-second"))
	}
	return b.String()
}
