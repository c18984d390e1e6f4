package csv_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/csv"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

type columnDecoder interface {
	formats.Decoder
	formats.Projector
	DecodesColumns() bool
	DecodeColumns(data []byte, cols []*vec.Col, row int) (bool, error)
}

const colSchema = "b BOOLEAN, ti TINYINT, i INT NOT NULL, l BIGINT, f FLOAT, d DOUBLE, dec DECIMAL(10, 2), " +
	"wide DECIMAL(30, 5), s STRING, bin BYTES, day DATE, tod TIME(3), ts TIMESTAMP(3), ts6 TIMESTAMP(6), " +
	"ltz TIMESTAMP_LTZ(3), arr ARRAY<INT>, r ROW<a INT, s STRING>, name STRING NOT NULL"

// The option combinations of the row decoder: delimiter, quote (or none), escape, null literal, comments,
// ignore-parse-errors.
var colOptions = []map[string]string{
	{},
	{"null-literal": "NULL"},
	{"field-delimiter": ";", "array-element-delimiter": "|", "null-literal": "\\N", "allow-comments": "true"},
	{"field-delimiter": "\\t", "quote-character": "'", "escape-character": "\\\\", "null-literal": "null"},
	{"disable-quote-character": "true", "escape-character": "\\\\", "null-literal": "NULL"},
	{"null-literal": "NULL", "ignore-parse-errors": "true"},
	{"field-delimiter": "|", "disable-quote-character": "true", "ignore-parse-errors": "true", "allow-comments": "true"},
}

func newColumnDecoder(t testing.TB, rowType types.Type, opts map[string]string) columnDecoder {
	t.Helper()
	d, err := csv.NewFactory().CreateDecoder(formats.Context{RowType: rowType, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	cd, ok := d.(columnDecoder)
	if !ok || !cd.DecodesColumns() {
		t.Fatalf("the csv decoder does not decode %s into columns", rowType)
	}
	return cd
}

// mutate damages a record now and then: a quote, a delimiter, a letter, a '#' or an escape put somewhere,
// or a cut.
func mutate(rng *rand.Rand, b []byte) []byte {
	if len(b) == 0 || rng.Intn(3) != 0 {
		return b
	}
	b = append([]byte(nil), b...)
	switch rng.Intn(4) {
	case 0:
		return b[:rng.Intn(len(b))]
	case 1:
		b[0] = '#'
		return b
	}
	const junk = "\"',;|\t\\x9-.#:"
	b[rng.Intn(len(b))] = junk[rng.Intn(len(junk))]
	return b
}

// For random records of every type the csv format supports (NULLs, a nested ROW, both DECIMAL widths,
// TIMESTAMP(3) and (6), arrays), under each option combination, without and with random projections, and
// with records damaged at random: DecodeColumns gives what Decode gives (rows read back from the columns,
// skips, errors), and leaves the columns with the rows they had when it fails or skips.
func TestCSVColumnsMatchRows(t *testing.T) {
	rowType := formattest.MustSchema(colSchema)
	rng := rand.New(rand.NewSource(1))
	for oi, opts := range colOptions {
		enc, err := csv.NewFactory().CreateEncoder(formats.Context{RowType: rowType, Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		gen := rowType // without a null literal NULL is written as an empty field, which most types cannot read
		if _, ok := opts["null-literal"]; !ok {
			gen = notNull(rowType)
		}
		for round := 0; round < 3; round++ {
			rowDec, colDec := newColumnDecoder(t, rowType, opts), newColumnDecoder(t, rowType, opts)
			if round > 0 {
				p := &formats.Projection{Need: make([]bool, len(rowType.Fields))}
				for i := range p.Need {
					p.Need[i] = rng.Intn(2) == 0
				}
				rowDec.Project(p)
				colDec.Project(p)
			}
			cols := make([]*vec.Col, len(rowType.Fields))
			for i, f := range rowType.Fields {
				cols[i] = vec.ColFor(f.Type)
			}
			row := make([]types.Value, len(rowType.Fields))
			n, failed := 0, 0
			for k := 0; k < 400; k++ {
				m, err := enc.Encode(nil, formattest.RandomRow(rng, gen))
				if err != nil {
					t.Fatal(err)
				}
				m = mutate(rng, m)
				clear(row)
				ok, err := rowDec.Decode(m, row)
				cok, cerr := colDec.DecodeColumns(m, cols, n)
				if fmt.Sprint(ok, err) != fmt.Sprint(cok, cerr) {
					t.Fatalf("options %d record %q:\nDecode        %v %v\nDecodeColumns %v %v", oi, m, ok, err, cok, cerr)
				}
				if !cok {
					failed++
					for j, c := range cols {
						if c.Len() != n {
							t.Fatalf("record %q: column %d has %d rows after a failure, want %d", m, j, c.Len(), n)
						}
					}
					continue
				}
				vals := make([]types.Value, len(cols))
				for j, c := range cols {
					vals[j] = c.Value(n)
				}
				if got, want := formattest.DumpRow(vals, rowType), formattest.DumpRow(row, rowType); got != want {
					t.Fatalf("options %d round %d record %q:\ncolumns %s\nrows    %s", oi, round, m, got, want)
				}
				n++
			}
			if n < 100 || failed == 0 {
				t.Fatalf("options %d: only %d of 400 records decoded (%d failed): the comparison is too thin", oi, n, failed)
			}
		}
	}
}

// Fields a query does not read are not converted: with a projection of 'i' alone, the other columns are
// NULL with empty arenas, and a value that does not convert in an unread field is no error.
func TestCSVColumnsProjectionSkips(t *testing.T) {
	rowType := formattest.MustSchema("i INT, s STRING, l BIGINT, arr ARRAY<INT>")
	dec := newColumnDecoder(t, rowType, nil)
	dec.Project(&formats.Projection{Need: []bool{true, false, false, false}})
	cols := make([]*vec.Col, len(rowType.Fields))
	for i, f := range rowType.Fields {
		cols[i] = vec.ColFor(f.Type)
	}
	for k, line := range []string{"1,abc,2,3;4", "2,\"x,y\",not a number,5", "3,,,"} {
		if ok, err := dec.DecodeColumns([]byte(line), cols, k); !ok || err != nil {
			t.Fatalf("%q: %v %v", line, ok, err)
		}
	}
	if got := cols[0].I64; fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("i = %v", got)
	}
	for j, c := range cols[1:] {
		if c.Nulls.Count() != 3 || len(c.Data) != 0 {
			t.Fatalf("column %s: %d NULLs, %d arena bytes: it was materialized", rowType.Fields[j+1].Name, c.Nulls.Count(), len(c.Data))
		}
	}
	// Without the projection the bad number is an error.
	full := newColumnDecoder(t, rowType, nil)
	if _, err := full.DecodeColumns([]byte("2,x,not a number,5"), cols[:4], 0); err == nil {
		t.Fatal("no error for a bad BIGINT without the projection")
	}
}

// notNull is t with every field, member and element NOT NULL.
func notNull(t types.Type) types.Type {
	t.NotNull = true
	if t.Elem != nil {
		e := notNull(*t.Elem)
		t.Elem = &e
	}
	if t.Fields != nil {
		fs := make([]types.Field, len(t.Fields))
		for i, f := range t.Fields {
			f.Type = notNull(f.Type)
			fs[i] = f
		}
		t.Fields = fs
	}
	return t
}
