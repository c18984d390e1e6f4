package kafka_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sluicesql/sluice/engine"
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
	job := startJob(ctx, t, pw, fmt.Sprintf(`
CREATE TABLE src (i INT) WITH ('connector' = 'kafka', 'topic' = 'lag', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json', 'properties.max.poll.records' = '10');
CREATE TABLE out_t (i INT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT i FROM src;`, addr))
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
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	for time.Now().Before(deadline) {
		if m = job.Metrics(); m.RowsIn == 1000 && m.Lag == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("after reading everything: rows in %d, lag %d; want 1000 and 0", m.RowsIn, m.Lag)
}
