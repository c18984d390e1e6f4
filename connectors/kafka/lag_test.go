package kafka_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

// The Kafka source reports its lag (high watermark minus position) to the job's metrics: a job held back by
// its sink is behind by what it has not read yet, and a job that caught up is behind by nothing.
func TestSourceReportsLag(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, addr := startBroker(t)
	vals := make([]string, 1000)
	for i := range vals {
		vals[i] = fmt.Sprintf(`{"i":%d}`, i)
	}
	produceValues(ctx, t, addr, "lag", vals)
	pr, pw := io.Pipe() // the print sink blocks until the test reads its lines
	defer pr.Close()
	s, err := engine.NewSession(engine.Config{Stdout: pw, Stderr: io.Discard, Notice: io.Discard, TempDir: t.TempDir(),
		Options: map[string]string{"metrics.reporter.prom.port": "0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stmts, err := sql.ParseScript(fmt.Sprintf(`
CREATE TABLE src (i INT) WITH ('connector' = 'kafka', 'topic' = 'lag', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json', 'properties.max.poll.records' = '10');
CREATE TABLE out_t (i INT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT i FROM src;`, addr))
	if err != nil {
		t.Fatal(err)
	}
	var job *engine.Job
	for _, st := range stmts {
		res, err := s.Execute(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		job = res.Job
	}
	defer job.Cancel()
	lines := bufio.NewScanner(pr)
	read := func(n int) {
		for k := 0; k < n; k++ {
			if !lines.Scan() {
				t.Fatalf("print sink ended after %d lines", k)
			}
		}
	}
	scanOp := func(m engine.JobMetrics) engine.OperatorMetrics {
		for _, o := range m.Operators {
			if o.Name == "TableSourceScan[1]" {
				return o
			}
		}
		t.Fatalf("no source operator in %+v", m.Operators)
		return engine.OperatorMetrics{}
	}
	// The first poll's rows: once they are written, the source notes its lag and blocks in its next push.
	read(10)
	deadline := time.Now().Add(10 * time.Second)
	m := job.Metrics()
	for m.Lag < 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		m = job.Metrics()
	}
	if m.Lag < 900 || m.Lag > 990 {
		t.Fatalf("lag after the first poll = %d, want 990 (at most two polls read of 1000 records)", m.Lag)
	}
	if o := scanOp(m); o.Lag != m.Lag || o.LagMax != m.Lag {
		t.Fatalf("source lag %d, lag max %d; job lag %d (one partition: all equal)", o.Lag, o.LagMax, m.Lag)
	}
	// The Prometheus endpoint serves the same lag under Flink's Kafka source metric names.
	resp, err := http.Get("http://" + s.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	labels := `{job_id="` + job.ID() + `",job_name="insert_into_out_t",operator_id="1",operator_name="TableSourceScan_1_",subtask_index="0"} `
	for _, name := range []string{"KafkaSourceReader_KafkaConsumer_records_lag_max", "pendingRecords"} {
		sample := "flink_taskmanager_job_task_operator_" + name + labels + strconv.FormatInt(m.Lag, 10) + "\n"
		if !strings.Contains(string(body), sample) {
			t.Fatalf("no %q in the scrape:\n%s", sample, body)
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	for time.Now().Before(deadline) {
		if m = job.Metrics(); m.RowsIn == 1000 && m.Lag == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("after reading everything: rows in %d, lag %d; want 1000 and 0", m.RowsIn, m.Lag)
}
