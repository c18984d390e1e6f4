package kafka_test

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/avro"
	"github.com/sluicesql/sluice/formats/csv"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/types"
)

// nexmarkJSONColumns is the Nexmark event table over Kafka JSON, as the benchmark declares it.
const nexmarkJSONColumns = `event_type INT,
  person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR, dateTime TIMESTAMP(3), extra VARCHAR>,
  auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,
  bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, dateTime TIMESTAMP(3), extra VARCHAR>,
  dateTime AS CASE WHEN event_type = 0 THEN person.dateTime WHEN event_type = 1 THEN auction.dateTime ELSE bid.dateTime END,
  WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND`

// nexmarkJSONEvent returns event i as the JSON the benchmark's topic holds: one of person, auction and bid
// set, the others null or absent; with shapes tests need (a member absent or null, a ROW of NULLs, a ROW
// set for another event type, an unknown member) when odd is true.
func nexmarkJSONEvent(rng *rand.Rand, i int, odd bool) string {
	ts := fmt.Sprintf(`"2024-03-01 12:%02d:%02d.%03d"`, i/60000%60, i/1000%60, i%1000)
	var b strings.Builder
	kind := i % 50
	switch {
	case kind == 0:
		fmt.Fprintf(&b, `{"event_type":0,"person":{"id":%d,"name":"p%d","emailAddress":"e%d@x","creditCard":"1234","city":"c%d","state":"OR","dateTime":%s,"extra":""},"auction":null,"bid":null}`,
			i, rng.Intn(100), i, rng.Intn(9), ts)
	case kind <= 3:
		fmt.Fprintf(&b, `{"event_type":1,"person":null,"auction":{"id":%d,"itemName":"item%d","description":"d","initialBid":%d,"reserve":%d,"dateTime":%s,"expires":%s,"seller":%d,"category":%d,"extra":"x"},"bid":null}`,
			i, rng.Intn(50), rng.Intn(1000), rng.Intn(5000), ts, ts, rng.Intn(100), 10+rng.Intn(5))
	default:
		fmt.Fprintf(&b, `{"event_type":2,"person":null,"auction":null,"bid":{"auction":%d,"bidder":%d,"price":%d,"channel":"ch%d","url":"https://x/%d","dateTime":%s,"extra":""}}`,
			rng.Intn(200), rng.Intn(1000), rng.Intn(100000), rng.Intn(4), i, ts)
	}
	if !odd {
		return b.String()
	}
	switch rng.Intn(6) {
	case 0: // the bid's price and channel absent, its url null, an unknown member
		return fmt.Sprintf(`{"event_type":2,"bid":{"auction":%d,"bidder":7,"url":null,"dateTime":%s,"extra":"","more":{"a":[1,2]}}}`, rng.Intn(200), ts)
	case 1: // every ROW null
		return `{"event_type":2,"person":null,"auction":null,"bid":null}`
	case 2: // a ROW of NULLs
		return fmt.Sprintf(`{"event_type":0,"person":{"id":null,"name":null,"dateTime":%s}}`, ts)
	case 3: // a person and a bid in one event
		return fmt.Sprintf(`{"event_type":0,"person":{"id":%d,"name":"both","dateTime":%s},"bid":{"auction":1,"bidder":2,"price":3,"channel":"ch9","dateTime":%s}}`, i, ts, ts)
	case 4: // an empty ROW object
		return `{"event_type":1,"auction":{},"person":null}`
	}
	return b.String()
}

// nexmarkRowQuery is q1/q2-shaped projections of a few ROW members feeding an aggregate.
const nexmarkRowQuery = `SELECT event_type, bid.channel AS ch, COUNT(*) AS n, COUNT(person.id) AS persons, SUM(bid.price) AS price,
  MAX(auction.reserve) AS reserve, COUNT(bid.url) AS urls, MIN(person.name) AS pname, MAX(dateTime) AS t
FROM %s WHERE bid.auction IS NULL OR bid.auction %% 7 <> 3 GROUP BY event_type, bid.channel`

// runNexmarkRowJob runs nexmarkRowQuery over table at parallelism p and returns its final rows and whether
// the aggregate took columnar batches.
func runNexmarkRowJob(ctx context.Context, t *testing.T, ddl, table string, p int) (string, bool) {
	t.Helper()
	var out lockedWriter
	before := exec.GroupAggColumnBatches()
	script := fmt.Sprintf("SET 'parallelism.default' = '%d';\n", p) + ddl + ";\n" +
		"CREATE TABLE out (event_type INT, ch STRING, n BIGINT, persons BIGINT, price BIGINT, reserve BIGINT, urls BIGINT, pname STRING, t TIMESTAMP(3)) WITH ('connector' = 'print');\n" +
		"INSERT INTO out " + fmt.Sprintf(nexmarkRowQuery, table) + ";"
	job := startJob(ctx, t, &out, script)
	if err := job.Wait(ctx); err != nil {
		t.Fatalf("%s at parallelism %d: %v\n%s", table, p, err, out.String())
	}
	got := finalRows(out.String())
	if strings.Count(got, "\n") < 8 {
		t.Fatalf("%s at parallelism %d: too few rows to compare:\n%s", table, p, got)
	}
	return got, exec.GroupAggColumnBatches() != before
}

