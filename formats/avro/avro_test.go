package avro_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/avro"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/formats/json"
	"github.com/sluicesql/sluice/types"
)

func cmdOptions(d *datadriven.TestData) map[string]string {
	opts := map[string]string{}
	for _, a := range d.CmdArgs {
		opts[a.Key] = strings.Join(a.Vals, ",")
	}
	return opts
}

// jsonRows turns JSON lines into rows of rowType with the json format, so tests can write values readably.
func jsonRow(t *testing.T, rowType types.Type, line string) []types.Value {
	t.Helper()
	dec, err := json.NewFactory().CreateDecoder(formats.Context{RowType: rowType})
	if err != nil {
		t.Fatal(err)
	}
	row := make([]types.Value, len(rowType.Fields))
	if ok, err := dec.Decode([]byte(line), row); !ok || err != nil {
		t.Fatalf("json %s: %v", line, err)
	}
	return row
}

func recordErr(t *testing.T, err error, sentinel error) string {
	var re *formats.RecordError
	if !errors.Is(err, sentinel) || !errors.As(err, &re) {
		t.Fatalf("error %v is not a RecordError wrapping %v", err, sentinel)
	}
	return fmt.Sprintf("error (field %q): %v", re.Field, err)
}

// TestAvro runs testdata/avro:
//
//	schema [options]      derived schema of the column list
//	roundtrip [options]   columns, then JSON rows: each row is encoded (hex shown), decoded and dumped
//	decode [options]      columns, then hex messages: decoded and dumped
//	evolve                'writer <columns>' or 'writer-schema <json>' (+ 'writer-type <columns>'), 'reader
//	                      <columns>' or 'reader-schema <json>' (+ 'reader-type <columns>'), then JSON rows of
//	                      the writer type: written with the writer schema, read into the reader type.
func TestAvro(t *testing.T) {
	f := avro.NewFactory()
	datadriven.RunTest(t, "testdata/avro", func(t *testing.T, d *datadriven.TestData) string {
		lines := strings.Split(d.Input, "\n")
		opts := cmdOptions(d)
		var out strings.Builder
		switch d.Cmd {
		case "schema":
			rowType := formattest.MustSchema(lines[0])
			_, err := f.CreateDecoder(formats.Context{RowType: rowType, Options: opts})
			if err != nil {
				return "create error: " + err.Error() + "\n"
			}
			s, err := avro.DeriveSchema(rowType, avro.DeriveOptions{LocalTimestamps: opts["timestamp_mapping.legacy"] == "false"})
			if err != nil {
				t.Fatal(err)
			}
			// The derived schema must parse and survive canonicalization.
			if _, err := avro.ParseSchema(s); err != nil {
				t.Fatalf("derived schema does not parse: %v", err)
			}
			return s + "\n"
		case "roundtrip", "decode":
			rowType := formattest.MustSchema(lines[0])
			dec, err := f.CreateDecoder(formats.Context{RowType: rowType, Options: opts})
			if err != nil {
				return "create error: " + err.Error() + "\n"
			}
			enc, err := f.CreateEncoder(formats.Context{RowType: rowType, Options: opts})
			if err != nil {
				return "create error: " + err.Error() + "\n"
			}
			dst := make([]types.Value, len(rowType.Fields))
			for _, line := range lines[1:] {
				var msg []byte
				if d.Cmd == "roundtrip" {
					row := jsonRow(t, rowType, line)
					msg, err = enc.Encode(nil, row)
					if err != nil {
						out.WriteString(recordErr(t, err, formats.ErrEncode) + "\n")
						continue
					}
					fmt.Fprintf(&out, "%x\n", msg)
				} else {
					msg, err = hex.DecodeString(strings.ReplaceAll(line, " ", ""))
					if err != nil {
						t.Fatal(err)
					}
				}
				ok, err := dec.Decode(msg, dst)
				switch {
				case err != nil:
					out.WriteString(recordErr(t, err, formats.ErrDecode) + "\n")
				case !ok:
					out.WriteString("skipped\n")
				default:
					out.WriteString(formattest.DumpRow(dst, rowType) + "\n")
					if d.Cmd == "roundtrip" {
						again, err := enc.Encode(nil, dst)
						if err != nil || string(again) != string(msg) {
							t.Errorf("re-encoding the decoded row gives %x, %v; want %x", again, err, msg)
						}
					}
				}
			}
		case "evolve":
			var wType, rType types.Type
			var wSchema, rSchema string
			var rows []string
			for _, line := range lines {
				word, rest, _ := strings.Cut(line, " ")
				switch word {
				case "writer":
					wType = formattest.MustSchema(rest)
				case "writer-type":
					wType = formattest.MustSchema(rest)
				case "writer-schema":
					wSchema = rest
				case "reader", "reader-type":
					rType = formattest.MustSchema(rest)
				case "reader-schema":
					rSchema = rest
				default:
					rows = append(rows, line)
				}
			}
			if wSchema == "" {
				var err error
				if wSchema, err = avro.DeriveSchema(wType, avro.DeriveOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			ws, err := avro.ParseSchema(wSchema)
			if err != nil {
				t.Fatal(err)
			}
			wplan, err := avro.NewEncodePlan(wType, ws)
			if err != nil {
				t.Fatal(err)
			}
			var rs = ws
			if rSchema != "" {
				if rs, err = avro.ParseSchema(rSchema); err != nil {
					t.Fatal(err)
				}
			} else {
				rs = nil
			}
			rplan, err := avro.NewDecodePlan(ws, rType, rs)
			if err != nil {
				return "resolve error: " + err.Error() + "\n"
			}
			dst := make([]types.Value, len(rType.Fields))
			for _, line := range rows {
				msg, err := wplan.Append(nil, jsonRow(t, wType, line))
				if err != nil {
					t.Fatal(err)
				}
				n, err := rplan.Decode(msg, dst)
				if err != nil {
					fmt.Fprintf(&out, "error: %v\n", err)
					continue
				}
				if n != len(msg) {
					t.Errorf("read %d of %d bytes", n, len(msg))
				}
				out.WriteString(formattest.DumpRow(dst, rType) + "\n")
			}
		default:
			t.Fatalf("unknown command %s", d.Cmd)
		}
		return out.String()
	})
}
