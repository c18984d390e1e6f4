package json_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/formats/json"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

func cmdOptions(d *datadriven.TestData) map[string]string {
	opts := map[string]string{}
	for _, a := range d.CmdArgs {
		opts[a.Key] = strings.Join(a.Vals, ",")
	}
	return opts
}

func TestJSON(t *testing.T) {
	f := json.NewFactory()
	datadriven.RunTest(t, "testdata/json", func(t *testing.T, d *datadriven.TestData) string {
		lines := strings.Split(d.Input, "\n")
		rowType, err := formattest.ParseSchema(lines[0])
		if err != nil {
			t.Fatal(err)
		}
		opts := cmdOptions(d)
		var out strings.Builder
		switch d.Cmd {
		case "decode", "roundtrip":
			dec, err := f.CreateDecoder(formats.Context{RowType: rowType, Options: opts})
			if err != nil {
				return "create error: " + err.Error() + "\n"
			}
			enc, err := f.CreateEncoder(formats.Context{RowType: rowType, Options: opts})
			if err != nil {
				return "create error: " + err.Error() + "\n"
			}
			dst := make([]types.Value, len(rowType.Fields))
			for _, msg := range lines[1:] {
				ok, err := dec.Decode([]byte(msg), dst)
				switch {
				case err != nil:
					var re *formats.RecordError
					if !errors.Is(err, formats.ErrDecode) || !errors.As(err, &re) {
						t.Fatalf("error %v is not a RecordError wrapping ErrDecode", err)
					}
					fmt.Fprintf(&out, "error (field %q): %v\n", re.Field, err)
				case !ok:
					out.WriteString("skipped\n")
				case d.Cmd == "decode":
					out.WriteString(formattest.DumpRow(dst, rowType) + "\n")
				default:
					b, err := enc.Encode(nil, dst)
					if err != nil {
						fmt.Fprintf(&out, "encode error: %v\n", err)
						continue
					}
					out.WriteString(string(b) + "\n")
				}
			}
		default:
			t.Fatalf("unknown command %s", d.Cmd)
		}
		return out.String()
	})
}

func TestEncodeMapNullKeys(t *testing.T) {
	rowType := formattest.MustSchema("m MAP<STRING, INT>, s MULTISET<STRING>")
	m := types.MapOf(&types.MapValue{
		Keys: []types.Value{types.StringValue("a"), types.NullValue, types.StringValue("b")},
		Vals: []types.Value{types.IntValue(1), types.IntValue(2), types.NullValue},
	})
	ms := types.ArrayValue([]types.Value{types.StringValue("x"), types.NullValue, types.StringValue("x")})
	row := []types.Value{m, types.NullValue}
	for _, c := range []struct {
		mode, lit string
		row       []types.Value
		want      string
	}{
		{"FAIL", "", row, "error: failed to serialize JSON: field 'm': JSON format doesn't support to serialize map data with null keys. You can drop null key entries or encode null in literals by specifying map-null-key.mode option."},
		{"DROP", "", row, `{"m":{"a":1,"b":null},"s":null}`},
		{"LITERAL", "", row, `{"m":{"a":1,"null":2,"b":null},"s":null}`},
		{"literal", "N/A", row, `{"m":{"a":1,"N/A":2,"b":null},"s":null}`},
		{"DROP", "", []types.Value{types.NullValue, ms}, `{"m":null,"s":{"x":2}}`},
		{"LITERAL", "", []types.Value{types.NullValue, ms}, `{"m":null,"s":{"null":1,"x":2}}`},
	} {
		opts := map[string]string{"map-null-key.mode": c.mode}
		if c.lit != "" {
			opts["map-null-key.literal"] = c.lit
		}
		enc, err := json.NewFactory().CreateEncoder(formats.Context{RowType: rowType, Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		b, err := enc.Encode([]byte("prefix:"), c.row)
		got := strings.TrimPrefix(string(b), "prefix:")
		if err != nil {
			if !errors.Is(err, formats.ErrEncode) {
				t.Errorf("error does not wrap ErrEncode: %v", err)
			}
			got = "error: " + err.Error()
		}
		if got != c.want {
			t.Errorf("%s/%s:\n got %s\nwant %s", c.mode, c.lit, got, c.want)
		}
	}
}

func TestOptionErrors(t *testing.T) {
	rowType := formattest.MustSchema("a INT")
	for _, c := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"fail-on-missing-field": "true", "ignore-parse-errors": "true"}, "fail-on-missing-field and ignore-parse-errors shouldn't both be true."},
		{map[string]string{"timestamp-format.standard": "RFC"}, "Invalid value for option 'timestamp-format.standard': 'RFC' (want one of SQL, ISO-8601)"},
		{map[string]string{"ignore-parse-error": "true"}, "Unsupported options found for 'json'."},
	} {
		_, err := json.NewFactory().CreateDecoder(formats.Context{RowType: rowType, Options: c.opts})
		if err == nil || !errors.Is(err, options.ErrValidation) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %s", c.opts, err, c.want)
		}
	}
	_, err := json.NewFactory().CreateDecoder(formats.Context{RowType: formattest.MustSchema("m MAP<INT, INT>"), Options: nil})
	if err == nil || !strings.Contains(err.Error(), "JSON format doesn't support non-string as key type of map") {
		t.Errorf("map key: %v", err)
	}
}
