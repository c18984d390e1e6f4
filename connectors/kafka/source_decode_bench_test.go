package kafka_test

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors/kafka"
)

// BenchmarkSourceDecode is the source's record loop without a broker (the Kafka benchmarks' share of
// franz-go and the broker varies too much on a shared machine to see the decoding in them): the records of
// benchTopic decoded into rows (raw key, JSON value, two metadata columns) and into columns (JSON value
// only, as the scan of BenchmarkScanVsRawConsume; with a timestamp metadata column; with a JSON ROW key).
//
//	go test ./connectors/kafka -run '^$' -bench SourceDecode -count 5
func BenchmarkSourceDecode(b *testing.B) {
	recs := make([]*kgo.Record, 10_000)
	rowKeyed := make([]*kgo.Record, len(recs)) // the same values under a JSON ROW key
	for i := range recs {
		v := `{"id":` + strconv.Itoa(i) + `,"user":"user-` + strconv.Itoa(i%1000) + `","url":"/page/` + strconv.Itoa(i%10) +
			`","amount":` + strconv.Itoa(i%100) + `.5,"ok":` + strconv.FormatBool(i%2 == 0) + `}`
		recs[i] = &kgo.Record{Topic: "bench-in", Partition: int32(i % 4), Offset: int64(i), Key: []byte(strconv.Itoa(i % 1000)), Value: []byte(v)}
		rowKeyed[i] = &kgo.Record{Topic: "bench-in", Partition: int32(i % 4), Offset: int64(i),
			Key: []byte(`{"k":{"id":` + strconv.Itoa(i%1000) + `,"region":"r` + strconv.Itoa(i%7) + `"}}`), Value: []byte(v)}
	}
	cases := []struct {
		name, table string
		columns     bool
		rowKey      bool
	}{
		{"rows", "k STRING, id BIGINT, `user` STRING, url STRING, amount DOUBLE, ok BOOLEAN, " +
			"p INT METADATA FROM 'partition' VIRTUAL, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL\n" +
			"key.format=raw\nkey.fields=k\nvalue.format=json\nvalue.fields-include=EXCEPT_KEY", false, false},
		{"columns", "id BIGINT, `user` STRING, url STRING, amount DOUBLE, ok BOOLEAN\nformat=json", true, false},
		{"columns-meta", "id BIGINT, `user` STRING, url STRING, amount DOUBLE, ok BOOLEAN, " +
			"ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL\nformat=json", true, false},
		{"columns-rowkey", "k ROW<id BIGINT, region STRING>, id BIGINT, `user` STRING, url STRING, amount DOUBLE, ok BOOLEAN\n" +
			"key.format=json\nkey.fields=k\nvalue.format=json\nvalue.fields-include=EXCEPT_KEY", true, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			h := &harness{addr: "127.0.0.1:9092", reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
				session: map[string]string{"table.local-time-zone": "UTC"}}
			tbl, err := h.parseTable("bench", c.table+"\ntopic=bench-in\nproperties.bootstrap.servers=$BROKER\nscan.startup.mode=earliest-offset")
			if err != nil {
				b.Fatal(err)
			}
			src, err := h.factory.CreateSource(h.ctx(tbl, &bytes.Buffer{}))
			if err != nil {
				b.Fatal(err)
			}
			var out changelog.Output = &collector{}
			if c.columns {
				out = &colCollector{collector: &collector{}}
			}
			in := recs
			if c.rowKey {
				in = rowKeyed
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n, err := kafka.DecodeRecords(src, in, out)
				if err != nil || n != len(in) {
					b.Fatalf("decoded %d of %d records: %v", n, len(recs), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
		})
	}
}
