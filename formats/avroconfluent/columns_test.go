package avroconfluent_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/avroconfluent"
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

const colSchema = "b BOOLEAN, i INT NOT NULL, l BIGINT, d DOUBLE, dec DECIMAL(10, 2), wide DECIMAL(30, 5), s STRING, " +
	"bin BYTES, ts TIMESTAMP(3), ts6 TIMESTAMP(6), arr ARRAY<STRING>, r ROW<a INT, inner ROW<x DOUBLE, y STRING>>"

// The evolved writer: a field the table does not have, 'l' as an INT (promoted to BIGINT), 'i' missing
// (the reader schema's default), 's' as bytes, fields in another order.
const evolvedWriter = `{"type":"record","name":"record","namespace":"org.apache.flink.avro.generated","fields":[
	{"name":"extra","type":["null",{"type":"map","values":{"type":"array","items":"string"}}],"default":null},
	{"name":"s","type":["null","bytes"],"default":null},
	{"name":"l","type":["null","int"],"default":null},
	{"name":"d","type":["null","double"],"default":null}
]}`

func newDecoder(t *testing.T, rowType types.Type, opts map[string]string) columnDecoder {
	t.Helper()
	d, err := avroconfluent.NewFactory().CreateDecoder(formats.Context{RowType: rowType, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	cd, ok := d.(columnDecoder)
	if !ok || !cd.DecodesColumns() {
		t.Fatalf("the avro-confluent decoder does not decode %s into columns", rowType)
	}
	return cd
}

// Records written with the table's schema and with an evolved writer schema (registered under other
// subjects, so that one topic holds both ids), read without and with random projections, and malformed
// messages: DecodeColumns gives Decode's rows, skips (ignore-parse-errors) and errors, and on a failure
// leaves the columns with the rows they had.
func TestAvroConfluentColumnsMatchRows(t *testing.T) {
	srv := startRegistry(t)
	rowType := formattest.MustSchema(colSchema)
	f := avroconfluent.NewFactory()
	enc, err := f.CreateEncoder(formats.Context{RowType: rowType, Options: map[string]string{"url": srv.URL(), "subject": "cols-value"}})
	if err != nil {
		t.Fatal(err)
	}
	wType := formattest.MustSchema("extra MAP<STRING, ARRAY<STRING NOT NULL> NOT NULL>, s BYTES, l INT, d DOUBLE")
	enc2, err := f.CreateEncoder(formats.Context{RowType: wType, Options: map[string]string{"url": srv.URL(), "subject": "evolved-value", "schema": evolvedWriter}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	var msgs [][]byte
	for i := 0; i < 300; i++ {
		var b []byte
		var err error
		if i%3 == 2 {
			b, err = enc2.Encode(nil, formattest.RandomRow(rng, wType))
		} else {
			b, err = enc.Encode(nil, formattest.RandomRow(rng, rowType))
		}
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, b)
	}
	good := len(msgs)
	// malformed: empty, bad magic, short header, unknown id, cut bodies, a trailing byte
	msgs = append(msgs, []byte{}, []byte{1, 0, 0, 0, 1, 2}, []byte{0, 0}, []byte{0, 0, 0, 0x7f, 0, 2})
	for _, m := range msgs[:20] {
		msgs = append(msgs, m[:5+rng.Intn(len(m)-5)], append(append([]byte(nil), m...), 7))
	}
	// The reader schema gives 'i' (NOT NULL, absent from the evolved writer) its default.
	readerSchema := `{"type":"record","name":"record","namespace":"org.apache.flink.avro.generated","fields":[
		{"name":"b","type":["null","boolean"],"default":null},{"name":"i","type":"int","default":-1},
		{"name":"l","type":["null","long"],"default":null},{"name":"d","type":["null","double"],"default":null},
		{"name":"dec","type":["null",{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}],"default":null},
		{"name":"wide","type":["null",{"type":"bytes","logicalType":"decimal","precision":30,"scale":5}],"default":null},
		{"name":"s","type":["null","string"],"default":null},{"name":"bin","type":["null","bytes"],"default":null},
		{"name":"ts","type":["null",{"type":"long","logicalType":"timestamp-millis"}],"default":null},
		{"name":"ts6","type":["null",{"type":"long","logicalType":"timestamp-micros"}],"default":null},
		{"name":"arr","type":["null",{"type":"array","items":["null","string"]}],"default":null},
		{"name":"r","type":["null",{"type":"record","name":"r","fields":[{"name":"a","type":["null","int"],"default":null},
			{"name":"inner","type":["null",{"type":"record","name":"inner","fields":[{"name":"x","type":["null","double"],"default":null},
			{"name":"y","type":["null","string"],"default":null}]}],"default":null}]}],"default":null}]}`
	for _, ignore := range []string{"false", "true"} {
		for round := 0; round < 4; round++ {
			var proj *formats.Projection
			if round > 0 {
				proj = randomProjection(rng, rowType)
			}
			opts := map[string]string{"url": srv.URL(), "schema": readerSchema, "ignore-parse-errors": ignore}
			rowDec, colDec := newDecoder(t, rowType, opts), newDecoder(t, rowType, opts)
			if proj != nil {
				rowDec.Project(proj)
				colDec.Project(proj)
			}
			cols := make([]*vec.Col, len(rowType.Fields))
			for i, f := range rowType.Fields {
				cols[i] = vec.ColFor(f.Type)
			}
			row := make([]types.Value, len(rowType.Fields))
			n, evolved := 0, 0
			for k, m := range msgs {
				clear(row)
				ok, err := rowDec.Decode(m, row)
				cok, cerr := colDec.DecodeColumns(m, cols, n)
				if fmt.Sprint(ok, err) != fmt.Sprint(cok, cerr) {
					t.Fatalf("ignore=%s message %d %x:\nDecode        %v %v\nDecodeColumns %v %v", ignore, k, m, ok, err, cok, cerr)
				}
				if k < good && !ok {
					t.Fatalf("message %d: %v", k, err)
				}
				if !cok {
					for j, c := range cols {
						if c.Len() != n {
							t.Fatalf("message %d: column %d has %d rows after a failure, want %d", k, j, c.Len(), n)
						}
					}
					continue
				}
				if k%3 == 2 && k < good {
					evolved++
				}
				vals := make([]types.Value, len(cols))
				for j, c := range cols {
					vals[j] = c.Value(n)
				}
				if got, want := formattest.DumpRow(vals, rowType), formattest.DumpRow(row, rowType); got != want {
					t.Fatalf("ignore=%s round %d message %d:\ncolumns %s\nrows    %s", ignore, round, k, got, want)
				}
				n++
			}
			if evolved == 0 {
				t.Fatal("no record of the evolved writer was read")
			}
		}
	}
}

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
