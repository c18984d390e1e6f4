package json_test

import (
	"bytes"
	"testing"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/formats/json"
	"github.com/sluicesql/sluice/types"
)

var fuzzSchema = formattest.MustSchema("b BOOLEAN, i INT, bi BIGINT, ti TINYINT, f FLOAT, d DOUBLE, dec DECIMAL(12, 3), big DECIMAL(38, 2), s STRING, bin BYTES, dt DATE, tm TIME(3), ts TIMESTAMP(6), ltz TIMESTAMP_LTZ(3), a ARRAY<INT>, m MAP<STRING, DOUBLE>, ms MULTISET<STRING>, r ROW<x STRING, y ARRAY<ROW<z BIGINT>>>")

// FuzzJSONDecode checks that decoding never panics and that whatever decodes re-encodes to JSON that
// decodes to the same row (encode(decode(x)) is a fixed point).
func FuzzJSONDecode(f *testing.F) {
	for _, s := range []string{
		`{"b":true,"i":1,"bi":-2,"ti":3,"f":1.5,"d":2.5e-3,"dec":12.3456,"big":"123456789012345678901234567890.555","s":"x\"\u00e9\ud83d\ude00","bin":"AQID","dt":"2020-12-30","tm":"12:13:14.1","ts":"2020-12-30 12:13:14.123456","ltz":"2020-12-30 12:13:14Z","a":[1,null],"m":{"k":1e300,"n":null},"ms":{"a":2},"r":{"x":{"nested":[1,2]},"y":[{"z":5},null]}}`,
		`{"s":[1,{"a":"b"}],"d":"NaN","f":"-Infinity","i":"  7 "}`,
		`{}`, `[]`, `{"a":`, `{"i":1e400}`, `{"dec":1e-400}`, `{"s":"\ud800"}`, "{\"s\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range []map[string]string{nil, {"ignore-parse-errors": "true"}} {
			fac := json.NewFactory()
			dec, err := fac.CreateDecoder(formats.Context{RowType: fuzzSchema, Options: opts})
			if err != nil {
				t.Fatal(err)
			}
			enc, err := fac.CreateEncoder(formats.Context{RowType: fuzzSchema, Options: opts})
			if err != nil {
				t.Fatal(err)
			}
			row := make([]types.Value, len(fuzzSchema.Fields))
			ok, err := dec.Decode(data, row)
			if err != nil || !ok {
				continue
			}
			b1, err := enc.Encode(nil, row)
			if err != nil {
				t.Fatalf("re-encoding %q: %v", data, err)
			}
			ok, err = dec.Decode(b1, row)
			if err != nil || !ok {
				t.Fatalf("decoding re-encoded %q (from %q): ok=%v err=%v", b1, data, ok, err)
			}
			b2, err := enc.Encode(nil, row)
			if err != nil || !bytes.Equal(b1, b2) {
				t.Fatalf("not a fixed point:\n%s\n%s\n(from %q) err=%v", b1, b2, data, err)
			}
		}
	})
}
