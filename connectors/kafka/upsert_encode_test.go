package kafka_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// A debezium changelog read by 2 source subtasks straight into upsert-kafka (the subtasks encode outside the
// graph lock): updates and deletes are written as upserts and tombstones, unbuffered and with
// 'sink.buffer-flush.*' (which keeps only the last change of each key per flush), and the compacted topic
// holds every live key's last value. Before, upsert-kafka took the kafka sink's subtask encoder: the job
// failed with "the kafka sink only writes inserts", and the buffer was bypassed.
func TestUpsertSinkFromSourceSubtasks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t, kfake.DefaultNumPartitions(4), kfake.SeedTopics(4, "cdc"))
	const keys = 40
	for p := range int32(4) {
		var vals []string
		for k := int(p); k < keys; k += 4 {
			vals = append(vals, fmt.Sprintf(`{"before":null,"after":{"id":%d,"v":1},"op":"c"}`, k))
		}
		for k := int(p); k < keys; k += 4 {
			vals = append(vals, fmt.Sprintf(`{"before":{"id":%d,"v":1},"after":{"id":%d,"v":2},"op":"u"}`, k, k))
		}
		for k := int(p); k < keys; k += 4 {
			if k%2 == 0 {
				vals = append(vals, fmt.Sprintf(`{"before":{"id":%d,"v":2},"after":null,"op":"d"}`, k))
			}
		}
		produceTo(ctx, t, addr, "cdc", p, vals)
	}
	records := map[string]int{}
	for _, tc := range []struct{ name, opts string }{
		{"unbuffered", ""},
		{"buffered", ", 'sink.buffer-flush.max-rows' = '1000', 'sink.buffer-flush.interval' = '10 s'"},
	} {
		topic := "up_" + tc.name
		// Without the SinkUpsertMaterializer (AUTO puts one in front of the sink: the debezium table has no
		// key), the source subtasks encode for the sink and its encoder drops the -U of each update.
		script := `CREATE TABLE cdc (id BIGINT, v BIGINT) WITH ('connector' = 'kafka', 'topic' = 'cdc', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'debezium-json', 'scan.parallelism' = '2');
CREATE TABLE up (id BIGINT, v BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'TOPIC',
  'properties.bootstrap.servers' = 'ADDR', 'key.format' = 'json', 'value.format' = 'json'OPTS);
SET 'table.exec.sink.upsert-materialize' = 'NONE';
INSERT INTO up SELECT id, v FROM cdc;`
		var out lockedWriter
		job := startJob(ctx, t, &out, strings.NewReplacer("ADDR", addr, "TOPIC", topic, "OPTS", tc.opts).Replace(script))
		if err := job.Wait(ctx); err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, out.String())
		}
		if n := job.SourceSubtasks()["cdc"]; n != 2 {
			t.Fatalf("%s: the source ran as %d subtasks, want 2", tc.name, n)
		}
		recs := consumeAll(t, addr, topic)
		records[tc.name] = len(recs)
		last := map[string]string{}
		for _, r := range recs {
			last[string(r.Key)] = string(r.Value)
		}
		for k := range keys {
			key := fmt.Sprintf(`{"id":%d}`, k)
			v, ok := last[key]
			switch {
			case k%2 == 0 && (!ok || v != ""):
				t.Errorf("%s: key %d: last record %q (present %v), want a tombstone", tc.name, k, v, ok)
			case k%2 == 1 && v != fmt.Sprintf(`{"id":%d,"v":2}`, k):
				t.Errorf("%s: key %d: last record %q, want v = 2", tc.name, k, v)
			}
		}
		if len(last) != keys {
			t.Errorf("%s: %d keys in the topic, want %d", tc.name, len(last), keys)
		}
	}
	// Unbuffered: +I, +U (its -U dropped), and a tombstone for each deleted key: 40 + 40 + 20.
	if records["unbuffered"] != 100 {
		t.Errorf("unbuffered: %d records, want 100", records["unbuffered"])
	}
	// Buffered over one flush: the last change of each key only.
	if records["buffered"] != keys {
		t.Errorf("buffered: %d records, want %d (one per key)", records["buffered"], keys)
	}
}
