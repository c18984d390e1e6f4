package sluice_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicesql/sluice"
)

// The Go API's Job.Metrics has each operator's exact counts of a bounded job, and an engine opened with
// 'metrics.reporter.prom.port' serves its Prometheus endpoint until Close.
func TestJobMetricsAPI(t *testing.T) {
	ctx := ctxFor(t)
	eng := open(t, sluice.WithOption("metrics.reporter.prom.port", "0"), sluice.WithOutput(io.Discard, io.Discard))
	addr := eng.MetricsAddr()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("MetricsAddr %q", addr)
	}
	if err := eng.Exec(ctx, `
		CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '40', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '40');
		CREATE TABLE hole (id BIGINT) WITH ('connector' = 'blackhole')`); err != nil {
		t.Fatal(err)
	}
	job, err := eng.Execute(ctx, "INSERT INTO hole SELECT id FROM src WHERE id > 30")
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	m := job.Metrics()
	if m.RowsIn != 40 || m.RowsOut != 10 || len(m.Operators) != 3 {
		t.Fatalf("metrics %+v", m)
	}
	if o := m.Operators[1]; o.Name != "Calc[2]" || o.RecordsIn != 40 || o.RecordsOut != 10 || o.InputWatermark != sluice.NoWatermark {
		t.Fatalf("Calc: %+v", o)
	}
	if job.Name() != "insert-into_hole" {
		t.Fatalf("job name %q", job.Name())
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eng.Close()
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Fatal("the endpoint answers after Close")
	}
}
