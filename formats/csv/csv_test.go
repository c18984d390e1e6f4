package csv_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/csv"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

func cmdOptions(d *datadriven.TestData) map[string]string {
	opts := map[string]string{}
	for _, a := range d.CmdArgs {
		opts[a.Key] = strings.Join(a.Vals, ",")
	}
	return opts
}

func TestCSV(t *testing.T) {
	f := csv.NewFactory()
	datadriven.RunTest(t, "testdata/csv", func(t *testing.T, d *datadriven.TestData) string {
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
				msg = strings.ReplaceAll(msg, "⏎", "\n")
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
					// the columnar encoder writes the same bytes
					cols := make([]*vec.Col, len(dst))
					for j, f := range rowType.Fields {
						cols[j] = vec.ColFor(f.Type)
						if !cols[j].Append(0, dst[j]) {
							cols[j] = &vec.Col{Kind: vec.Values, Vals: []types.Value{dst[j]}}
						}
					}
					cb, err := enc.(*csv.Encoder).EncodeColumns(nil, cols, 0)
					if err != nil || string(cb) != string(b) {
						t.Fatalf("EncodeColumns wrote %q (%v), Encode %q", cb, err, b)
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
