package csv_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/csv"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/formats/internal/textconv"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Wide DECIMAL fields (precision 19..38) decode straight into their 128-bit columns with textconv's
// parser: 38 digits, half-up rounding to the scale, exponents, blanks, values past the precision (NULL, as
// Flink's DecimalData.fromBigDecimal) give what Decode gives, and bad text fails as Decode fails, naming the
// field, with the columns left as they were.
func TestCSVColumnsWideDecimalEdges(t *testing.T) {
	rowType := formattest.MustSchema("a DECIMAL(38, 0), b DECIMAL(20, 2), c DECIMAL(38, 38)")
	max38 := strings.Repeat("9", 38)
	lines := []struct{ in, want string }{
		{max38 + ",1.005,0." + max38, max38 + "|1.01|0." + max38},
		{"-" + max38 + ",-1.005,-0." + max38 + "4", "-" + max38 + "|-1.01|-0." + max38},
		{"1" + strings.Repeat("0", 38) + ",999999999999999999.995,0." + max38 + "5", "null|null|null"},
		{"1.5e3,1E+2, 5e-39 ", "1500|100.00|0.00000000000000000000000000000000000001"},
		{"12345678901234567890123456789012345678.49,-0.0e10,0", "12345678901234567890123456789012345678|0.00|0.00000000000000000000000000000000000000"},
	}
	for _, l := range lines {
		rows := decodeBoth(t, rowType, l.in)
		var got []string
		for _, v := range rows {
			if v.IsNull() {
				got = append(got, "null")
				continue
			}
			got = append(got, string(textconv.AppendDecimal(nil, v, false)))
		}
		if g := strings.Join(got, "|"); g != l.want {
			t.Errorf("%q: got %s, want %s", l.in, g, l.want)
		}
	}
	// Bad text: the error of Decode, and no row in the columns.
	dec := newColumnDecoder(t, rowType, nil)
	cols := []*vec.Col{vec.ColFor(rowType.Fields[0].Type), vec.ColFor(rowType.Fields[1].Type), vec.ColFor(rowType.Fields[2].Type)}
	for _, bad := range []string{"1x,1,0", "1,1e,0", "1,1,.", "1,1,--1"} {
		rowDec, err := csv.NewFactory().CreateDecoder(formats.Context{RowType: rowType})
		if err != nil {
			t.Fatal(err)
		}
		_, rerr := rowDec.Decode([]byte(bad), make([]types.Value, 3))
		_, cerr := dec.DecodeColumns([]byte(bad), cols, 0)
		if cerr == nil || fmt.Sprint(cerr) != fmt.Sprint(rerr) {
			t.Errorf("%q: DecodeColumns error %v, Decode error %v", bad, cerr, rerr)
		}
		for j, c := range cols {
			if c.Len() != 0 {
				t.Errorf("%q: column %d has %d rows after a failure", bad, j, c.Len())
			}
		}
	}
}

// decodeBoth decodes one line with Decode and with DecodeColumns, checks they agree value for value
// (the int64 or big.Int form included) and returns the values.
func decodeBoth(t *testing.T, rowType types.Type, line string) []types.Value {
	t.Helper()
	rowDec, err := csv.NewFactory().CreateDecoder(formats.Context{RowType: rowType})
	if err != nil {
		t.Fatal(err)
	}
	row := make([]types.Value, len(rowType.Fields))
	if ok, err := rowDec.Decode([]byte(line), row); !ok || err != nil {
		t.Fatalf("%q: Decode %v %v", line, ok, err)
	}
	dec := newColumnDecoder(t, rowType, nil)
	var cols []*vec.Col
	for _, f := range rowType.Fields {
		c := vec.ColFor(f.Type)
		if c.Kind != vec.Dec128 && f.Type.Precision > 18 {
			t.Fatalf("%s: column kind %d, want Dec128", f.Type, c.Kind)
		}
		cols = append(cols, c)
	}
	if ok, err := dec.DecodeColumns([]byte(line), cols, 0); !ok || err != nil {
		t.Fatalf("%q: DecodeColumns %v %v", line, ok, err)
	}
	var vals []types.Value
	for j, c := range cols {
		v := c.Value(0)
		if got, want := formattest.DumpRow([]types.Value{v}, formattest.MustSchema("x "+rowType.Fields[j].Type.String())), formattest.DumpRow([]types.Value{row[j]}, formattest.MustSchema("x "+rowType.Fields[j].Type.String())); got != want {
			t.Errorf("%q field %d: columns %s, rows %s", line, j, got, want)
		}
		vals = append(vals, v)
	}
	return vals
}

// TestCSVColumnsWideDecimalAllocs: a wide DECIMAL of many digits (past int64) with an exponent decodes into
// its column without allocating (the value path made a big.Int per value).
func TestCSVColumnsWideDecimalAllocs(t *testing.T) {
	rowType := formattest.MustSchema("a DECIMAL(38, 4), b DECIMAL(30, 2)")
	dec := newColumnDecoder(t, rowType, nil)
	cols := []*vec.Col{vec.ColFor(rowType.Fields[0].Type), vec.ColFor(rowType.Fields[1].Type)}
	line := []byte("-1234567890123456789012345678.98765,4.5678901234567890123456789e20")
	n := 0
	allocs := testing.AllocsPerRun(1000, func() {
		if n == 2000 { // keep the columns' capacity: start over
			for _, c := range cols {
				c.D128 = c.D128[:0]
			}
			n = 0
		}
		if ok, err := dec.DecodeColumns(line, cols, n); !ok || err != nil {
			t.Fatal(ok, err)
		}
		n++
	})
	if allocs != 0 {
		t.Errorf("DecodeColumns of wide decimals: %v allocations per record, want 0", allocs)
	}
	if got := string(textconv.AppendDecimal(nil, cols[1].Value(0), false)); got != "456789012345678901234.57" {
		t.Errorf("b = %s", got)
	}
}
