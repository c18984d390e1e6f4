package kafka_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors/kafka"
)

// The source's fetched records come from a pool and are recycled once decoded (source_pool.go). Records in
// snappy batches of many records each, read over several polls ('properties.max.poll.records' = 100, so a
// pooled batch is handed out over several polls and its slice is reused by later fetches), give every row
// exactly once with its own key, value, header and offset, at parallelism 1 and 3.
func TestSourcePooledRecordsExactRows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t, kfake.DefaultNumPartitions(4))
	const n = 6000
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation(),
		kgo.ProducerBatchCompression(kgo.SnappyCompression()), kgo.ProducerLinger(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "pooled", Partition: int32(i % 4), Key: []byte(fmt.Sprintf("k%d", i%37)),
			Value:   []byte(fmt.Sprintf(`{"id":%d,"name":"name-%d-%s"}`, i, i, strings.Repeat("x", i%13))),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprint(i * 3))}}}
	}
	err = cl.ProduceSync(ctx, recs...).FirstErr()
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("+I[%d, name-%d-%s, k%d, %d, %d, %d]", i, i, strings.Repeat("x", i%13), i%37, i*3, i%4, i/4))
	}
	sort.Strings(want)
	script := `CREATE TABLE src (id BIGINT, name STRING, k STRING,
  hdrs MAP<STRING, BYTES> METADATA FROM 'headers' VIRTUAL,
  p INT METADATA FROM 'partition' VIRTUAL, o BIGINT METADATA FROM 'offset' VIRTUAL) WITH (
  'connector' = 'kafka', 'topic' = 'pooled', 'properties.bootstrap.servers' = 'ADDR', 'properties.max.poll.records' = '100',
  'key.format' = 'raw', 'key.fields' = 'k', 'value.format' = 'json', 'value.fields-include' = 'EXCEPT_KEY',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'scan.parallelism' = 'PAR');
CREATE TABLE out (id BIGINT, name STRING, k STRING, h STRING, p INT, o BIGINT) WITH ('connector' = 'print');
INSERT INTO out SELECT id, name, k, CAST(hdrs['h'] AS STRING), p, o FROM src;`
	for _, par := range []string{"1", "3"} {
		var out lockedWriter
		job := startJob(ctx, t, &out, strings.NewReplacer("ADDR", addr, "PAR", par).Replace(script))
		if err := job.Wait(ctx); err != nil {
			t.Fatalf("parallelism %s: %v\n%s", par, err, out.String())
		}
		if sub := job.SourceSubtasks()["src"]; par != "1" && sub != 3 {
			t.Errorf("parallelism %s: the source ran as %d subtasks", par, sub)
		}
		got := strings.Split(strings.TrimSuffix(finalRows(out.String()), "\n"), "\n")
		if len(got) != len(want) {
			t.Errorf("parallelism %s: %d rows, want %d", par, len(got), len(want))
		}
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("parallelism %s: row %d is %s, want %s", par, i, got[i], want[i])
				break
			}
		}
	}
}

// A source whose rows copy every byte they keep (the columnar path, typed columns only) decodes snappy
// batches into pooled buffers that later fetches reuse (small fetches: 'properties.max.partition.fetch.bytes'
// = 4096, so a partition takes many): every row arrives exactly once with its own key, value, partition and
// offset, at parallelism 1 and 3, and buffers were reused (the WHERE makes the chain take columns). A table with a headers column (row values that
// may point into a record's bytes) takes no buffer from the pool.
func TestSourcePooledBytesExactRows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t, kfake.DefaultNumPartitions(4))
	const n = 6000
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation(),
		kgo.ProducerBatchCompression(kgo.SnappyCompression()), kgo.ProducerLinger(20*time.Millisecond), kgo.ProducerBatchMaxBytes(8<<10))
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "pooled-bytes", Partition: int32(i % 4), Key: []byte(fmt.Sprintf("k%d", i%37)),
			Value:   []byte(fmt.Sprintf(`{"id":%d,"name":"name-%d-%s"}`, i, i, strings.Repeat("x", i%13))),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprint(i * 3))}}}
	}
	err = cl.ProduceSync(ctx, recs...).FirstErr()
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("+I[%d, name-%d-%s, k%d, %d, %d]", i, i, strings.Repeat("x", i%13), i%37, i%4, i/4))
	}
	sort.Strings(want)
	script := `CREATE TABLE src (id BIGINT, name STRING, k STRING,
  p INT METADATA FROM 'partition' VIRTUAL, o BIGINT METADATA FROM 'offset' VIRTUAL) WITH (
  'connector' = 'kafka', 'topic' = 'pooled-bytes', 'properties.bootstrap.servers' = 'ADDR',
  'properties.max.partition.fetch.bytes' = '4096',
  'key.format' = 'raw', 'key.fields' = 'k', 'value.format' = 'json', 'value.fields-include' = 'EXCEPT_KEY',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'scan.parallelism' = 'PAR');
CREATE TABLE out (id BIGINT, name STRING, k STRING, p INT, o BIGINT) WITH ('connector' = 'print');
INSERT INTO out SELECT id, name, k, p, o FROM src WHERE id >= 0;`
	for _, par := range []string{"1", "3"} {
		_, reused0 := kafka.DecompressPoolCounts()
		var out lockedWriter
		job := startJob(ctx, t, &out, strings.NewReplacer("ADDR", addr, "PAR", par).Replace(script))
		if err := job.Wait(ctx); err != nil {
			t.Fatalf("parallelism %s: %v\n%s", par, err, out.String())
		}
		got := strings.Split(strings.TrimSuffix(finalRows(out.String()), "\n"), "\n")
		if len(got) != len(want) {
			t.Errorf("parallelism %s: %d rows, want %d", par, len(got), len(want))
		}
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("parallelism %s: row %d is %s, want %s", par, i, got[i], want[i])
				break
			}
		}
		if _, reused := kafka.DecompressPoolCounts(); reused == reused0 {
			t.Errorf("parallelism %s: no decompression buffer was reused", par)
		}
	}

	hdrs := `CREATE TABLE src (id BIGINT, hdrs MAP<STRING, BYTES> METADATA FROM 'headers' VIRTUAL) WITH (
  'connector' = 'kafka', 'topic' = 'pooled-bytes', 'properties.bootstrap.servers' = '` + addr + `',
  'properties.max.partition.fetch.bytes' = '4096', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
CREATE TABLE out (id BIGINT, h STRING) WITH ('connector' = 'print');
INSERT INTO out SELECT id, CAST(hdrs['h'] AS STRING) FROM src;`
	gets0, _ := kafka.DecompressPoolCounts()
	var out lockedWriter
	job := startJob(ctx, t, &out, hdrs)
	if err := job.Wait(ctx); err != nil {
		t.Fatalf("headers: %v\n%s", err, out.String())
	}
	if rows := strings.Count(finalRows(out.String()), "\n"); rows != n {
		t.Errorf("headers: %d rows, want %d", rows, n)
	}
	if !strings.Contains(out.String(), "+I[17, 51]") {
		t.Errorf("headers: no row +I[17, 51] in\n%.2000s", out.String())
	}
	if gets, _ := kafka.DecompressPoolCounts(); gets != gets0 {
		t.Errorf("headers: the source took %d decompression buffers from the pool, want none", gets-gets0)
	}
}
