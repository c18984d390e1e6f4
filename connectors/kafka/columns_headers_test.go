package kafka_test

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/types"
)

func headersSource(t testing.TB) (connectors.Source, *catalog.Table) {
	h := &harness{addr: "127.0.0.1:9092", reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("kh", "n INT, hs MAP<STRING, BYTES> METADATA FROM 'headers'\n"+
		"topic=kh\nproperties.bootstrap.servers=$BROKER\nscan.startup.mode=earliest-offset\nvalue.format=json")
	if err != nil {
		t.Fatal(err)
	}
	src, err := h.factory.CreateSource(h.ctx(tbl, &bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	return src, tbl
}

// headerRecords: records with no headers, several, a repeated key, and headers without a value or with an
// empty one.
func headerRecords(n int) []*kgo.Record {
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		rec := &kgo.Record{Topic: "kh", Offset: int64(i), Value: []byte(`{"n":` + strconv.Itoa(i) + `}`)}
		is := strconv.Itoa(i)
		switch i % 4 {
		case 1:
			rec.Headers = []kgo.RecordHeader{{Key: "trace", Value: []byte("t" + is)}, {Key: "from", Value: []byte("sluice")}, {Key: "none"}}
		case 2:
			rec.Headers = []kgo.RecordHeader{{Key: "k", Value: []byte("first")}, {Key: "j", Value: []byte("J")}, {Key: "k", Value: []byte("last" + is)}}
		case 3:
			rec.Headers = []kgo.RecordHeader{{Key: "empty", Value: []byte{}}, {Key: "nil"}, {Key: "nil", Value: []byte("set")}, {Key: "e2", Value: []byte("x")}, {Key: "e2"}}
		}
		recs = append(recs, rec)
	}
	return recs
}

// headersText is a headers map as key=value pairs in order (NULL as <null>).
func headersText(v types.Value) string {
	m, ok := v.X.(*types.MapValue)
	if !ok || v.T != types.TagMap {
		return fmt.Sprintf("not a map: %v", v)
	}
	var parts []string
	for i, k := range m.Keys {
		val := "<null>"
		if !m.Vals[i].IsNull() {
			val = strconv.Quote(m.Vals[i].S)
		}
		parts = append(parts, k.S+"="+val)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// The 'headers' metadata column (MAP<STRING, BYTES>) on the columnar path: maps as the row path's, with one
// entry per key and the last value of a repeated key (Flink's HashMap), NULL for a header without a value,
// an empty map for none; the maps keep no reference into the records (their bytes zeroed after decoding
// change nothing), so the run's fetches are pooled.
func TestColumnsHeaders(t *testing.T) {
	src, tbl := headersSource(t)
	recs := headerRecords(1200)
	rows, cols, columnar, err := kafka.DecodeBothPaths(src, recs)
	if err != nil {
		t.Fatal(err)
	}
	if !columnar || len(rows) != len(recs) || len(cols) != len(recs) {
		t.Fatalf("columnar %t, %d rows and %d columnar rows of %d records", columnar, len(rows), len(cols), len(recs))
	}
	want := map[int]string{
		0:    "{}",
		1:    `{trace="t1", from="sluice", none=<null>}`,
		2:    `{k="last2", j="J"}`,
		3:    `{empty="", nil="set", e2=<null>}`,
		1101: `{trace="t1101", from="sluice", none=<null>}`,
		1102: `{k="last1102", j="J"}`,
	}
	for i, w := range want {
		if got := headersText(rows[i].Vals[1]); got != w {
			t.Errorf("record %d: row path headers %s, want %s", i, got, w)
		}
		if got := headersText(cols[i].Vals[1]); got != w {
			t.Errorf("record %d: columnar headers %s, want %s", i, got, w)
		}
	}
	ts := sourceColumnTypes(tbl)
	var before []string
	for i := range rows {
		r, c := string(changelog.AppendRow(nil, rows[i], ts, time.UTC)), string(changelog.AppendRow(nil, cols[i], ts, time.UTC))
		if r != c {
			t.Fatalf("record %d: row path %s, columnar path %s", i, r, c)
		}
		before = append(before, headersText(cols[i].Vals[1]))
	}
	for _, rec := range recs {
		for _, h := range rec.Headers {
			clear(h.Value)
		}
	}
	for i := range cols {
		if got := headersText(cols[i].Vals[1]); got != before[i] {
			t.Fatalf("record %d: headers %s after the record's bytes were zeroed, were %s", i, got, before[i])
		}
	}
	if _, _, copies, err := kafka.ColumnsRun(src); err != nil || !copies {
		t.Fatalf("a columnar run with a headers column does not copy its records (no pooled fetches): %v", err)
	}
}

// BenchmarkColumnsHeaders: the columnar decoding of records with headers (none, several, repeated keys,
// NULL values); allocs/op is per record.
func BenchmarkColumnsHeaders(b *testing.B) {
	src, _ := headersSource(b)
	decode, reset, _, err := kafka.ColumnsRun(src)
	if err != nil || decode == nil {
		b.Fatal("no columnar path", err)
	}
	recs := headerRecords(1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(recs) == 0 {
			reset()
		}
		if err := decode(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}
