package raw_test

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/formats/raw"
	"github.com/sluicesql/sluice/types"
)

// Commands: decode / roundtrip with options as arguments; the first input line is the schema, the others
// are messages in hex ("nil" for a null message).
func TestRaw(t *testing.T) {
	f := raw.NewFactory()
	datadriven.RunTest(t, "testdata/raw", func(t *testing.T, d *datadriven.TestData) string {
		lines := strings.Split(d.Input, "\n")
		rowType, err := formattest.ParseSchema(lines[0])
		if err != nil {
			t.Fatal(err)
		}
		opts := map[string]string{}
		for _, a := range d.CmdArgs {
			opts[a.Key] = strings.Join(a.Vals, ",")
		}
		ctx := formats.Context{RowType: rowType, Options: opts}
		dec, err := f.CreateDecoder(ctx)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		enc, err := f.CreateEncoder(ctx)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		var out strings.Builder
		row := make([]types.Value, 1)
		for _, l := range lines[1:] {
			var msg []byte
			if l != "nil" {
				if msg, err = hex.DecodeString(l); err != nil {
					t.Fatal(err)
				}
			}
			ok, err := dec.Decode(msg, row)
			if err != nil || !ok {
				fmt.Fprintf(&out, "%s: decode ok=%v err=%v\n", l, ok, err)
				continue
			}
			b, err := enc.Encode(nil, row)
			if err != nil {
				t.Fatal(err)
			}
			back := "nil"
			if b != nil {
				back = hex.EncodeToString(b)
			}
			fmt.Fprintf(&out, "%s: %s -> %s\n", l, formattest.DumpRow(row, rowType), back)
		}
		return out.String()
	})
}
