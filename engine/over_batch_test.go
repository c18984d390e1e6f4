package engine

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A batch OVER ordered by its time column runs the sorting operator (NULL times kept, testdata/over); a
// batch savepoint, whose state a streaming run would restore, is refused for it, so no run needs the
// streaming operator's state from a batch run: the INSERT fails with the refusal and names the operator.
func TestOverBatchSavepointRefused(t *testing.T) {
	var out bytes.Buffer
	s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	script := fmt.Sprintf(`SET 'execution.runtime-mode' = 'batch';
SET 'sluice.batch.savepoint-dir' = '%s';
CREATE TABLE ev (id BIGINT, v BIGINT, ts AS TO_TIMESTAMP(FROM_UNIXTIME(id * 60)),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'number-of-rows' = '8', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1',
  'fields.id.end' = '8');
CREATE TABLE sink (id BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT id, SUM(v) OVER (ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM ev;
`, t.TempDir())
	res := execAll(ctx, t, s, script)
	if err := s.WaitJobs(ctx); err != nil {
		res += "job error: " + errText(err) + "\n"
	}
	if !strings.Contains(res, "OverAggregate") || !strings.Contains(res, "whose state a batch run cannot write yet") {
		t.Fatalf("a batch savepoint over an OVER aggregate: want the refusal naming OverAggregate, got:\n%s", res)
	}
}
