package kafka_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Projection pushdown: a query reading bid.price makes the json value format skip person without
// materializing it, as Flink's projected JSON deserializer does: a value of the wrong type in an unread
// member does not fail the query, while a query that reads that member fails on it.
func TestProjectionPushdownJSON(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, addr := startBroker(t)
	produceValues(ctx, t, addr, "ev", []string{
		`{"event_type":2,"person":{"id":"oops","name":"x"},"bid":{"price":7,"url":"u"}}`,
		`{"event_type":2,"person":null,"bid":{"price":9,"url":"v"}}`,
	})
	script := `SET 'execution.runtime-mode' = 'batch';
CREATE TABLE ev (event_type INT, person ROW<id BIGINT, name STRING>, bid ROW<price BIGINT, url STRING>) WITH (
  'connector' = 'kafka', 'topic' = 'ev', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE out (v STRING) WITH ('connector' = 'print');
INSERT INTO out SELECT CAST(SELECTED AS STRING) FROM ev;`
	run := func(selected string) (string, error) {
		var out lockedWriter
		job := startJob(ctx, t, &out, strings.NewReplacer("ADDR", addr, "SELECTED", selected).Replace(script))
		err := job.Wait(ctx)
		return out.String(), err
	}
	got, err := run("bid.price")
	if err != nil {
		t.Fatalf("reading bid.price: %v\n%s", err, got)
	}
	if !strings.Contains(got, "+I[7]") || !strings.Contains(got, "+I[9]") {
		t.Fatalf("reading bid.price: got %q, want +I[7] and +I[9]", got)
	}
	if _, err := run("person.id"); err == nil || !strings.Contains(err.Error(), "person.id") {
		t.Fatalf("reading person.id: got %v, want an error about field person.id", err)
	}
}
