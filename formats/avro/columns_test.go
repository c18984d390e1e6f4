package avro_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/avro"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

const columnsSchema = "b BOOLEAN, ti TINYINT, si SMALLINT, i INT NOT NULL, l BIGINT, f FLOAT, d DOUBLE, " +
	"dec DECIMAL(10, 2), wide DECIMAL(30, 5), s STRING, bin BYTES, day DATE, tod TIME(3), ts TIMESTAMP(3), " +
	"ts6 TIMESTAMP(6), ltz TIMESTAMP_LTZ(3), arr ARRAY<INT>, m MAP<STRING, BIGINT>, " +
	"r ROW<a INT, s STRING, inner ROW<x DOUBLE, y STRING NOT NULL>>, name STRING NOT NULL"

// columnDecoder is what connectors look for in a value format that decodes into columns.
type columnDecoder interface {
	formats.Decoder
	formats.Projector
	DecodesColumns() bool
	DecodeColumns(data []byte, cols []*vec.Col, row int) (bool, error)
}

func newColumns(rowType types.Type) []*vec.Col {
	cols := make([]*vec.Col, len(rowType.Fields))
	for i, f := range rowType.Fields {
		cols[i] = vec.ColFor(f.Type)
	}
	return cols
}

// dumpColumns reads row i back from the columns.
func dumpColumns(cols []*vec.Col, i int, rowType types.Type) string {
	vals := make([]types.Value, len(cols))
	for j, c := range cols {
		vals[j] = c.Value(i)
	}
	return formattest.DumpRow(vals, rowType)
}

// randomProjection needs each field with probability 1/2, and for ROW fields sometimes only some members.
func randomProjection(rng *rand.Rand, rowType types.Type) *formats.Projection {
	p := &formats.Projection{Need: make([]bool, len(rowType.Fields)), Sub: make([]*formats.Projection, len(rowType.Fields))}
	for i, f := range rowType.Fields {
		p.Need[i] = rng.Intn(2) == 0
		if f.Type.Kind == types.Row && rng.Intn(2) == 0 {
			p.Sub[i] = randomProjection(rng, f.Type)
		}
	}
	return p
}

func encodeRandom(t *testing.T, rowType types.Type, n int, seed int64) [][]byte {
	t.Helper()
	enc, err := avro.NewFactory().CreateEncoder(formats.Context{RowType: rowType})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(seed))
	var msgs [][]byte
	for k := 0; k < n; k++ {
		b, err := enc.Encode(nil, formattest.RandomRow(rng, rowType))
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, b)
	}
	return msgs
}

func newColumnDecoder(t *testing.T, rowType types.Type) columnDecoder {
	t.Helper()
	d, err := avro.NewFactory().CreateDecoder(formats.Context{RowType: rowType})
	if err != nil {
		t.Fatal(err)
	}
	cd, ok := d.(columnDecoder)
	if !ok || !cd.DecodesColumns() {
		t.Fatalf("the avro decoder does not decode %s into columns", rowType)
	}
	return cd
}

// For random records of every supported type (NULLs, nested ROWs, both DECIMAL widths, TIMESTAMP(3) and
// (6), arrays, maps), without and with random projections (nested ones too), DecodeColumns gives the rows
// Decode gives, read back from the columns.
func TestAvroColumnsMatchRows(t *testing.T) {
	rowType := formattest.MustSchema(columnsSchema)
	msgs := encodeRandom(t, rowType, 400, 1)
	rng := rand.New(rand.NewSource(2))
	for round := 0; round < 8; round++ {
		var proj *formats.Projection
		if round > 0 {
			proj = randomProjection(rng, rowType)
		}
		rowDec, colDec := newColumnDecoder(t, rowType), newColumnDecoder(t, rowType)
		if proj != nil {
			rowDec.Project(proj)
			colDec.Project(proj)
		}
		cols := newColumns(rowType)
		row := make([]types.Value, len(rowType.Fields))
		for i, m := range msgs {
			clear(row)
			if ok, err := rowDec.Decode(m, row); !ok || err != nil {
				t.Fatalf("record %d: Decode: %v %v", i, ok, err)
			}
			if ok, err := colDec.DecodeColumns(m, cols, i); !ok || err != nil {
				t.Fatalf("record %d: DecodeColumns: %v %v", i, ok, err)
			}
			want := formattest.DumpRow(row, rowType)
			if got := dumpColumns(cols, i, rowType); got != want {
				t.Fatalf("round %d record %d:\ncolumns %s\nrows    %s", round, i, got, want)
			}
			for j, f := range rowType.Fields {
				if proj != nil && !proj.Needs(j) && !cols[j].IsNull(i) {
					t.Fatalf("record %d: field %s is not projected but not NULL", i, f.Name)
				}
			}
		}
	}
}

