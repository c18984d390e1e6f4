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
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// TestJSONColumns runs the decode goldens of testdata/json again through DecodeColumns: every message of a
// case goes into one columnar batch (so that skipped and failed records must leave the columns as they
// were), and the rows read back from the columns must print exactly as Decode's goldens say. Cases whose
// schema has no columnar form (ROW fields) decode with Decode, as the kafka source does.
func TestJSONColumns(t *testing.T) {
	f := json.NewFactory()
	columnar := 0
	datadriven.RunTest(t, "testdata/json", func(t *testing.T, d *datadriven.TestData) string {
		lines := strings.Split(d.Input, "\n")
		rowType, err := formattest.ParseSchema(lines[0])
		if err != nil {
			t.Fatal(err)
		}
		opts := cmdOptions(d)
		dec, err := f.CreateDecoder(formats.Context{RowType: rowType, Options: opts})
		if err != nil {
			return "create error: " + err.Error() + "\n"
		}
		enc, err := f.CreateEncoder(formats.Context{RowType: rowType, Options: opts})
		if err != nil {
			return "create error: " + err.Error() + "\n"
		}
		jd := dec.(*json.Decoder)
		useCols := json.ColumnsSupported(rowType)
		cols := make([]*vec.Col, len(rowType.Fields))
		for i, fld := range rowType.Fields {
			cols[i] = vec.ColFor(fld.Type)
		}
		if useCols {
			columnar++
		}
		dst := make([]types.Value, len(rowType.Fields))
		rows := 0
		var out strings.Builder
		for _, msg := range lines[1:] {
			var ok bool
			var err error
			if useCols {
				ok, err = jd.DecodeColumns([]byte(msg), cols, rows)
				for j, c := range cols {
					want := rows
					if ok && err == nil {
						want++
					}
					if c.Len() != want {
						t.Fatalf("message %q: column %d has %d rows, want %d", msg, j, c.Len(), want)
					}
				}
				if ok && err == nil {
					for j, c := range cols {
						dst[j] = c.Value(rows)
					}
					rows++
				}
			} else {
				ok, err = dec.Decode([]byte(msg), dst)
			}
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
		// The rows already read are still intact after later records were appended, skipped or failed.
		if useCols && rows > 0 && d.Cmd == "decode" {
			var again strings.Builder
			for i := 0; i < rows; i++ {
				for j, c := range cols {
					dst[j] = c.Value(i)
				}
				again.WriteString(formattest.DumpRow(dst, rowType) + "\n")
			}
			for _, l := range strings.Split(strings.TrimSuffix(again.String(), "\n"), "\n") {
				if !strings.Contains(out.String(), l+"\n") {
					t.Fatalf("row %q read back from the columns is not among the decoded rows:\n%s", l, out.String())
				}
			}
		}
		return out.String()
	})
	if columnar == 0 {
		t.Fatal("no case of testdata/json decoded through columns")
	}
}

// BenchmarkJSONDecodeColumns is BenchmarkJSONDecode into columns, 1024 rows a batch.
func BenchmarkJSONDecodeColumns(b *testing.B) {
	dec, err := json.NewFactory().CreateDecoder(formats.Context{RowType: benchSchema})
	if err != nil {
		b.Fatal(err)
	}
	cols := make([]*vec.Col, len(benchSchema.Fields))
	for i, f := range benchSchema.Fields {
		cols[i] = vec.ColFor(f.Type)
	}
	jd := dec.(*json.Decoder)
	row := 0
	b.ReportAllocs()
	b.SetBytes(int64(len(benchMsg)))
	for b.Loop() {
		if row == 1024 {
			for _, c := range cols {
				c.Reset(0)
			}
			row = 0
		}
		if ok, err := jd.DecodeColumns(benchMsg, cols, row); !ok || err != nil {
			b.Fatal(ok, err)
		}
		row++
	}
}
