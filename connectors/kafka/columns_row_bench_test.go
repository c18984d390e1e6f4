package kafka_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

const nexmarkBenchEvents = 200_000

// BenchmarkNexmarkJSONScan runs q1- and q2-shaped queries (bid members projected, a filter) over a Kafka
// topic of nexmarkBenchEvents Nexmark events as JSON (the DDL: person, auction and bid ROWs) in 4
// partitions of an in-process broker, into blackhole, and reports records per CPU-second (the broker's work
// included).
//
//	go test ./connectors/kafka -run '^$' -bench NexmarkJSONScan -benchtime 3x
func BenchmarkNexmarkJSONScan(b *testing.B) {
	_, addr := startBroker(b, kfake.SeedTopics(4, "bench-nx"))
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(5*time.Millisecond), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < nexmarkBenchEvents; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: "bench-nx", Partition: int32(i % 4), Value: []byte(nexmarkJSONEvent(rng, i, false))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	cl.Close()
	queries := []struct{ name, sink, query, opts string }{
		{"q1", "auction BIGINT, bidder BIGINT, price DECIMAL(23, 3), dateTime TIMESTAMP(3)",
			"SELECT bid.auction, bid.bidder, 0.908 * bid.price, dateTime FROM nx WHERE event_type = 2", ""},
		{"q2", "auction BIGINT, price BIGINT",
			"SELECT bid.auction, bid.price FROM nx WHERE event_type = 2 AND MOD(bid.auction, 123) = 0", ""},
		// q2 without the watermark and the computed dateTime, then also with 'json.ignore-parse-errors': there the filter runs before
		// the rest of each value is decoded (source_filter.go; a watermark or a computed column between the scan
		// and the Calc, or bid.price, a BIGINT the filter does not read, without the option, keep it off).
		{"q2-nowm", "auction BIGINT, price BIGINT",
			"SELECT bid.auction, bid.price FROM nx WHERE event_type = 2 AND MOD(bid.auction, 123) = 0", "nowm"},
		{"q2-nowm-ignore-errors", "auction BIGINT, price BIGINT",
			"SELECT bid.auction, bid.price FROM nx WHERE event_type = 2 AND MOD(bid.auction, 123) = 0",
			"nowm, 'json.ignore-parse-errors' = 'true'"},
	}
	for _, q := range queries {
		cols, opts := nexmarkJSONColumns, q.opts
		if rest, ok := strings.CutPrefix(opts, "nowm"); ok {
			cols, opts = cols[:strings.LastIndex(cols, ",\n  dateTime AS")], rest
		}
		b.Run(q.name, func(b *testing.B) {
			early := kafka.FilteredEarlyTotal()
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				s, err := engine.NewSession(engine.Config{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, TempDir: b.TempDir(),
					Options:    map[string]string{"table.local-time-zone": "UTC"},
					Connectors: connbuiltin.Registry().With(kafka.NewFactory())})
				if err != nil {
					b.Fatal(err)
				}
				stmts, err := sql.ParseScript(fmt.Sprintf(`
CREATE TABLE nx (%s) WITH ('connector' = 'kafka', 'topic' = 'bench-nx', 'properties.bootstrap.servers' = '%s',
  'format' = 'json', 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'%s);
CREATE TABLE hole (%s) WITH ('connector' = 'blackhole');
INSERT INTO hole %s;`, cols, addr, opts, q.sink, q.query))
				if err != nil {
					b.Fatal(err)
				}
				cpu += runScanJob(ctx, b, s, stmts, nexmarkBenchEvents)
			}
			if cpu > 0 {
				b.ReportMetric(float64(b.N*nexmarkBenchEvents)/cpu.Seconds(), "records/cpu-s")
			}
			// records the pushed filter dropped before full decoding (source_filter.go), per run
			b.ReportMetric(float64(kafka.FilteredEarlyTotal()-early)/float64(b.N), "filtered-early/op")
		})
	}
}