// Schema evolution: a writer schema with fields in another order, extra fields (a nested record, an array
// of records, a map, a union of several types), promotions (int to long and to double, string to bytes) and
// a reader field missing from the writer (its default) resolves in DecodeColumns as in Decode.
func TestAvroColumnsSchemaEvolution(t *testing.T) {
	writer, err := avro.ParseSchema(`{"type":"record","name":"w","fields":[
		{"name":"extra","type":{"type":"record","name":"x","fields":[{"name":"q","type":"string"},{"name":"z","type":{"type":"array","items":"long"}}]}},
		{"name":"n","type":"int"},
		{"name":"many","type":["null","string","long",{"type":"map","values":"double"}]},
		{"name":"s","type":["null","string"]},
		{"name":"recs","type":{"type":"array","items":"x"}},
		{"name":"f","type":"int"},
		{"name":"r","type":["null",{"type":"record","name":"rr","fields":[{"name":"skipme","type":"bytes"},{"name":"a","type":"int"}]}]}
	]}`)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := avro.ParseSchema(`{"type":"record","name":"w","fields":[
		{"name":"s","type":["null","bytes"]},
		{"name":"n","type":"long"},
		{"name":"f","type":"double"},
		{"name":"r","type":["null",{"type":"record","name":"rr","fields":[{"name":"a","type":"long"},{"name":"b","type":"string","default":"dflt"}]}]},
		{"name":"def","type":"int","default":42}
	]}`)
	if err != nil {
		t.Fatal(err)
	}
	rowType := formattest.MustSchema("s BYTES, n BIGINT, f DOUBLE, r ROW<a BIGINT, b STRING>, def INT")
	plan, err := avro.NewDecodePlan(writer, rowType, reader)
	if err != nil {
		t.Fatal(err)
	}
	wType := formattest.MustSchema("extra ROW<q STRING NOT NULL, z ARRAY<BIGINT NOT NULL> NOT NULL> NOT NULL, n INT NOT NULL, " +
		"many STRING, s STRING, recs ARRAY<ROW<q STRING NOT NULL, z ARRAY<BIGINT NOT NULL> NOT NULL> NOT NULL> NOT NULL, f INT NOT NULL, " +
		"r ROW<skipme BYTES NOT NULL, a INT NOT NULL>")
	enc, err := avro.NewEncodePlan(wType, writer)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(3))
	cols := newColumns(rowType)
	for i := 0; i < 300; i++ {
		w := formattest.RandomRow(rng, wType)
		msg, err := enc.Append(nil, w)
		if err != nil {
			t.Fatal(err)
		}
		row := make([]types.Value, len(rowType.Fields))
		n, err := plan.Decode(msg, row)
		if err != nil || n != len(msg) {
			t.Fatalf("record %d: Decode read %d of %d: %v", i, n, len(msg), err)
		}
		if n, err := plan.DecodeColumns(msg, cols, i); err != nil || n != len(msg) {
			t.Fatalf("record %d: DecodeColumns read %d of %d: %v", i, n, len(msg), err)
		}
		if got, want := dumpColumns(cols, i, rowType), formattest.DumpRow(row, rowType); got != want {
			t.Fatalf("record %d:\ncolumns %s\nrows    %s", i, got, want)
		}
	}
}

// Malformed records (every record cut short at every length, and with random bytes overwritten) fail in
// DecodeColumns with Decode's error, and leave the columns with the rows they had.
func TestAvroColumnsErrors(t *testing.T) {
	rowType := formattest.MustSchema(columnsSchema)
	msgs := encodeRandom(t, rowType, 40, 4)
	rng := rand.New(rand.NewSource(5))
	rowDec, colDec := newColumnDecoder(t, rowType), newColumnDecoder(t, rowType)
	cols := newColumns(rowType)
	row := make([]types.Value, len(rowType.Fields))
	n, failures := 0, 0
	check := func(m []byte) {
		ok, err := rowDec.Decode(m, row)
		cok, cerr := colDec.DecodeColumns(m, cols, n)
		if fmt.Sprint(ok, err) != fmt.Sprint(cok, cerr) {
			t.Fatalf("message %x:\nDecode        %v %v\nDecodeColumns %v %v", m, ok, err, cok, cerr)
		}
		if !cok {
			failures++
			for j, c := range cols {
				if c.Len() != n {
					t.Fatalf("message %x: column %d has %d rows after an error, want %d", m, j, c.Len(), n)
				}
			}
			return
		}
		if got, want := dumpColumns(cols, n, rowType), formattest.DumpRow(row, rowType); got != want {
			t.Fatalf("message %x:\ncolumns %s\nrows    %s", m, got, want)
		}
		n++
	}
	for _, m := range msgs {
		for cut := 0; cut < len(m); cut++ {
			check(m[:cut])
		}
		for k := 0; k < 20; k++ {
			b := append([]byte(nil), m...)
			b[rng.Intn(len(b))] = byte(rng.Intn(256))
			check(b)
		}
		check(append(append([]byte(nil), m...), 0))
	}
	if failures == 0 || n == 0 {
		t.Fatalf("%d failures and %d rows: the test did not exercise both", failures, n)
	}
}