// The Nexmark table over Kafka JSON (top-level person, auction and bid ROWs, NULL ROWs, ROWs of NULLs,
// absent and unknown members) decodes into struct columns: at parallelism 1 and 2 the results equal the
// row path's (the same table with event_type in both the key and the value, which keeps it on rows; the
// records have no key), and only the columnar table
// feeds the aggregate columns.
func TestColumnsNexmarkJSONRows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	_, addr := startBroker(t, kfake.SeedTopics(3, "nx"))
	rng := rand.New(rand.NewSource(14))
	var recs []*kgo.Record
	for i := 0; i < 6000; i++ {
		recs = append(recs, &kgo.Record{Topic: "nx", Partition: int32(i % 3), Value: []byte(nexmarkJSONEvent(rng, i, i%17 == 5))})
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	err = cl.ProduceSync(ctx, recs...).FirstErr()
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	with := fmt.Sprintf(`'connector' = 'kafka', 'topic' = 'nx', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'`, addr)
	for _, p := range []int{1, 2} {
		got, columnar := runNexmarkRowJob(ctx, t, "CREATE TABLE nx ("+nexmarkJSONColumns+") WITH ("+with+", 'format' = 'json')", "nx", p)
		want, rowsColumnar := runNexmarkRowJob(ctx, t, "CREATE TABLE nxrows ("+nexmarkJSONColumns+") WITH ("+with+
			", 'key.format' = 'json', 'key.fields' = 'event_type', 'value.format' = 'json', 'value.fields-include' = 'ALL')", "nxrows", p)
		if !columnar || rowsColumnar {
			t.Fatalf("parallelism %d: columnar batches at the aggregate: %v for the columnar table (want true), %v for the row path (want false)", p, columnar, rowsColumnar)
		}
		if got != want {
			t.Fatalf("parallelism %d: columnar and row paths differ\ncolumns:\n%s\nrows:\n%s", p, got, want)
		}
	}
}

// Avro and CSV over Kafka with a top-level ROW (NULL ROWs, NULL members at random; CSV skips the records
// it cannot read back, on both paths): the value decodes into a struct column, and the results at
// parallelism 1 equal the row path's.
func TestColumnsRowFormats(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	_, addr := startBroker(t)
	cols := "id BIGINT, r ROW<a INT, s STRING, d DECIMAL(10, 2), ts TIMESTAMP(3)>, name STRING"
	rowType := formattest.MustSchema(cols)
	query := `SELECT MOD(id, 7) AS g, COUNT(*) AS n, COUNT(r.a) AS ra, MAX(r.a) AS ma, MIN(r.s) AS ms, MAX(r.d) AS md,
  MIN(r.ts) AS mt, COUNT(r) AS rs FROM %s GROUP BY MOD(id, 7)`
	for _, format := range []string{"avro", "csv"} {
		t.Run(format, func(t *testing.T) {
			var enc formats.Encoder
			var err error
			if format == "avro" {
				enc, err = avro.NewFactory().CreateEncoder(formats.Context{RowType: rowType})
			} else {
				enc, err = csv.NewFactory().CreateEncoder(formats.Context{RowType: rowType})
			}
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewSource(21))
			topic := "rf-" + format
			var recs []*kgo.Record
			for i := 0; i < 2000; i++ {
				row := formattest.RandomRow(rng, rowType)
				row[0] = types.IntValue(int64(i))
				v, err := enc.Encode(nil, row)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, &kgo.Record{Topic: topic, Value: v})
			}
			produceRecords(ctx, t, addr, recs)
			with := fmt.Sprintf(`'connector' = 'kafka', 'topic' = '%s', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'value.format' = '%s'`, topic, addr, format)
			if format == "csv" { // a NULL nested member is written as '', which CSV reads back only as a string: skip those records
				with += ", 'value.csv.ignore-parse-errors' = 'true'"
			}
			run := func(ddl, table string) (string, bool) {
				var out lockedWriter
				before := exec.GroupAggColumnBatches()
				script := "SET 'parallelism.default' = '1';\n" + ddl + ";\n" +
					"CREATE TABLE out (g BIGINT, n BIGINT, ra BIGINT, ma INT, ms STRING, md DECIMAL(10, 2), mt TIMESTAMP(3), rs BIGINT) WITH ('connector' = 'print');\n" +
					"INSERT INTO out " + fmt.Sprintf(query, table) + ";"
				job := startJob(ctx, t, &out, script)
				if err := job.Wait(ctx); err != nil {
					t.Fatalf("%s: %v\n%s", table, err, out.String())
				}
				got := finalRows(out.String())
				if strings.Count(got, "\n") < 5 {
					t.Fatalf("%s: too few rows to compare:\n%s", table, got)
				}
				return got, exec.GroupAggColumnBatches() != before
			}
			got, columnar := run("CREATE TABLE rf ("+cols+") WITH ("+with+")", "rf")
			want, rowsColumnar := run("CREATE TABLE rfrows ("+cols+") WITH ("+with+
				", 'key.format' = 'json', 'key.fields' = 'id', 'value.fields-include' = 'ALL')", "rfrows")
			if !columnar || rowsColumnar {
				t.Fatalf("columnar batches at the aggregate: %v for the columnar table (want true), %v for the row path (want false)", columnar, rowsColumnar)
			}
			if got != want {
				t.Fatalf("columnar and row paths differ\ncolumns:\n%s\nrows:\n%s", got, want)
			}
		})
	}
}
