package debezium_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/debezium"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/schemaregistry"
	"github.com/sluicesql/sluice/types"
)

// Debezium's own envelope: other record names, extra fields (source, ts_ms), as its AvroConverter writes.
const debeziumSchema = `{"type": "record", "name": "Envelope", "namespace": "dbserver1.inventory.products", "fields": [
  {"name": "before", "type": ["null", {"type": "record", "name": "Value", "fields": [
    {"name": "id", "type": "int"}, {"name": "name", "type": "string"}, {"name": "extra", "type": ["null", "string"], "default": null}]}], "default": null},
  {"name": "after", "type": ["null", "Value"], "default": null},
  {"name": "source", "type": {"type": "record", "name": "Source", "fields": [{"name": "db", "type": "string"}]}},
  {"name": "op", "type": "string"},
  {"name": "ts_ms", "type": ["null", "long"], "default": null}]}`

type dbzValue struct {
	ID    int32   `avro:"id"`
	Name  string  `avro:"name"`
	Extra *string `avro:"extra"`
}

type dbzSource struct {
	DB string `avro:"db"`
}

type dbzEnvelope struct {
	Before *dbzValue `avro:"before"`
	After  *dbzValue `avro:"after"`
	Source dbzSource `avro:"source"`
	Op     string    `avro:"op"`
	TsMs   *int64    `avro:"ts_ms"`
}

func register(t *testing.T, url, subject, schema string) uint32 {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"schema": schema})
	resp, err := http.Post(url+"/subjects/"+subject+"/versions", "application/vnd.schemaregistry.v1+json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ ID uint32 }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("register: status %d, %v", resp.StatusCode, err)
	}
	return out.ID
}

func TestDebeziumAvroConfluent(t *testing.T) {
	reg, err := schemaregistry.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	id := register(t, reg.URL(), "products-value", debeziumSchema)
	writer := hamba.MustParse(debeziumSchema)
	frame := func(e dbzEnvelope) []byte {
		body, err := hamba.Marshal(writer, e)
		if err != nil {
			t.Fatal(err)
		}
		out := []byte{0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(out[1:], id)
		return append(out, body...)
	}
	rowType := formattest.MustSchema("id INT, name STRING")
	f := debezium.NewAvroConfluentFactory()
	opts := map[string]string{"url": reg.URL(), "subject": "products-value"}
	dec, err := f.CreateDecoder(formats.Context{RowType: rowType, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	emit := func(k changelog.Kind, row []types.Value) error {
		got.WriteString(k.String() + " " + formattest.DumpRow(row, rowType) + "\n")
		return nil
	}
	x := "x"
	msgs := []dbzEnvelope{
		{After: &dbzValue{ID: 1, Name: "scooter"}, Source: dbzSource{"inventory"}, Op: "r"},
		{Before: &dbzValue{ID: 1, Name: "scooter"}, After: &dbzValue{ID: 1, Name: "e-scooter", Extra: &x}, Source: dbzSource{"inventory"}, Op: "u"},
		{Before: &dbzValue{ID: 1, Name: "e-scooter"}, Source: dbzSource{"inventory"}, Op: "d"},
	}
	for _, m := range msgs {
		if err := dec.(formats.ChangelogDecoder).DecodeChangelog(frame(m), emit); err != nil {
			t.Fatal(err)
		}
	}
	want := "+I (1, \"scooter\")\n-U (1, \"scooter\")\n+U (1, \"e-scooter\")\n-D (1, \"e-scooter\")\n"
	if got.String() != want {
		t.Fatalf("decoded Debezium envelope:\n%s\nwant:\n%s", got.String(), want)
	}

	// Projected (a query reading id only): both images skip name, left NULL; op still decides the kinds.
	pdec, err := f.CreateDecoder(formats.Context{RowType: rowType, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	pdec.(formats.Projector).Project(&formats.Projection{Need: []bool{true, false}})
	got.Reset()
	for _, m := range msgs {
		if err := pdec.(formats.ChangelogDecoder).DecodeChangelog(frame(m), emit); err != nil {
			t.Fatal(err)
		}
	}
	if want := "+I (1, NULL)\n-U (1, NULL)\n+U (1, NULL)\n-D (1, NULL)\n"; got.String() != want {
		t.Fatalf("projected Debezium envelope:\n%s\nwant:\n%s", got.String(), want)
	}

	// Sluice's own writes (registered under another subject) read back as the same changelog.
	wopts := map[string]string{"url": reg.URL(), "subject": "out-value"}
	enc, err := f.CreateEncoder(formats.Context{RowType: rowType, Options: wopts})
	if err != nil {
		t.Fatal(err)
	}
	dec2, err := f.CreateDecoder(formats.Context{RowType: rowType, Options: wopts})
	if err != nil {
		t.Fatal(err)
	}
	got.Reset()
	rows := []changelog.Row{
		{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(7), types.StringValue("a")}},
		{Kind: changelog.UpdateBefore, Vals: []types.Value{types.IntValue(7), types.StringValue("a")}},
		{Kind: changelog.UpdateAfter, Vals: []types.Value{types.IntValue(7), types.StringValue("b")}},
	}
	for _, r := range rows {
		b, err := enc.(formats.ChangelogEncoder).EncodeChangelog(nil, r.Kind, r.Vals)
		if err != nil {
			t.Fatal(err)
		}
		if err := dec2.(formats.ChangelogDecoder).DecodeChangelog(b, emit); err != nil {
			t.Fatal(err)
		}
	}
	want = "+I (7, \"a\")\n-D (7, \"a\")\n+I (7, \"b\")\n"
	if got.String() != want {
		t.Fatalf("round trip:\n%s\nwant:\n%s", got.String(), want)
	}
}
