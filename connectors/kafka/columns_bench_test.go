package kafka_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/avro"
	"github.com/sluicesql/sluice/formats/avroconfluent"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/schemaregistry"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// The records of the format benchmarks: Nexmark-like bids with a string, a DECIMAL and a TIMESTAMP.
const fmtBenchCols = "id BIGINT, `user` STRING, url STRING, amount DOUBLE, ok BOOLEAN, price DECIMAL(10, 2), ts TIMESTAMP(3)"

func fmtBenchRow(i int) []types.Value {
	return []types.Value{types.IntValue(int64(i)), types.StringValue("user-" + strconv.Itoa(i%1000)),
		types.StringValue("/page/" + strconv.Itoa(i%10)), types.FloatValue(float64(i%100) + 0.5), types.BoolValue(i%2 == 0),
		types.DecimalValue(int64(i%100000), 2), types.TimestampValue(1_700_000_000_000+int64(i)*7, 0)}
}

func fmtBenchCSV(i int) []byte {
	return []byte(fmt.Sprintf("%d,user-%d,/page/%d,%d.5,%v,%d.%02d,2023-11-14 22:13:%02d.%03d", i, i%1000, i%10, i%100, i%2 == 0,
		i%100000/100, i%100, i%60, i%1000))
}

// fmtBenchValues encodes n records in format ("avro", "avro-confluent" with the registry at url, "csv").
func fmtBenchValues(b *testing.B, format, url string, n int) [][]byte {
	b.Helper()
	rowType := formattest.MustSchema(fmtBenchCols)
	var enc formats.Encoder
	var err error
	switch format {
	case "avro":
		enc, err = avro.NewFactory().CreateEncoder(formats.Context{RowType: rowType})
	case "avro-confluent":
		enc, err = avroconfluent.NewFactory().CreateEncoder(formats.Context{RowType: rowType, Options: map[string]string{"url": url, "subject": "bench-value"}})
	}
	if err != nil {
		b.Fatal(err)
	}
	vals := make([][]byte, n)
	for i := range vals {
		if enc == nil {
			vals[i] = fmtBenchCSV(i)
			continue
		}
		if vals[i], err = enc.Encode(nil, fmtBenchRow(i)); err != nil {
			b.Fatal(err)
		}
	}
	return vals
}

// BenchmarkColumnsDecode is the source's record loop without a broker (kafka.DecodeRecords) for the avro,
// avro-confluent and csv value formats: decoded into rows and into columns, reading every column and
// reading two of the seven (projection pushdown). Reported as ns/record.
//
//	go test ./connectors/kafka -run '^$' -bench ColumnsDecode -count 3
func BenchmarkColumnsDecode(b *testing.B) {
	reg, err := schemaregistry.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	for _, format := range []string{"avro", "avro-confluent", "csv"} {
		vals := fmtBenchValues(b, format, reg.URL(), 10_000)
		recs := make([]*kgo.Record, len(vals))
		for i, v := range vals {
			recs[i] = &kgo.Record{Topic: "bench-in", Partition: int32(i % 4), Offset: int64(i), Value: v}
		}
		opts := "format=" + format
		if format == "avro-confluent" {
			opts += "\navro-confluent.url=" + reg.URL()
		}
		for _, project := range []bool{false, true} {
			for _, columns := range []bool{false, true} {
				name := format + "/" + map[bool]string{false: "rows", true: "columns"}[columns]
				if project {
					name += "-project2"
				}
				b.Run(name, func(b *testing.B) {
					h := &harness{addr: "127.0.0.1:9092", reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
						session: map[string]string{"table.local-time-zone": "UTC"}}
					tbl, err := h.parseTable("bench", fmtBenchCols+"\n"+opts+"\ntopic=bench-in\nproperties.bootstrap.servers=$BROKER\nscan.startup.mode=earliest-offset")
					if err != nil {
						b.Fatal(err)
					}
					src, err := h.factory.CreateSource(h.ctx(tbl, &bytes.Buffer{}))
					if err != nil {
						b.Fatal(err)
					}
					if project { // id and amount
						src.(connectors.ProjectableSource).ApplyProjection(&formats.Projection{Need: []bool{true, false, false, true, false, false, false}})
					}
					var out changelog.Output = &collector{}
					if columns {
						out = &colCollector{collector: &collector{}}
					}
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						n, err := kafka.DecodeRecords(src, recs, out)
						if err != nil || n != len(recs) {
							b.Fatalf("decoded %d of %d records: %v", n, len(recs), err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
				})
			}
		}
	}
}

// BenchmarkAvroScan runs INSERT INTO blackhole SELECT * FROM a Kafka avro topic (benchRecords records in 4
// partitions of an in-process broker) and reports records per CPU-second (the broker's work included).
//
//	go test ./connectors/kafka -run '^$' -bench AvroScan -benchtime 3x
func BenchmarkAvroScan(b *testing.B) {
	_, addr := startBroker(b, kfake.SeedTopics(4, "bench-avro"))
	vals := fmtBenchValues(b, "avro", "", benchRecords)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i, v := range vals {
		cl.Produce(ctx, &kgo.Record{Topic: "bench-avro", Key: []byte(strconv.Itoa(i % 1000)), Value: v}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	cl.Close()
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := engine.NewSession(engine.Config{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, TempDir: b.TempDir(),
			Options:    map[string]string{"table.local-time-zone": "UTC"},
			Connectors: connbuiltin.Registry().With(kafka.NewFactory())})
		if err != nil {
			b.Fatal(err)
		}
		stmts, err := sql.ParseScript(fmt.Sprintf(`
CREATE TABLE src (%s) WITH ('connector' = 'kafka', 'topic' = 'bench-avro', 'properties.bootstrap.servers' = '%s',
  'format' = 'avro', 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
CREATE TABLE hole (%s) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT * FROM src;`, fmtBenchCols, addr, fmtBenchCols))
		if err != nil {
			b.Fatal(err)
		}
		cpu += runScanJob(ctx, b, s, stmts, benchRecords)
	}
	if cpu > 0 {
		b.ReportMetric(float64(b.N*benchRecords)/cpu.Seconds(), "records/cpu-s")
	}
	b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
}
