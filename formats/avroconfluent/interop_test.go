package avroconfluent_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/avro"
	"github.com/sluicesql/sluice/formats/avroconfluent"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/types"
)

// confluentPython finds a python3 with Confluent's serializer (Debian: python3-confluent-kafka python3-avro
// python3-requests). Absent: the test is skipped, unless CI is set, where it fails.
func confluentPython(t *testing.T) string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if p, err := exec.LookPath(py); err == nil {
			if exec.Command(p, "-c", "import confluent_kafka.avro, avro.schema").Run() == nil {
				return p
			}
		}
	}
	msg := "python3 with confluent_kafka.avro and avro not found (apt-get install python3-confluent-kafka python3-avro python3-requests)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// The table of testdata/interop/confluent_avro.py's ROWS, and what those rows are in Sluice.
const interopColumns = "b BOOLEAN, i INT, bi BIGINT, f FLOAT, d DOUBLE, dec DECIMAL(10, 2), s STRING, bin BYTES, dt DATE, tm TIME(3), ts TIMESTAMP(3), ts6 TIMESTAMP(6), a ARRAY<INT>, m MAP<STRING, STRING>, r ROW<x INT, y STRING>"

var interopRows = []string{
	`{"b":true,"i":-5,"bi":1234567890123,"f":1.5,"d":2.25,"dec":12345.67,"s":"héllo","bin":"AAH/","dt":"2020-12-30","tm":"12:13:14.123","ts":"2020-12-30 12:13:14.123","ts6":"2020-12-30 12:13:14.123456","a":[1,2,3],"m":{"k":"v"},"r":{"x":7,"y":"z"}}`,
	`{}`,
}

// What Confluent's deserializer prints for interopRows (timestamps come back as UTC datetimes).
var interopPython = []string{
	`{"a": [1, 2, 3], "b": true, "bi": 1234567890123, "bin": "0001ff", "d": 2.25, "dec": "12345.67", "dt": "2020-12-30", "f": 1.5, "i": -5, "m": {"k": "v"}, "r": {"x": 7, "y": "z"}, "s": "h\u00e9llo", "tm": "12:13:14.123000", "ts": "2020-12-30T12:13:14.123000+00:00", "ts6": "2020-12-30T12:13:14.123456+00:00"}`,
	`{"a": null, "b": null, "bi": null, "bin": null, "d": null, "dec": null, "dt": null, "f": null, "i": null, "m": null, "r": null, "s": null, "tm": null, "ts": null, "ts6": null}`,
}

// TestConfluentPythonInterop: records Confluent's Python serializer produces (registering the schema in our
// registry) are read by Sluice; Sluice's records are byte-for-byte the same, and Confluent's deserializer
// reads them to the same values.
func TestConfluentPythonInterop(t *testing.T) {
	py := confluentPython(t)
	srv := startRegistry(t)
	rowType := formattest.MustSchema(interopColumns)
	schema, err := avro.DeriveSchema(rowType, avro.DeriveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	schemaFile := filepath.Join(dir, "schema.avsc")
	if err := os.WriteFile(schemaFile, []byte(schema), 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join("testdata", "interop", "confluent_avro.py")
	out, err := exec.Command(py, script, srv.URL(), "produce", schemaFile, "interop").CombinedOutput()
	if err != nil {
		t.Fatalf("python produce: %v\n%s", err, out)
	}
	var theirs [][]byte
	for _, l := range strings.Fields(string(out)) {
		b, err := hex.DecodeString(l)
		if err != nil {
			t.Fatalf("python output %q: %v", l, err)
		}
		theirs = append(theirs, b)
	}
	if len(theirs) != len(interopRows) {
		t.Fatalf("python produced %d messages, want %d", len(theirs), len(interopRows))
	}

	f := avroconfluent.NewFactory()
	opts := map[string]string{"url": srv.URL(), avroconfluent.TopicOption: "interop"}
	dec, err := f.CreateDecoder(formats.Context{RowType: rowType, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := f.CreateEncoder(formats.Context{RowType: rowType, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	var ours bytes.Buffer
	dst := make([]types.Value, len(rowType.Fields))
	for i, line := range interopRows {
		want := jsonRow(t, rowType, line)
		if ok, err := dec.Decode(theirs[i], dst); !ok || err != nil {
			t.Fatalf("decode python message %d (%x): %v", i, theirs[i], err)
		}
		if got, w := formattest.DumpRow(dst, rowType), formattest.DumpRow(want, rowType); got != w {
			t.Errorf("python message %d decodes to\n %s\nwant\n %s", i, got, w)
		}
		msg, err := enc.Encode(nil, want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(msg, theirs[i]) {
			t.Errorf("row %d: Sluice writes\n %x\nConfluent writes\n %x", i, msg, theirs[i])
		}
		ours.WriteString(hex.EncodeToString(msg) + "\n")
	}
	cmd := exec.Command(py, script, srv.URL(), "consume")
	cmd.Stdin = &ours
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python consume: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if strings.Join(got, "\n") != strings.Join(interopPython, "\n") {
		t.Errorf("Confluent's deserializer reads Sluice's records as\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(interopPython, "\n"))
	}
}
