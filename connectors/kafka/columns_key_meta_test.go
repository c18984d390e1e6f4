package kafka_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors/kafka"
)

// A table with a JSON ROW key (NULL keys, NULL and absent members) and every metadata column (several
// partitions, NULL and set leader epochs, the timestamp as TIMESTAMP_LTZ and TIMESTAMP, headers) takes the
// columnar path, and its rows equal the row path's, record for record.
func TestColumnsRowKeyAndMetadata(t *testing.T) {
	h := &harness{addr: "127.0.0.1:9092", reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "Asia/Kolkata"}}
	tbl, err := h.parseTable("km", "k ROW<id INT, name STRING, tags ROW<a BIGINT>>, url STRING, n INT, "+
		"tp STRING METADATA FROM 'topic' VIRTUAL, p INT METADATA FROM 'partition' VIRTUAL, o BIGINT METADATA FROM 'offset' VIRTUAL, "+
		"le INT METADATA FROM 'leader-epoch' VIRTUAL, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', "+
		"lts TIMESTAMP(3) METADATA FROM 'timestamp' VIRTUAL, tt STRING METADATA FROM 'timestamp-type' VIRTUAL, "+
		"ob DECIMAL(20, 0) METADATA FROM 'offset' VIRTUAL, hs MAP<STRING, BYTES> METADATA FROM 'headers'\n"+
		"topic=km\nproperties.bootstrap.servers=$BROKER\nscan.startup.mode=earliest-offset\n"+
		"key.format=json\nkey.fields=k\nvalue.format=json\nvalue.fields-include=EXCEPT_KEY")
	if err != nil {
		t.Fatal(err)
	}
	src, err := h.factory.CreateSource(h.ctx(tbl, &bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	base := time.UnixMilli(1700000000123)
	var recs []*kgo.Record
	for i := 0; i < 1300; i++ {
		rec := &kgo.Record{Topic: "km", Partition: int32(i % 3), Offset: int64(i / 3), LeaderEpoch: int32(i%4 - 1),
			Timestamp: base.Add(time.Duration(i) * 997 * time.Millisecond),
			Value:     []byte(`{"url":"/p` + strconv.Itoa(i%7) + `","n":` + strconv.Itoa(i) + `}`)}
		switch i % 5 {
		case 0: // no key
		case 1:
			rec.Key = []byte(`{"k":{"id":` + strconv.Itoa(i) + `}}`)
		case 2:
			rec.Key = []byte(`{"k":{"id":null,"name":"n` + strconv.Itoa(i) + `","tags":null}}`)
		default:
			rec.Key = []byte(`{"k":{"id":` + strconv.Itoa(i) + `,"name":"u` + strconv.Itoa(i%11) + `","tags":{"a":` + strconv.Itoa(i*1000) + `}}}`)
			rec.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte{byte(i)}}, {Key: "nil"}}
		}
		recs = append(recs, rec)
	}
	rows, cols, columnar, err := kafka.DecodeBothPaths(src, recs)
	if err != nil {
		t.Fatal(err)
	}
	if !columnar {
		t.Fatal("a table with a JSON ROW key and metadata columns stayed on the row path")
	}
	if len(rows) != len(recs) || len(cols) != len(recs) {
		t.Fatalf("decoded %d rows on the row path and %d on the columnar path, want %d", len(rows), len(cols), len(recs))
	}
	ts := sourceColumnTypes(tbl)
	for i := range rows {
		if r, c := string(changelog.AppendRow(nil, rows[i], ts, time.UTC)), string(changelog.AppendRow(nil, cols[i], ts, time.UTC)); r != c {
			t.Fatalf("record %d: row path %s, columnar path %s", i, r, c)
		}
	}
	// What the row path read is what the records hold.
	if v := rows[0].Vals; !v[0].IsNull() || !v[6].IsNull() || v[4].I != 0 || v[5].I != 0 || v[7].I != base.UnixMilli() || v[9].S != "CreateTime" {
		t.Fatalf("record 0 read as %v", v)
	}
	if got, want := string(changelog.AppendRow(nil, rows[8], ts, time.UTC)), "+I[+I[8, u8, +I[8000]], /p1, 8,"; !strings.HasPrefix(got, want) {
		t.Fatalf("record 8 read as %s, want it to start with %s", got, want)
	}
	if v := rows[8].Vals; v[0].IsNull() || !v[6].IsNull() || v[4].I != 2 || v[5].I != 2 || rows[9].Vals[6].I != 0 {
		t.Fatalf("record 8 read as %s", changelog.AppendRow(nil, rows[8], ts, time.UTC))
	}
}

