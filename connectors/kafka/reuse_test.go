package kafka_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Source reuse: a self-join of one topic reads the topic once ('table.optimizer.reuse-source-enabled', on by
// default) and gives the same result as reading it twice.
func TestSourceReuseSelfJoin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, addr := startBroker(t)
	var vals []string
	for i := range 100 {
		vals = append(vals, fmt.Sprintf(`{"id":%d,"ref":%d}`, i, (i+1)%100))
	}
	produceValues(ctx, t, addr, "ev", vals)
	script := `SET 'execution.runtime-mode' = 'batch';
SET 'table.optimizer.reuse-source-enabled' = 'REUSE';
CREATE TABLE ev (id BIGINT, ref BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ev', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE out (n BIGINT, s BIGINT) WITH ('connector' = 'print');
INSERT INTO out SELECT COUNT(*), SUM(b.id) FROM ev AS a JOIN ev AS b ON a.ref = b.id WHERE a.id < 50;`
	for _, tc := range []struct {
		reuse  string
		rowsIn int64
	}{{"true", 100}, {"false", 200}} {
		var out lockedWriter
		job := startJob(ctx, t, &out, strings.NewReplacer("ADDR", addr, "REUSE", tc.reuse).Replace(script))
		if err := job.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		// a.id 0..49 join b.id = a.id+1: 50 rows, SUM(b.id) = 1 + ... + 50 = 1275.
		if !strings.Contains(out.String(), "+I[50, 1275]") {
			t.Errorf("reuse=%s: got %q, want +I[50, 1275]", tc.reuse, out.String())
		}
		if got := job.Metrics().RowsIn; got != tc.rowsIn {
			t.Errorf("reuse=%s: the job read %d rows, want %d", tc.reuse, got, tc.rowsIn)
		}
	}
}
