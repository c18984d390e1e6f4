package csv_test

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

const typedSchema = "d2 DECIMAL(10, 2), d0 DECIMAL(18, 0), d18 DECIMAL(18, 18), d5 DECIMAL(5, 5), " +
	"ts0 TIMESTAMP(0), ts3 TIMESTAMP(3), ts6 TIMESTAMP(6), ts9 TIMESTAMP(9), ltz TIMESTAMP_LTZ(3)"

// Texts for the DECIMAL and TIMESTAMP fields: precision and scale edges (the largest and one past, rounding
// of extra fraction digits, exponents, signs, spaces), NULL literals, empty and bad texts, and timestamps of
// every fraction length, before 1970, with and without the LTZ zone.
var (
	decimalTexts = []string{
		"0", "-0", "+1", "1.5", "-1.005", "99999999.99", "-99999999.99", "99999999.995", "100000000", "1e8",
		"1E-2", "0.001", " 12.34 ", "12.", ".5", "999999999999999999", "-999999999999999999",
		"1000000000000000000", "0.999999999999999999", "0.9999999999999999995", "0.99999", "0.999995",
		"1e400", "1e-400", "abc", "1.2.3", "--1", "1e", "", "NULL", "12345678901234567890123",
	}
	timestampTexts = []string{
		"2024-02-29 23:59:59", "2024-02-29 23:59:59.1", "2024-02-29 23:59:59.123", "2024-02-29 23:59:59.123456",
		"2024-02-29 23:59:59.123456789", "1969-12-31 23:59:59.999999999", "1900-01-01 00:00:00.5",
		" 2020-01-01 00:00:00 ", "2020-01-01T00:00:00", "2020-01-01 00:00:00Z", "2020-01-01 00:00:00.25Z",
		"2023-02-29 00:00:00", "2020-13-01 00:00:00", "2020-01-01", "2020-01-01 24:00:00", "x", "", "NULL",
	}
)

// For random records of DECIMAL fields (precision ≤ 18, scales 0 to 18) and TIMESTAMP(0/3/6/9) and
// TIMESTAMP_LTZ fields made of edge texts, with and without a null literal and ignore-parse-errors:
// DecodeColumns, which writes them straight into their typed columns, gives what Decode gives: the same
// values, NULLs (for a decimal beyond its precision too) and the same error text with the field name.
func TestCSVColumnsDecimalTimestampMatchRows(t *testing.T) {
	rowType := formattest.MustSchema(typedSchema)
	rng := rand.New(rand.NewSource(7))
	for _, opts := range []map[string]string{{}, {"null-literal": "NULL"}, {"null-literal": "NULL", "ignore-parse-errors": "true"}} {
		rowDec, colDec := newColumnDecoder(t, rowType, opts), newColumnDecoder(t, rowType, opts)
		cols := make([]*vec.Col, len(rowType.Fields))
		for i, f := range rowType.Fields {
			cols[i] = vec.ColFor(f.Type)
		}
		row := make([]types.Value, len(rowType.Fields))
		n, errs, nulls := 0, 0, 0
		for k := 0; k < 3000; k++ {
			fields := make([]string, len(rowType.Fields))
			for i, f := range rowType.Fields {
				texts := decimalTexts
				if f.Type.Kind != types.Decimal {
					texts = timestampTexts
				}
				fields[i] = texts[rng.Intn(len(texts))]
				if i > 0 && rng.Intn(4) != 0 {
					fields[i] = goodText(rng, f.Type)
				}
			}
			m := []byte(strings.Join(fields, ","))
			clear(row)
			ok, err := rowDec.Decode(m, row)
			cok, cerr := colDec.DecodeColumns(m, cols, n)
			if fmt.Sprint(ok, err) != fmt.Sprint(cok, cerr) {
				t.Fatalf("options %v record %q:\nDecode        %v %v\nDecodeColumns %v %v", opts, m, ok, err, cok, cerr)
			}
			if err != nil {
				errs++
			}
			if !cok {
				continue
			}
			vals := make([]types.Value, len(cols))
			for j, c := range cols {
				vals[j] = c.Value(n)
				if vals[j].IsNull() {
					nulls++
				}
			}
			if got, want := formattest.DumpRow(vals, rowType), formattest.DumpRow(row, rowType); got != want {
				t.Fatalf("options %v record %q:\ncolumns %s\nrows    %s", opts, m, got, want)
			}
			n++
		}
		if n < 300 || nulls == 0 || errs == 0 && opts["ignore-parse-errors"] == "" {
			t.Fatalf("options %v: %d records decoded, %d NULLs, %d errors: the comparison is too thin", opts, n, nulls, errs)
		}
	}
}

// goodText is a random valid text for a DECIMAL or TIMESTAMP field of type t.
func goodText(rng *rand.Rand, t types.Type) string {
	if t.Kind == types.Decimal {
		var b strings.Builder
		if rng.Intn(2) == 0 {
			b.WriteByte('-')
		}
		b.WriteByte('0')
		for i := rng.Intn(t.Precision - t.Scale + 1); i > 0; i-- {
			b.WriteByte(byte('0' + rng.Intn(10)))
		}
		if t.Scale > 0 {
			b.WriteByte('.')
			for i := rng.Intn(t.Scale) + 1; i > 0; i-- {
				b.WriteByte(byte('0' + rng.Intn(10)))
			}
		}
		return b.String()
	}
	s := fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", 1900+rng.Intn(200), 1+rng.Intn(12), 1+rng.Intn(28),
		rng.Intn(24), rng.Intn(60), rng.Intn(60))
	if f := rng.Intn(10); f > 0 {
		s += "." + fmt.Sprintf("%09d", rng.Int63n(1_000_000_000))[:f]
	}
	if t.Kind == types.TimestampLTZ {
		s += "Z"
	}
	return s
}

// Per record of a DECIMAL(10, 2), a DECIMAL(18, 6), a TIMESTAMP(3) and a TIMESTAMP(6) field.
func BenchmarkCSVDecodeColumnsDecimalTimestamp(b *testing.B) {
	rowType := formattest.MustSchema("a DECIMAL(10, 2), b DECIMAL(18, 6), c TIMESTAMP(3), d TIMESTAMP(6)")
	dec := newColumnDecoder(b, rowType, nil)
	recs := [][]byte{
		[]byte("12345.67,123456789012.345678,2024-05-01 12:34:56.789,2024-05-01 12:34:56.789123"),
		[]byte("-0.5,-1.25,1999-12-31 23:59:59,1999-12-31 23:59:59.000001"),
	}
	cols := make([]*vec.Col, len(rowType.Fields))
	for i, f := range rowType.Fields {
		cols[i] = vec.ColFor(f.Type)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		row := i % 1024
		if row == 0 {
			for _, c := range cols {
				c.Truncate(0)
			}
		}
		if _, err := dec.DecodeColumns(recs[i&1], cols, row); err != nil {
			b.Fatal(err)
		}
	}
}
