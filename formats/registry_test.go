package formats_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/builtin"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/formats/json"
	"github.com/sluicesql/sluice/formats/raw"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// discover <format key> [encode]: the input is "key=value" lines, the first one "schema=...".
func TestDiscover(t *testing.T) {
	reg := builtin.Registry()
	datadriven.RunTest(t, "testdata/discover", func(t *testing.T, d *datadriven.TestData) string {
		opts := map[string]string{}
		var rowType types.Type
		for _, l := range strings.Split(d.Input, "\n") {
			k, v, _ := strings.Cut(l, "=")
			if k == "schema" {
				rowType = formattest.MustSchema(v)
				continue
			}
			opts[k] = v
		}
		key := d.CmdArgs[0].Key
		encode := d.HasArg("encode")
		disc, err := reg.Discover(opts, key, rowType, encode)
		if err != nil {
			var oe *options.Error
			if !errors.Is(err, options.ErrValidation) {
				t.Errorf("error does not wrap ErrValidation: %v", err)
			}
			keys := ""
			if errors.As(err, &oe) {
				keys = fmt.Sprintf(" (keys %v)", oe.Keys)
			}
			return "error" + keys + ": " + err.Error() + "\n"
		}
		if disc == nil {
			return "not set\n"
		}
		return fmt.Sprintf("format %s, prefix %q, consumed %v, decoder %v, encoder %v\n",
			disc.Identifier, disc.Prefix, disc.Consumed, disc.Decoder != nil, disc.Encoder != nil)
	})
}

func TestLookup(t *testing.T) {
	_, err := builtin.Registry().Lookup("jsn")
	want := "Could not find any factory for identifier 'jsn' that implements 'Format'. Available factory identifiers are:\n\navro\navro-confluent\ncsv\ndebezium-avro-confluent\ndebezium-json\njson\nparquet\nraw\n\nDid you mean 'json'?"
	if err == nil || err.Error() != want || !errors.Is(err, options.ErrValidation) {
		t.Errorf("got %v", err)
	}
	if got := formats.NewRegistry(json.NewFactory()).With(raw.NewFactory()).Names(); fmt.Sprint(got) != "[json raw]" {
		t.Errorf("With: %v", got)
	}
}