// Records as a broker returns them (two topics, several partitions, the broker's leader epochs and
// timestamp attributes) read with every metadata column: the columnar path is taken and its rows equal the
// row path's. (kfake stamps LogAppendTime only when the producer sets the attribute, which kgo does not, so
// 'LogAppendTime' is not produced here: TestColumnsMetadataLogAppendTime produces it by a raw request.)
func TestColumnsMetadataFromBroker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("mlat", "mct"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "mlat"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "mct"); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := 0; i < 600; i++ {
		topic := "mct"
		if i%2 == 0 {
			topic = "mlat"
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(`{"k":{"id":` + strconv.Itoa(i) + `}}`),
			Value: []byte(`{"url":"/p` + strconv.Itoa(i%7) + `","n":` + strconv.Itoa(i) + `}`), Timestamp: time.UnixMilli(1700000000000 + int64(i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var got []*kgo.Record
	for len(got) < len(recs) {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got = append(got, fs.Records()...)
	}
	h := &harness{addr: addr, reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("mb", "k ROW<id INT>, url STRING, n INT, "+
		"tp STRING METADATA FROM 'topic' VIRTUAL, p INT METADATA FROM 'partition' VIRTUAL, o BIGINT METADATA FROM 'offset' VIRTUAL, "+
		"le INT METADATA FROM 'leader-epoch' VIRTUAL, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', tt STRING METADATA FROM 'timestamp-type' VIRTUAL\n"+
		"topic=mlat;mct\nproperties.bootstrap.servers=$BROKER\nscan.startup.mode=earliest-offset\n"+
		"key.format=json\nkey.fields=k\nvalue.format=json\nvalue.fields-include=EXCEPT_KEY")
	if err != nil {
		t.Fatal(err)
	}
	src, err := h.factory.CreateSource(h.ctx(tbl, &bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	rows, cols, columnar, err := kafka.DecodeBothPaths(src, got)
	if err != nil {
		t.Fatal(err)
	}
	if !columnar || len(rows) != len(recs) || len(cols) != len(recs) {
		t.Fatalf("columnar %v, %d rows and %d columnar rows, want true and %d", columnar, len(rows), len(cols), len(recs))
	}
	ts := sourceColumnTypes(tbl)
	tsTypes := map[string]int{}
	parts := map[string]bool{}
	for i := range rows {
		r, c := string(changelog.AppendRow(nil, rows[i], ts, time.UTC)), string(changelog.AppendRow(nil, cols[i], ts, time.UTC))
		if r != c {
			t.Fatalf("record %d: row path %s, columnar path %s", i, r, c)
		}
		tsTypes[rows[i].Vals[8].S]++
		parts[rows[i].Vals[3].S+"/"+strconv.FormatInt(rows[i].Vals[4].I, 10)] = true
	}
	if tsTypes["CreateTime"] != len(recs) || len(parts) != 5 {
		t.Fatalf("timestamp types %v, partitions %v; want CreateTime for all %d records over 5 partitions", tsTypes, parts, len(recs))
	}
}

// Unreadable keys and values skipped (ignore-parse-errors on both sides; a field of the wrong type is NULL)
// leave no partial row on the columnar path: a good key followed by a bad value is undone, and the rows
// equal the row path's.
func TestColumnsRowKeySkipsBadRecords(t *testing.T) {
	h := &harness{addr: "127.0.0.1:9092", reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("skip", "k ROW<id INT, name STRING>, n INT, p INT METADATA FROM 'partition' VIRTUAL, o BIGINT METADATA FROM 'offset' VIRTUAL\n"+
		"topic=skip\nproperties.bootstrap.servers=$BROKER\nscan.startup.mode=earliest-offset\n"+
		"key.format=json\nkey.fields=k\nkey.json.ignore-parse-errors=true\nvalue.format=json\nvalue.json.ignore-parse-errors=true\n"+
		"value.fields-include=EXCEPT_KEY")
	if err != nil {
		t.Fatal(err)
	}
	src, err := h.factory.CreateSource(h.ctx(tbl, &bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := 0; i < 700; i++ {
		key := `{"k":{"id":` + strconv.Itoa(i) + `,"name":"n` + strconv.Itoa(i%9) + `"}}`
		val := `{"n":` + strconv.Itoa(i) + `}`
		switch i % 6 {
		case 1:
			key = `{"k":{"id":"x` + strconv.Itoa(i) + `"}}`
		case 2:
			val = `{"n":` + strconv.Itoa(i) // not closed
		case 4:
			key, val = `{"k":{"name":"late","id":`+strconv.Itoa(i)+`}`, `{"n":1}` // the key's object is not closed
		}
		recs = append(recs, &kgo.Record{Topic: "skip", Partition: int32(i % 2), Offset: int64(i / 2), Key: []byte(key), Value: []byte(val)})
	}
	rows, cols, columnar, err := kafka.DecodeBothPaths(src, recs)
	if err != nil {
		t.Fatal(err)
	}
	if !columnar {
		t.Fatal("the table stayed on the row path")
	}
	if want := 700 / 6 * 4; len(rows) < want || len(rows) != len(cols) {
		t.Fatalf("%d rows on the row path, %d on the columnar path; want the same, at least %d", len(rows), len(cols), want)
	}
	ts := sourceColumnTypes(tbl)
	for i := range rows {
		if r, c := string(changelog.AppendRow(nil, rows[i], ts, time.UTC)), string(changelog.AppendRow(nil, cols[i], ts, time.UTC)); r != c {
			t.Fatalf("row %d: row path %s, columnar path %s", i, r, c)
		}
	}
}