// Fields a query does not read are not materialized: with a projection of the INT column alone, the other
// columns stay NULL and empty (no string bytes in their arenas), and Decode allocates nothing per record,
// where it allocates the strings, bytes, arrays, maps and rows of the other fields without the projection.
func TestAvroColumnsProjectionSkips(t *testing.T) {
	rowType := formattest.MustSchema(columnsSchema)
	msgs := encodeRandom(t, rowType, 200, 6)
	need := &formats.Projection{Need: make([]bool, len(rowType.Fields))}
	need.Need[3] = true // i
	dec := newColumnDecoder(t, rowType)
	dec.Project(need)
	cols := newColumns(rowType)
	for i, m := range msgs {
		if ok, err := dec.DecodeColumns(m, cols, i); !ok || err != nil {
			t.Fatalf("record %d: %v %v", i, ok, err)
		}
	}
	for j, c := range cols {
		if j == 3 {
			if c.Nulls.Any() {
				t.Fatal("the projected column has NULLs")
			}
			continue
		}
		vals := 0
		for _, v := range c.Vals {
			if !v.IsNull() {
				vals++
			}
		}
		if c.Nulls.Count() != len(msgs) || len(c.Data) != 0 || vals != 0 {
			t.Fatalf("column %s: %d NULLs of %d rows, %d arena bytes, %d values: it was materialized",
				rowType.Fields[j].Name, c.Nulls.Count(), len(msgs), len(c.Data), vals)
		}
	}
	row := make([]types.Value, len(rowType.Fields))
	full := newColumnDecoder(t, rowType)
	allocs := func(d formats.Decoder) float64 {
		k := 0
		return testing.AllocsPerRun(200, func() {
			if ok, err := d.Decode(msgs[k%len(msgs)], row); !ok || err != nil {
				t.Fatal(err)
			}
			k++
		})
	}
	if a := allocs(dec); a != 0 {
		t.Errorf("Decode with the projection allocates %.1f times per record, want 0", a)
	}
	if a := allocs(full); a < 2 {
		t.Errorf("Decode without a projection allocates %.1f times per record: the check above proves nothing", a)
	}
}

// Decimals that do not fit the reader's precision (the writer's is wider), at the edges of 64 bits and
// wider, in bytes and fixed: DecodeColumns gives Decode's values and errors.
func TestAvroColumnsDecimalRange(t *testing.T) {
	writer, err := avro.ParseSchema(`{"type":"record","name":"w","fields":[
		{"name":"a","type":{"type":"bytes","logicalType":"decimal","precision":38,"scale":2}},
		{"name":"b","type":{"type":"fixed","name":"f","size":16,"logicalType":"decimal","precision":38,"scale":2}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	wType := formattest.MustSchema("a DECIMAL(38, 2) NOT NULL, b DECIMAL(38, 2) NOT NULL")
	enc, err := avro.NewEncodePlan(wType, writer)
	if err != nil {
		t.Fatal(err)
	}
	for _, reader := range []string{"a DECIMAL(4, 2), b DECIMAL(4, 2)", "a DECIMAL(18, 2), b DECIMAL(18, 2)", "a DECIMAL(20, 2), b DECIMAL(10, 3)"} {
		rowType := formattest.MustSchema(reader)
		plan, err := avro.NewDecodePlan(writer, rowType, nil)
		if err != nil {
			t.Fatal(err)
		}
		cols := newColumns(rowType)
		n, fails := 0, 0
		for _, text := range []string{"12.34", "-99.99", "100.00", "-100.00", "9999999999999999.99", "10000000000000000.00",
			"-9223372036854775.808", "92233720368547758.07", "-92233720368547758.08", "123456789012345678901234567.89", "0.00"} {
			v := jsonRow(t, wType, `{"a":`+text+`,"b":`+text+`}`)
			msg, err := enc.Append(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			row := make([]types.Value, 2)
			_, rerr := plan.Decode(msg, row)
			_, cerr := plan.DecodeColumns(msg, cols, n)
			if fmt.Sprint(rerr) != fmt.Sprint(cerr) {
				t.Fatalf("%s as %s:\nDecode        %v\nDecodeColumns %v", text, reader, rerr, cerr)
			}
			if cerr != nil {
				fails++
				continue
			}
			if got, want := dumpColumns(cols, n, rowType), formattest.DumpRow(row, rowType); got != want {
				t.Fatalf("%s as %s:\ncolumns %s\nrows    %s", text, reader, got, want)
			}
			n++
		}
		if n == 0 || fails == 0 && reader != "a DECIMAL(20, 2), b DECIMAL(10, 3)" {
			t.Fatalf("%s: %d decoded, %d failed", reader, n, fails)
		}
	}
}
