package debezium_test

import (
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/debezium"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/types"
)

// TestDebeziumJSON: the first input line is the row schema, the others are messages (decode) or changelog
// rows written as `+I (1, "a")` with the values as json (encode: one JSON array per row).
func TestDebeziumJSON(t *testing.T) {
	f := debezium.NewJSONFactory()
	datadriven.RunTest(t, "testdata/debezium-json", func(t *testing.T, d *datadriven.TestData) string {
		lines := strings.Split(d.Input, "\n")
		rowType, err := formattest.ParseSchema(lines[0])
		if err != nil {
			t.Fatal(err)
		}
		opts := map[string]string{}
		for _, a := range d.CmdArgs {
			opts[a.Key] = strings.Join(a.Vals, ",")
		}
		var out strings.Builder
		switch d.Cmd {
		case "decode":
			dec, err := f.CreateDecoder(formats.Context{RowType: rowType, Options: opts})
			if err != nil {
				return "create error: " + err.Error() + "\n"
			}
			cd := dec.(formats.ChangelogDecoder)
			for _, msg := range lines[1:] {
				if msg == "<tombstone>" {
					msg = ""
				}
				n := 0
				err := cd.DecodeChangelog([]byte(msg), func(k changelog.Kind, row []types.Value) error {
					n++
					out.WriteString(k.String() + " " + formattest.DumpRow(row, rowType) + "\n")
					return nil
				})
				if err != nil {
					out.WriteString("error: " + err.Error() + "\n")
				} else if n == 0 {
					out.WriteString("(skipped)\n")
				}
			}
		case "roundtrip":
			// Decode each message, re-encode every emitted row with its kind, and show the result.
			dec, err := f.CreateDecoder(formats.Context{RowType: rowType, Options: opts})
			if err != nil {
				return "create error: " + err.Error() + "\n"
			}
			enc, err := f.CreateEncoder(formats.Context{RowType: rowType, Options: opts})
			if err != nil {
				return "create error: " + err.Error() + "\n"
			}
			ce := enc.(formats.ChangelogEncoder)
			for _, msg := range lines[1:] {
				err := dec.(formats.ChangelogDecoder).DecodeChangelog([]byte(msg), func(k changelog.Kind, row []types.Value) error {
					b, err := ce.EncodeChangelog(nil, k, row)
					if err != nil {
						return err
					}
					out.WriteString(k.String() + " " + string(b) + "\n")
					return nil
				})
				if err != nil {
					out.WriteString("error: " + err.Error() + "\n")
				}
			}
		default:
			t.Fatalf("unknown command %s", d.Cmd)
		}
		return out.String()
	})
}
