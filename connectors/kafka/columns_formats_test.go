package kafka_test

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/avroconfluent"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/schemaregistry"
	"github.com/sluicesql/sluice/types"
)

// The query of the columnar format tests: a filter and a GROUP BY at parallelism 1, which take the
// source's columnar batches when the value format decodes into columns. 'tags' and 'note' are not read.
const colsQuery = `SELECT name, COUNT(*) AS n, SUM(price) AS p, MAX(ts) AS t, MIN(id) AS lo, SUM(amount) AS a,
  COUNT(flag) AS f FROM %s WHERE id %% 5 <> 1 GROUP BY name`

// runColumnsJob runs colsQuery over table (created by ddl) at parallelism 1 and returns the final rows and
// whether the aggregate took columnar batches; the table's name in warnings is 'T'.
func runColumnsJob(ctx context.Context, t *testing.T, ddl, table string) (string, bool) {
	t.Helper()
	var out lockedWriter
	before := exec.GroupAggColumnBatches()
	script := "SET 'parallelism.default' = '1';\n" + ddl + ";\nCREATE TABLE out (name STRING, n BIGINT, p DECIMAL(38, 2), t TIMESTAMP(3), lo BIGINT, a DOUBLE, f BIGINT) WITH ('connector' = 'print');\n" +
		"INSERT INTO out " + fmt.Sprintf(colsQuery, table) + ";"
	job := startJob(ctx, t, &out, script)
	if err := job.Wait(ctx); err != nil {
		t.Fatalf("%s: %v\n%s", table, err, out.String())
	}
	got := strings.ReplaceAll(finalRows(out.String()), "kafka table '"+table+"'", "kafka table 'T'") // warnings name the table
	if strings.Count(got, "\n") < 5 {
		t.Fatalf("%s: too few rows to compare:\n%s", table, got)
	}
	return got, exec.GroupAggColumnBatches() != before
}

// avro-confluent over Kafka with a real schema registry: records written with two writer schemas (the
// table's, and an evolved one without 'amount' and with an extra field), read by a table that decodes into
// columns and by one that takes the row path ('id' in both the key and the value, NULL in the key as the
// records have none): at parallelism 1 the results are equal, and only the first feeds the aggregate columns.
func TestColumnsAvroConfluentEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t)
	reg, err := schemaregistry.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	cols := "id BIGINT, name STRING, price DECIMAL(10, 2), amount DOUBLE, ts TIMESTAMP(3), flag BOOLEAN, tags ARRAY<STRING>"
	rowType := formattest.MustSchema(cols)
	evolved := formattest.MustSchema("extra STRING, id BIGINT, name STRING, price DECIMAL(10, 2), ts TIMESTAMP(3), flag BOOLEAN, tags ARRAY<STRING>")
	f := avroconfluent.NewFactory()
	enc, err := f.CreateEncoder(formats.Context{RowType: rowType, Options: map[string]string{"url": reg.URL(), "subject": "ev-value"}})
	if err != nil {
		t.Fatal(err)
	}
	enc2, err := f.CreateEncoder(formats.Context{RowType: evolved, Options: map[string]string{"url": reg.URL(), "subject": "ev2-value"}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(7))
	var recs []*kgo.Record
	for i := 0; i < 3000; i++ {
		var row []types.Value
		e := enc
		if i%4 == 3 {
			row, e = formattest.RandomRow(rng, evolved), enc2
			row[2] = types.StringValue(fmt.Sprintf("n%d", i%13))
		} else {
			row = formattest.RandomRow(rng, rowType)
			row[1] = types.StringValue(fmt.Sprintf("n%d", i%13))
		}
		v, err := e.Encode(nil, row)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "ev", Value: v})
	}
	produceRecords(ctx, t, addr, recs)
	with := fmt.Sprintf(`WITH ('connector' = 'kafka', 'topic' = 'ev', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'avro-confluent',
  'avro-confluent.url' = '%s')`, addr, reg.URL())
	got, columnar := runColumnsJob(ctx, t, "CREATE TABLE ev ("+cols+") "+with, "ev")
	want, rowsColumnar := runColumnsJob(ctx, t, "CREATE TABLE evrows ("+cols+") "+strings.TrimSuffix(with, ")")+
		", 'key.format' = 'json', 'key.fields' = 'id', 'value.fields-include' = 'ALL')", "evrows")
	if !columnar || rowsColumnar {
		t.Fatalf("columnar batches at the aggregate: %v for the columnar table (want true), %v for the row path (want false)", columnar, rowsColumnar)
	}
	if got != want {
		t.Fatalf("columnar and row paths differ\ncolumns:\n%s\nrows:\n%s", got, want)
	}
}

