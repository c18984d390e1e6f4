package avroconfluent_test

import (
	"testing"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/avroconfluent"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/formats/json"
	"github.com/sluicesql/sluice/types"
)

// The 10-column record of formats/json's benchmarks, in avro-confluent and json in the same run.
var benchSchema = formattest.MustSchema("id BIGINT, name STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, active BOOLEAN, ts TIMESTAMP(3), day DATE, category STRING, note STRING")

const benchJSON = `{"id":1234567,"name":"Alice Example","amount":1234.56,"price":19.99,"qty":3,"active":true,"ts":"2024-05-06 07:08:09.123","day":"2024-05-06","category":"books","note":"a note with \"quotes\""}`

func benchCodecs(b *testing.B, useJSON bool) (formats.Decoder, formats.Encoder, []types.Value) {
	row := jsonRow(b, benchSchema, benchJSON)
	if useJSON {
		f := json.NewFactory()
		d, _ := f.CreateDecoder(formats.Context{RowType: benchSchema})
		e, _ := f.CreateEncoder(formats.Context{RowType: benchSchema})
		return d, e, row
	}
	srv := startRegistry(b)
	opts := map[string]string{"url": srv.URL(), "subject": "bench-value"}
	f := avroconfluent.NewFactory()
	d, err := f.CreateDecoder(formats.Context{RowType: benchSchema, Options: opts})
	if err != nil {
		b.Fatal(err)
	}
	e, err := f.CreateEncoder(formats.Context{RowType: benchSchema, Options: opts})
	if err != nil {
		b.Fatal(err)
	}
	return d, e, row
}

func benchDecode(b *testing.B, useJSON bool) {
	dec, enc, row := benchCodecs(b, useJSON)
	msg, err := enc.Encode(nil, row)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]types.Value, len(benchSchema.Fields))
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if ok, err := dec.Decode(msg, dst); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func benchEncode(b *testing.B, useJSON bool) {
	_, enc, row := benchCodecs(b, useJSON)
	buf, err := enc.Encode(nil, row)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if buf, err = enc.Encode(buf[:0], row); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkJSONDecode(b *testing.B)          { benchDecode(b, true) }
func BenchmarkJSONEncode(b *testing.B)          { benchEncode(b, true) }
func BenchmarkAvroConfluentDecode(b *testing.B) { benchDecode(b, false) }
func BenchmarkAvroConfluentEncode(b *testing.B) { benchEncode(b, false) }
