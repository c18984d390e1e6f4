package json_test

import (
	"testing"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/formats/json"
	"github.com/sluicesql/sluice/types"
)

var benchSchema = formattest.MustSchema("id BIGINT, name STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, active BOOLEAN, ts TIMESTAMP(3), day DATE, category STRING, note STRING")

var benchMsg = []byte(`{"id":1234567,"name":"Alice Example","amount":1234.56,"price":19.99,"qty":3,"active":true,"ts":"2024-05-06 07:08:09.123","day":"2024-05-06","category":"books","note":"a note with \"quotes\""}`)

func BenchmarkJSONDecode(b *testing.B) {
	dec, err := json.NewFactory().CreateDecoder(formats.Context{RowType: benchSchema})
	if err != nil {
		b.Fatal(err)
	}
	row := make([]types.Value, len(benchSchema.Fields))
	b.ReportAllocs()
	b.SetBytes(int64(len(benchMsg)))
	for b.Loop() {
		if ok, err := dec.Decode(benchMsg, row); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkJSONEncode(b *testing.B) {
	f := json.NewFactory()
	dec, _ := f.CreateDecoder(formats.Context{RowType: benchSchema})
	enc, err := f.CreateEncoder(formats.Context{RowType: benchSchema})
	if err != nil {
		b.Fatal(err)
	}
	row := make([]types.Value, len(benchSchema.Fields))
	if ok, err := dec.Decode(benchMsg, row); !ok || err != nil {
		b.Fatal(ok, err)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, err = enc.Encode(buf[:0], row)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