// csv over Kafka: records with quoted fields, NULL literals and comments, read by a table that decodes
// into columns and by one that takes the row path ('name' in both the raw key and the value): at
// parallelism 1 the results are equal, and only the first feeds the aggregate columns.
func TestColumnsCSVEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t)
	rng := rand.New(rand.NewSource(8))
	var recs []*kgo.Record
	for i := 0; i < 3000; i++ {
		name := fmt.Sprintf("n,%d", i%13)
		null := func(s string) string {
			if rng.Intn(8) == 0 {
				return "NULL"
			}
			return s
		}
		v := fmt.Sprintf(`%d;"%s";%s;%s;%s;%s;"a|b"`, rng.Int63n(1000000), name, null(fmt.Sprintf("%d.%02d", rng.Intn(100000), rng.Intn(100))),
			null(fmt.Sprint(rng.NormFloat64())), null(fmt.Sprintf("2024-03-%02d 12:%02d:%02d.%03d", 1+rng.Intn(28), rng.Intn(60), rng.Intn(60), rng.Intn(1000))),
			null(fmt.Sprint(rng.Intn(2) == 0)))
		if i%50 == 0 {
			v = "# a comment"
		}
		recs = append(recs, &kgo.Record{Topic: "cv", Key: []byte(name), Value: []byte(v)})
	}
	produceRecords(ctx, t, addr, recs)
	cols := "id BIGINT, name STRING, price DECIMAL(10, 2), amount DOUBLE, ts TIMESTAMP(3), flag BOOLEAN, tags ARRAY<STRING>"
	with := fmt.Sprintf(`'connector' = 'kafka', 'topic' = 'cv', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'value.format' = 'csv',
  'value.csv.field-delimiter' = ';', 'value.csv.null-literal' = 'NULL', 'value.csv.allow-comments' = 'true',
  'value.csv.array-element-delimiter' = '|'`, addr)
	got, columnar := runColumnsJob(ctx, t, "CREATE TABLE cv ("+cols+") WITH ("+with+")", "cv")
	want, rowsColumnar := runColumnsJob(ctx, t, "CREATE TABLE cvrows ("+cols+") WITH ("+with+
		", 'key.format' = 'raw', 'key.fields' = 'name', 'value.fields-include' = 'ALL')", "cvrows")
	if !columnar || rowsColumnar {
		t.Fatalf("columnar batches at the aggregate: %v for the columnar table (want true), %v for the row path (want false)", columnar, rowsColumnar)
	}
	if got != want {
		t.Fatalf("columnar and row paths differ\ncolumns:\n%s\nrows:\n%s", got, want)
	}
}

func produceRecords(ctx context.Context, t *testing.T, addr string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestColumnsGolden runs testdata/columns (csv records, good and bad, under the error options) through the
// row path and the columnar path: both print the same goldens (rows, skips, errors naming topic,
// partition and offset), and the columnar run pushes columnar batches.
func TestColumnsGolden(t *testing.T) {
	runGolden(t, "testdata/columns")
	var pushed atomic.Int64
	runGoldenWith(t, "testdata/columns", func(h *harness) { h.columnar, h.pushed = true, &pushed })
	if pushed.Load() == 0 {
		t.Fatal("no columnar batch was pushed")
	}
}
